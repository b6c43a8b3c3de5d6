"""``GET /v1/metrics`` on SQLite: the shared statements, in one snapshot, on two threads.

Once the totals are read the statements are independent, so a second
reader thread (:class:`SpareReader`) takes them as they come, when it is
free.  Both must read the same commit: the spare thread takes the write
lock (``BEGIN IMMEDIATE``, held for the moment it takes both threads to
start their read transactions, while no commit can happen), so the two
snapshots are the same one.  Writers wait that moment; the statements
themselves never hold the lock.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from ..._metrics import MetricsQuery
from .._metrics_sql import SQLITE, MetricsPlan, Rows, Statement
from .._reports import Report, drive
from ._threads import SpareReader

__all__ = ["metrics", "report"]

_TOUCH = "SELECT 1 FROM sqlite_master LIMIT 1"  # a read: it starts the snapshot
_MEET = 5.0  # seconds either thread waits for the other at the start, before going alone
_POLL = 0.1  # seconds between looks at whether the spare thread is still there
_Pending = collections.deque[tuple[str, Statement]]

log = logging.getLogger("agentsight.server.storage")


class _Partner:
    """What the request's thread and the spare thread tell each other."""

    def __init__(self) -> None:
        self.ready = threading.Event()  # the spare thread has begun, or given up (`joined`)
        self.begun = threading.Event()  # the request's thread has begun (or gone alone)
        self.joined = False
        self.abandoned = False
        self.late = False  # the spare let the lock go before the request's thread began
        self._guard = threading.Lock()
        self.ran = 0  # statements the spare thread ran
        self.running: concurrent.futures.Future[None] | None = None
        self.work: queue.SimpleQueue[tuple[_Pending, dict[str, Rows]] | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

    def spare_side(self, reader: sqlite3.Connection, lock: sqlite3.Connection) -> None:
        """The spare thread: begin under the write lock, then take statements as they come.
        Whatever fails before it has joined only sends the request on alone."""
        try:
            if self.abandoned or not self._join(reader, lock):
                return
        finally:
            self.ready.set()
        try:
            while (item := self.work.get()) is not None:
                try:
                    self.ran += _drain(reader, *item)
                    self.done.put(None)
                except Exception as exc:
                    item[0].clear()
                    self.done.put(exc)
        finally:
            reader.execute("COMMIT")

    def _join(self, reader: sqlite3.Connection, lock: sqlite3.Connection) -> bool:
        try:
            lock.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:  # a long write elsewhere: the request goes alone
            log.debug("a metrics request reads alone: %s", exc)
            return False
        try:
            reader.execute("BEGIN")
            reader.execute(_TOUCH).fetchall()
            self.joined = True
            self.ready.set()
            self.begun.wait(_MEET)
            with self._guard:
                self.late = not self.begun.is_set()
        except sqlite3.Error as exc:
            log.warning("a metrics request reads alone: the spare reader failed: %s", exc)
            if reader.in_transaction:
                reader.execute("ROLLBACK")
            return False
        finally:
            lock.execute("ROLLBACK")
        return True

    def confirm(self) -> bool:
        """Called by the request's thread once it has begun: whether the spare still held
        the lock then (so both read the same commit)."""
        with self._guard:
            if self.late:
                return False
            self.begun.set()
            return True

    def wait(self) -> BaseException | None:
        """The spare thread's outcome of the statements it took: ``None`` or its error
        (also when the thread ended without taking them)."""
        while True:
            try:
                return self.done.get(timeout=_POLL)
            except queue.Empty:
                running = self.running
                if running is not None and running.done() and self.done.empty():
                    error = running.exception()
                    return error or RuntimeError("the spare reader stopped")


def metrics(
    connection: sqlite3.Connection,
    project_id: int,
    query: MetricsQuery,
    spare: SpareReader | None = None,
) -> dict[str, Any]:
    """Every figure of the project's metrics, read in one snapshot; with the *spare*
    reader's help when it is free."""
    plan = MetricsPlan(project_id, query, SQLITE)
    helper = _Partner()
    if spare is not None and spare.claim():
        try:
            helper.running = spare.submit(helper.spare_side)
        except BaseException:
            spare.release()
            raise
    try:
        partner = None
        if helper.running is not None and helper.ready.wait(_MEET) and helper.joined:
            partner = helper
        else:  # so that a spare thread starting late does not take the lock
            helper.abandoned = True
            helper.begun.set()
        connection.execute("BEGIN")
        try:
            if partner is not None:
                connection.execute(_TOUCH).fetchall()  # under the spare's lock, unless late
                if not partner.confirm():
                    partner = None
            totals = plan.combine(connection.execute(*plan.totals()).fetchall())
            rows = _fetch_all(connection, partner, plan.statements(totals))
            rows.update(_fetch_all(connection, partner, plan.later(rows)))
        finally:
            connection.execute("COMMIT")
    finally:
        if helper.running is not None:
            assert spare is not None
            helper.abandoned = True
            helper.begun.set()
            helper.work.put(None)
            try:
                _settle(helper.running)  # its transaction has ended: free for the next
            finally:
                spare.release()
                spare.statements += helper.ran
    return plan.assemble(totals, rows)


def _settle(running: concurrent.futures.Future[None]) -> None:
    """Wait for the spare thread's job; an error of its own is logged, not raised: the
    request has its answer (errors of the statements it ran were raised already)."""
    error = running.exception()
    if error is not None:
        log.warning("the spare reader failed: %s", error)


def _fetch_all(
    connection: sqlite3.Connection, partner: _Partner | None, statements: Mapping[str, Statement]
) -> dict[str, Rows]:
    """The rows of each of *statements*, by name; each thread takes the next one left
    until none is (the first ones are the longest)."""
    pending: _Pending = collections.deque(statements.items())
    rows: dict[str, Rows] = {}
    if partner is None or len(pending) < 2:
        _drain(connection, pending, rows)
        return rows
    partner.work.put((pending, rows))
    try:
        _drain(connection, pending, rows)
    except BaseException:
        pending.clear()
        partner.wait()
        raise
    error = partner.wait()
    if error is not None:
        raise error
    return rows


def _drain(connection: sqlite3.Connection, pending: _Pending, rows: dict[str, Rows]) -> int:
    """Run statements of *pending* until none is left; how many this thread ran."""
    ran = 0
    while True:
        try:
            name, (sql, params) = pending.popleft()
        except IndexError:
            return ran
        rows[name] = connection.execute(sql, params).fetchall()
        ran += 1


def report(connection: sqlite3.Connection, job: Report) -> dict[str, Any]:
    """The answer of *job*, its statements read in one transaction (one snapshot)."""

    def run(statements: list[Statement]) -> list[Rows]:
        return [connection.execute(sql, params).fetchall() for sql, params in statements]

    connection.execute("BEGIN")
    try:
        return drive(job, SQLITE, run)
    finally:
        connection.execute("COMMIT")
