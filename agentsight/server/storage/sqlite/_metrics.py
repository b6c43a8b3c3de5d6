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
_Pending = collections.deque[tuple[str, Statement]]


class _Partner:
    """What the request's thread and the spare thread tell each other."""

    def __init__(self) -> None:
        self.ready = threading.Event()  # the spare thread has begun, or given up (`joined`)
        self.begun = threading.Event()  # the request's thread has begun (or gone alone)
        self.joined = False
        self.abandoned = False
        self.work: queue.SimpleQueue[tuple[_Pending, dict[str, Rows]] | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

    def spare_side(self, reader: sqlite3.Connection, lock: sqlite3.Connection) -> None:
        """The spare thread: begin under the write lock, then take statements as they come."""
        if self.abandoned:
            self.ready.set()
            return
        try:
            lock.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:  # a long write elsewhere: the request goes alone
            self.ready.set()
            return
        try:
            reader.execute("BEGIN")
            reader.execute(_TOUCH).fetchall()
            self.joined = True
            self.ready.set()
            self.begun.wait(_MEET)
        except sqlite3.Error:
            if reader.in_transaction:
                reader.execute("ROLLBACK")
            self.ready.set()
            return
        finally:
            lock.execute("ROLLBACK")
        try:
            while (item := self.work.get()) is not None:
                try:
                    _drain(reader, *item)
                    self.done.put(None)
                except Exception as exc:
                    item[0].clear()
                    self.done.put(exc)
        finally:
            reader.execute("COMMIT")


def metrics(
    connection: sqlite3.Connection,
    project_id: int,
    query: MetricsQuery,
    spare: SpareReader | None = None,
) -> dict[str, Any]:
    """Every figure of the project's metrics, read in one snapshot; with the *spare*
    reader's help when it is free."""
    plan = MetricsPlan(project_id, query, SQLITE)
    helper, running = _Partner(), None
    if spare is not None and spare.claim():
        running = spare.submit(helper.spare_side)
    try:
        partner = None
        if running is not None and helper.ready.wait(_MEET) and helper.joined:
            partner = helper
        else:  # so that a spare thread starting late does not take the lock
            helper.abandoned = True
            helper.begun.set()
        connection.execute("BEGIN")
        try:
            if partner is not None:
                connection.execute(_TOUCH).fetchall()  # still under the spare's lock
                partner.begun.set()
            totals = plan.combine(connection.execute(*plan.totals()).fetchall())
            rows = _fetch_all(connection, partner, plan.statements(totals))
            rows.update(_fetch_all(connection, partner, plan.later(rows)))
        finally:
            connection.execute("COMMIT")
    finally:
        if running is not None:
            helper.abandoned = True
            helper.begun.set()
            helper.work.put(None)
            assert spare is not None
            try:
                running.result()  # the spare's transaction has ended: free for the next
            finally:
                spare.release()
    return plan.assemble(totals, rows)


def _fetch_all(
    connection: sqlite3.Connection, partner: _Partner | None, statements: Mapping[str, Statement]
) -> dict[str, Rows]:
    """The rows of each of *statements*, by name; each thread takes the next one left
    until none is (the first ones are the longest)."""
    pending: _Pending = collections.deque(statements.items())
    rows: dict[str, Rows] = {}
    shared = partner is not None and len(pending) > 1
    if shared:
        assert partner is not None
        partner.work.put((pending, rows))
    try:
        _drain(connection, pending, rows)
    except BaseException:
        pending.clear()
        raise
    finally:
        if shared:
            assert partner is not None
            error = partner.done.get()
    if shared and error is not None:
        raise error
    return rows


def _drain(connection: sqlite3.Connection, pending: _Pending, rows: dict[str, Rows]) -> None:
    while True:
        try:
            name, (sql, params) = pending.popleft()
        except IndexError:
            return
        rows[name] = connection.execute(sql, params).fetchall()


def report(connection: sqlite3.Connection, job: Report) -> dict[str, Any]:
    """The answer of *job*, its statements read in one transaction (one snapshot)."""

    def run(statements: list[Statement]) -> list[Rows]:
        return [connection.execute(sql, params).fetchall() for sql, params in statements]

    connection.execute("BEGIN")
    try:
        return drive(job, SQLITE, run)
    finally:
        connection.execute("COMMIT")
