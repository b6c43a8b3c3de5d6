"""``GET /v1/metrics`` on PostgreSQL: the shared statements, in one read-only snapshot."""

from __future__ import annotations

from typing import Any

from ..._metrics import MetricsQuery
from .._metrics_sql import POSTGRES, MetricsPlan, Rows
from .._reports import Report

__all__ = ["metrics", "report"]


async def metrics(connection: Any, project_id: int, query: MetricsQuery) -> dict[str, Any]:
    """Every figure of the project's metrics (asyncpg *connection*)."""
    plan = MetricsPlan(project_id, query, POSTGRES)
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        totals = plan.combine(await connection.fetch(*_args(plan.totals())))
        rows = {
            name: await connection.fetch(*_args(statement))
            for name, statement in plan.statements(totals).items()
        }
        for name, statement in plan.later(rows).items():
            rows[name] = await connection.fetch(*_args(statement))
    return plan.assemble(totals, rows)


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
