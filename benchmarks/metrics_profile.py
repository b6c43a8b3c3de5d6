"""Where the time of the analytics goes, statement by statement, on a filled database.

    .venv/bin/python benchmarks/metrics_profile.py --sqlite FILE [--postgres URL] [--rounds 3]

Fill the database first with ``benchmarks/metrics.py --events N --sqlite-file
FILE`` (SQLite) or ``--keep-postgres`` (PostgreSQL, prints the URL of the
database it keeps).  This script then times, on the database itself (no
HTTP), each statement of ``GET /v1/metrics`` as ``MetricsPlan`` writes it
(unfiltered in UTC, unfiltered in Europe/Berlin, with two filters, over
the last 30 days: the dashboard's default period, and the summary of the 30
days before them that the overview asks for next), the
reports (``/v1/customers``, ``/v1/metrics/unhandled``, ``/v1/filter-values``),
and conversation list pages (the first page with its total, a filtered page,
a sorted page, a later page): the median of *rounds* runs of each, in
seconds.  A list page's figure is also what one dashboard's live poll costs
the collector (the list polls page 1 every 5 s, a transcript every 3 s).
Results go to benchmarks/results/metrics_profile.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agentsight import __version__
from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import ConversationQuery, open_storage
from agentsight.server.storage._metrics_sql import POSTGRES, SQLITE, Dialect, MetricsPlan
from agentsight.server.storage._reports import CustomersReport, UnhandledReport, ValuesReport

RESULTS = Path(__file__).parent / "results" / "metrics_profile.json"
QUERIES = {
    "all, UTC": MetricsQuery(),
    "all, Europe/Berlin": MetricsQuery(tz="Europe/Berlin"),
    "source=web, device=desktop, UTC": MetricsQuery(
        filters=ConversationQuery(source="web", device="desktop")
    ),
    "last 30 days, UTC": MetricsQuery(
        filters=ConversationQuery(since=int((time.time() - 30 * 86_400) * 1_000_000))
    ),
    # The overview's second request: the period before, for the changes.
    "summary of the 30 days before those, UTC": MetricsQuery(
        filters=ConversationQuery(
            since=int((time.time() - 60 * 86_400) * 1_000_000),
            until=int((time.time() - 30 * 86_400) * 1_000_000),
        ),
        summary=True,
    ),
}
PAGES = {
    "first page + total": ConversationQuery(limit=25, annotate=True, count=True),
    "source=web, language=de + total": ConversationQuery(
        limit=25, source="web", language="de", annotate=True, count=True
    ),
    "source=web, language=de, no total": ConversationQuery(
        limit=25, source="web", language="de", annotate=True
    ),
    "sorted by last activity, no total": ConversationQuery(
        limit=25, sort="last_activity", annotate=True
    ),
    "sorted by duration, no total": ConversationQuery(limit=25, sort="duration", annotate=True),
    "first page, no total": ConversationQuery(limit=25, annotate=True),
}

Run = Callable[[str, list[Any]], Awaitable[list[Any]]]


async def _median(rounds: int, job: Callable[[], Awaitable[Any]]) -> float:
    seconds = []
    for _ in range(rounds):
        begin = time.perf_counter()
        await job()
        seconds.append(time.perf_counter() - begin)
    return round(statistics.median(seconds), 3)


async def _timed(rounds: int, run: Run, statement: tuple[str, list[Any]]) -> float:
    sql, params = statement
    return await _median(rounds, lambda: run(sql, params))


async def _statements(run: Run, dialect: Dialect, project: int, rounds: int) -> dict[str, Any]:
    """Seconds of each statement of each metrics query."""
    out: dict[str, Any] = {}
    for name, query in QUERIES.items():
        plan = MetricsPlan(project, query, dialect)
        timings: dict[str, float] = {}
        timings["totals"] = await _timed(rounds, run, plan.totals())
        totals = plan.combine(await run(*plan.totals()))
        rows = {}
        for part, statement in plan.statements(totals).items():
            timings[part] = await _timed(rounds, run, statement)
            rows[part] = await run(*statement)
        tools = rows["tools"]
        after = getattr(plan, "later", None)  # older revisions: the percentiles only
        later = after(rows) if after else {"tool_percentiles": plan.tool_percentiles(tools)}
        for part, statement in later.items():
            if statement is not None:
                timings[part] = await _timed(rounds, run, statement)
        timings["sum"] = round(sum(timings.values()), 3)
        out[name] = timings
        print(f"  {name}: {json.dumps(timings)}", flush=True)
    return out


async def _storage_calls(db: str | Path, project: int, rounds: int) -> dict[str, Any]:
    """Seconds of the reports and list pages through the storage interface."""
    storage = await open_storage(db)
    out: dict[str, Any] = {}
    try:
        jobs: dict[str, Callable[[], Awaitable[Any]]] = {
            "metrics (all statements), all, UTC": lambda: storage.metrics(project, MetricsQuery()),
            "customers, by last seen": lambda: storage.report(
                CustomersReport(project, MetricsQuery())
            ),
            "unhandled": lambda: storage.report(UnhandledReport(project, MetricsQuery())),
            "filter values": lambda: storage.report(ValuesReport(project)),
        }
        for name, page in PAGES.items():
            jobs[f"list: {name}"] = lambda q=page: storage.list_conversations(project, q)  # type: ignore[misc]
        first = await storage.list_conversations(project, ConversationQuery(limit=25))
        later = ConversationQuery(limit=25, before=first.next_before, annotate=True)
        jobs["list: second page"] = lambda: storage.list_conversations(project, later)
        for name, job in jobs.items():
            out[name] = await _median(rounds, job)
            print(f"  {name}: {out[name]:.3f} s", flush=True)
    finally:
        await storage.aclose()
    return out


def _project_sqlite(path: Path) -> int:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT id FROM projects WHERE name = 'bench'").fetchone()
        return int(row[0])
    finally:
        connection.close()


async def profile_sqlite(path: Path, rounds: int) -> dict[str, Any]:
    project = _project_sqlite(path)
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    counts = connection.execute(
        "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM conversations)"
    ).fetchone()

    async def run(sql: str, params: list[Any]) -> list[Any]:
        return connection.execute(sql, params).fetchall()

    try:
        statements = await _statements(run, SQLITE, project, rounds)
    finally:
        connection.close()
    calls = await _storage_calls(path, project, rounds)
    return {
        "events": counts[0],
        "conversations": counts[1],
        "statements": statements,
        "calls": calls,
    }


async def profile_postgres(url: str, rounds: int) -> dict[str, Any]:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        project = int(await connection.fetchval("SELECT id FROM projects WHERE name = 'bench'"))
        counts = await connection.fetchrow(
            "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM conversations)"
        )

        async def run(sql: str, params: list[Any]) -> list[Any]:
            return list(await connection.fetch(sql, *params))

        statements = await _statements(run, POSTGRES, project, rounds)
    finally:
        await connection.close()
    calls = await _storage_calls(url, project, rounds)
    return {
        "events": counts[0],
        "conversations": counts[1],
        "statements": statements,
        "calls": calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", type=Path)
    parser.add_argument("--postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.sqlite:
        print("SQLite:", flush=True)
        results["sqlite"] = asyncio.run(profile_sqlite(args.sqlite, args.rounds))
    if args.postgres:
        print("PostgreSQL:", flush=True)
        results["postgres"] = asyncio.run(profile_postgres(args.postgres, args.rounds))
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus,"
        f" Python {platform.python_version()}",
        "agentsight": __version__,
        "what": "median seconds per statement and per storage call, on the database directly",
        "rounds": args.rounds,
        "results": results,
    }
    if not args.no_write:
        existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"results": {}}
        document["results"] = {**existing.get("results", {}), **results}
        RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
