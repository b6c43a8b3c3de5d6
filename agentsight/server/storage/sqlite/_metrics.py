"""``GET /v1/metrics`` on SQLite: the shared statements, run on a reader thread."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..._metrics import MetricsQuery
from .._metrics_sql import SQLITE, MetricsPlan, Rows, Statement
from .._reports import Report, drive

__all__ = ["metrics", "report"]


def metrics(connection: sqlite3.Connection, project_id: int, query: MetricsQuery) -> dict[str, Any]:
    """Every figure of the project's metrics, read in one transaction (one snapshot)."""
    plan = MetricsPlan(project_id, query, SQLITE)
    connection.execute("BEGIN")
    try:
        totals = plan.combine(connection.execute(*plan.totals()).fetchall())
        rows = {
            name: connection.execute(sql, params).fetchall()
            for name, (sql, params) in plan.statements(totals).items()
        }
        for name, statement in plan.later(rows).items():
            rows[name] = connection.execute(*statement).fetchall()
    finally:
        connection.execute("COMMIT")
    return plan.assemble(totals, rows)


def report(connection: sqlite3.Connection, job: Report) -> dict[str, Any]:
    """The answer of *job*, its statements read in one transaction (one snapshot)."""

    def run(statements: list[Statement]) -> list[Rows]:
        return [connection.execute(sql, params).fetchall() for sql, params in statements]

    connection.execute("BEGIN")
    try:
        return drive(job, SQLITE, run)
    finally:
        connection.execute("COMMIT")
