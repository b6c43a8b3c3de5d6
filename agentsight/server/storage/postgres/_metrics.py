"""``GET /v1/metrics`` on PostgreSQL: the shared statements, in one read-only snapshot.

The statements of a request are independent once the totals are read, so
they run on two connections at once when the pool has one to spare: the
second joins the first one's snapshot (``pg_export_snapshot``), so every
figure still comes from the same state of the database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio

from ..._metrics import MetricsQuery
from .._metrics_sql import POSTGRES, MetricsPlan, Rows, Statement
from .._reports import Report

__all__ = ["metrics", "report"]

Spare = Callable[[], AbstractAsyncContextManager[Any]]


async def metrics(
    connection: Any, project_id: int, query: MetricsQuery, spare: Spare | None = None
) -> dict[str, Any]:
    """Every figure of the project's metrics (asyncpg *connection*).

    *spare*: an async context manager giving a second connection of the pool,
    or ``None`` when none is free; the statements then share the two.
    """
    plan = MetricsPlan(project_id, query, POSTGRES)
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        snapshot = None
        if spare is not None:
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
        totals = plan.combine(await connection.fetch(*_args(plan.totals())))
        async with _joined(spare, snapshot) as helper:
            connections = [connection] if helper is None else [connection, helper]
            rows = await _fetch_all(connections, plan.statements(totals))
            rows.update(await _fetch_all(connections, plan.later(rows)))
    return plan.assemble(totals, rows)


@contextlib.asynccontextmanager
async def _joined(spare: Spare | None, snapshot: str | None) -> AsyncIterator[Any]:
    """A second connection in *snapshot*, or ``None`` (no spare connection)."""
    if spare is None or snapshot is None:
        yield None
        return
    async with spare() as helper:
        if helper is None:
            yield None
            return
        async with helper.transaction(isolation="repeatable_read", readonly=True):
            # The first statement of the transaction, as PostgreSQL requires; the
            # snapshot's name comes from the server, never from a request.
            await helper.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            yield helper


async def _fetch_all(
    connections: list[Any], statements: Mapping[str, Statement]
) -> dict[str, Rows]:
    """The rows of each of *statements*, by name; each connection takes the next one
    left until none is (the first ones are the longest)."""
    pending = list(statements.items())
    pending.reverse()
    rows: dict[str, Rows] = {}

    async def work(connection: Any) -> None:
        while pending:
            name, statement = pending.pop()
            rows[name] = await connection.fetch(*_args(statement))

    if len(connections) == 1 or len(pending) < 2:
        await work(connections[0])
        return rows
    async with anyio.create_task_group() as group:
        for connection in connections:
            group.start_soon(work, connection)
    return rows


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
