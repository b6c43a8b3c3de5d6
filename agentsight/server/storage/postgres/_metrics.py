"""``GET /v1/metrics`` on PostgreSQL: the shared statements, in one read-only snapshot.

The statements of a request are independent once the totals are read, so
they run on two connections at once when the pool has one to spare: the
second joins the first one's snapshot (``pg_export_snapshot``), so every
figure still comes from the same state of the database.  The two connections
are then the request's parallelism: each runs its statements without
PostgreSQL's parallel workers (``SET LOCAL``, for the transaction only), which
on top of them outnumbered the cores and made the request slower
(``benchmarks/list_ab.py``; a request that reads alone keeps them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from ..._metrics import MetricsQuery
from .._metrics_sql import POSTGRES, MetricsPlan, Rows, Statement
from .._reports import Report
from ._errors import check_lost

__all__ = ["metrics", "report"]

log = logging.getLogger("agentsight.server.storage")

Spare = Callable[[], AbstractAsyncContextManager[Any]]
_SERIAL = "SET LOCAL max_parallel_workers_per_gather = 0"


async def metrics(
    connection: Any,
    project_id: int,
    query: MetricsQuery,
    spare: Spare | None = None,
    shared: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Every figure of the project's metrics (asyncpg *connection*).

    *spare*: an async context manager giving a second connection of the pool,
    or ``None`` when none is free; the statements then share the two.
    *shared* is told how many statements the second connection ran.
    """
    plan = MetricsPlan(project_id, query, POSTGRES)
    async with contextlib.AsyncExitStack() as stack:
        helper = None if spare is None else await stack.enter_async_context(spare())
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = None
            if helper is not None:
                snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            totals = plan.combine(await connection.fetch(*_args(plan.totals())))
            async with _joined(helper, snapshot) as joined:
                connections = [connection] if joined is None else [connection, joined]
                if joined is not None:  # (the helper's in _joined)
                    await connection.execute(_SERIAL)
                rows, helped = await _fetch_all(connections, plan.statements(totals))
                later, helped_later = await _fetch_all(connections, plan.later(rows))
                rows.update(later)
    if shared is not None:
        shared(helped + helped_later)
    return plan.assemble(totals, rows)


@contextlib.asynccontextmanager
async def _joined(helper: Any, snapshot: str | None) -> AsyncIterator[Any]:
    """*helper* in a transaction on *snapshot*, or ``None`` (no helper, or it could not
    join: the request then reads alone)."""
    if helper is None or snapshot is None:
        yield None
        return
    transaction = helper.transaction(isolation="repeatable_read", readonly=True)
    try:
        await transaction.start()
        # The first statement of the transaction, as PostgreSQL requires; the
        # snapshot's name comes from the server, never from a request.
        await helper.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        await helper.execute(_SERIAL)
    except Exception as exc:  # a stale pooled connection, say: the first one reads alone
        log.debug("a metrics request reads alone: %s", exc)
        with contextlib.suppress(Exception):
            await transaction.rollback()
        yield None
        return
    try:
        yield helper
    finally:
        try:
            await transaction.rollback()  # read only: nothing to commit
        except Exception as exc:  # its connection lost: what it read was read (the pool
            log.info("the second connection of a metrics request: %s", exc)  # resets it)


async def _fetch_all(
    connections: list[Any], statements: Mapping[str, Statement]
) -> tuple[dict[str, Rows], int]:
    """The rows of each of *statements*, by name, and how many the second connection
    ran; each connection takes the next one left until none is (the first ones are
    the longest).  The first error is raised as it is (``StorageUnavailable`` is
    told from it), after the other connection's statement has ended."""
    pending = list(statements.items())
    pending.reverse()
    rows: dict[str, Rows] = {}

    async def work(connection: Any) -> int:
        ran = 0
        try:
            while pending:
                name, statement = pending.pop()
                rows[name] = await connection.fetch(*_args(statement))
                ran += 1
        except BaseException as exc:
            pending.clear()
            check_lost(connection, exc)
            raise
        return ran

    if len(connections) == 1 or len(pending) < 2:
        await work(connections[0])
        return rows, 0
    done = await asyncio.gather(*(work(c) for c in connections), return_exceptions=True)
    counts = []
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
        counts.append(outcome)
    return rows, counts[1]


def _args(statement: tuple[str, list[Any]]) -> list[Any]:
    sql, params = statement
    return [sql, *params]


async def report(connection: Any, job: Report) -> dict[str, Any]:
    """The answer of *job* (asyncpg *connection*), read in one read-only snapshot."""
    steps = job.steps(POSTGRES)
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        statements = next(steps)
        while True:
            rows: list[Rows] = [await connection.fetch(*_args(s)) for s in statements]
            try:
                statements = steps.send(rows)
            except StopIteration as done:
                answer: dict[str, Any] = done.value
                return answer
