"""The list pages and reports of two commits of ours on the same filled database, alternately.

    .venv/bin/python benchmarks/list_ab.py --baseline REV --sqlite FILE [--postgres URL]
        [--rounds 5] [--results FILE] [--metrics]

``--metrics`` times ``GET /v1/metrics`` instead (``Storage.metrics``, the
queries of ``METRICS``), written to ``results/metrics_ab_10m.json`` unless
``--results`` names another file.

Fill the database first with ``benchmarks/metrics.py --events N --sqlite-file
FILE`` (or ``--keep-postgres``) using this checkout.  The baseline side reads
a copy taken back to the baseline's schema: a copy of the file (PostgreSQL: a
database made from it as a template) without the indexes that the baseline's
own migrations do not create, and with the baseline's schema version, so
neither side reads an index the other lacks.  SQLite plans without statistics,
as the collector leaves a file (it never runs ``ANALYZE``; a file that has
``sqlite_stat1`` rows keeps them on both sides); PostgreSQL's two databases
are both vacuumed and analysed first.  A migration since the baseline
that made anything but indexes stops the script (it cannot take that back),
unless the filled database is still at the baseline's schema: then the
baseline reads a plain copy, and the current side's migrations upgrade the
database itself (a backup is the caller's).
Each round starts one process per side, which goes first alternating, and
times every page once through ``Storage.list_conversations``, and the
pick-lists (``GET /v1/filter-values``), the unhandled messages and the
customers page through ``Storage.report``; the figures are
each side's medians and the median of the per-round ratios (current /
baseline).  Written to ``results/list_ab.json`` (``--results`` names another
file) and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from metrics_ab import _checkout, _env, _short  # noqa: E402

RESULTS = HERE / "results" / "list_ab.json"
DAY = 86_400_000_000

#: The pages timed: ConversationQuery's fields (``since_days``: the last N days).
PAGES: dict[str, dict[str, Any]] = {
    "first page + total": {"count": True},
    "source=web + total": {"source": "web", "count": True},
    "source=web, language=de + total": {"source": "web", "language": "de", "count": True},
    "last 30 days, device=mobile + total": {"since_days": 30, "device": "mobile", "count": True},
    "sorted by duration": {"sort": "duration"},
    "sorted by duration, ascending": {"sort": "duration", "ascending": True},
    "sorted by messages": {"sort": "messages"},
    "source=web, sorted by duration": {"source": "web", "sort": "duration"},
    "sorted by duration, fifth page": {"sort": "duration", "pages": 4},
    "sorted by last activity, fifth page": {"sort": "last_activity", "pages": 4},
    "a customer, sorted by duration": {"customer_id": "user-7", "sort": "duration"},
    "source=web, device=mobile (none), sorted by messages": {
        "source": "web",
        "device": "mobile",
        "sort": "messages",
    },
    # Score filters (none of them in the rollups): few matches (the lowest
    # helpfulness: 0.1 % of the conversations), none, and many (resolved: no);
    # a category no score has (resolved: maybe).
    "helpfulness <= 0.005": {"score": "helpfulness", "score_max": 0.005},
    "helpfulness <= 0.005 + total": {"score": "helpfulness", "score_max": 0.005, "count": True},
    "helpfulness <= 0.005, sorted by duration": {
        "score": "helpfulness",
        "score_max": 0.005,
        "sort": "duration",
    },
    "helpfulness >= 4 (none)": {"score": "helpfulness", "score_min": 4},
    "resolved=false": {"score": "resolved", "score_value": "false"},
    "resolved=false + total": {"score": "resolved", "score_value": "false", "count": True},
    "resolved=false, source=web + total": {
        "score": "resolved",
        "score_value": "false",
        "source": "web",
        "count": True,
    },
    "resolved=maybe (none)": {"score": "resolved", "score_value": "maybe"},
    "resolved=maybe (none) + total": {"score": "resolved", "score_value": "maybe", "count": True},
    # Feedback, marks and text, which the rollups do not serve: a sentiment (2.5 % of
    # the conversations: more than a probe reads, so the page walks); a mark, which the
    # fill sets on nothing: `benchmarks/README.md` says how the 20,000 first created
    # were marked for the figures quoted (far back in the newest first: a page's walk
    # stops and reads them by index; at the start of the oldest first), and its
    # opposite; a word in every conversation and one in none.
    "sentiment=negative": {"sentiment": "negative"},
    "sentiment=negative + total": {"sentiment": "negative", "count": True},
    "sentiment=negative, source=web + total": {
        "sentiment": "negative",
        "source": "web",
        "count": True,
    },
    "sentiment=negative, sorted by duration": {"sentiment": "negative", "sort": "duration"},
    "is_marked=true": {"is_marked": True},
    "is_marked=true + total": {"is_marked": True, "count": True},
    "is_marked=true, oldest first": {"is_marked": True, "ascending": True},
    "is_marked=true, sorted by duration": {"is_marked": True, "sort": "duration"},
    "is_marked=false + total": {"is_marked": False, "count": True},
    # Text (``q``), with the search index on the current side when the database has it
    # (``agentsight search-index enable``; the baseline's code walks): a word of every
    # conversation, the fill's topics from the most common to the rarest (``TOPICS`` in
    # metrics.py), a word in none, and two letters (no trigram: walked on both sides).
    "q=order": {"q": "order"},
    "q=order + total": {"q": "order", "count": True},
    "q=refund": {"q": "refund"},
    "q=refund + total": {"q": "refund", "count": True},
    "q=refund, source=web + total": {"q": "refund", "source": "web", "count": True},
    "q=invoice": {"q": "invoice"},
    "q=invoice + total": {"q": "invoice", "count": True},
    "q=invoice, sorted by duration": {"q": "invoice", "sort": "duration"},
    "q=warranty": {"q": "warranty"},
    "q=warranty + total": {"q": "warranty", "count": True},
    "q=chargeback": {"q": "chargeback"},
    "q=chargeback + total": {"q": "chargeback", "count": True},
    "q=Where is my order? (every user message)": {"q": "Where is my order?"},
    "q=zzqx (none)": {"q": "zzqx"},
    "q=zzqx (none) + total": {"q": "zzqx", "count": True},
    "q=ka (two letters)": {"q": "ka"},
}


#: The metrics queries timed with ``--metrics``: ConversationQuery's fields and the zone.
METRICS: dict[str, dict[str, Any]] = {
    "all, UTC": {},
    "all, Europe/Berlin": {"tz": "Europe/Berlin"},
    "last 30 days, UTC": {"since_days": 30},
    "last 7 days, America/New_York": {"since_days": 7, "tz": "America/New_York"},
    "source=web, device=desktop, UTC": {"source": "web", "device": "desktop"},
    "source=web, device=desktop, Europe/Berlin": {
        "source": "web",
        "device": "desktop",
        "tz": "Europe/Berlin",
    },
    "language=de, last 30 days, UTC": {"language": "de", "since_days": 30},
}


def _child(tree: Path | None, *args: str) -> str:
    """Run this script's child mode *args* with the code of *tree*; its standard output."""
    return subprocess.run(
        [sys.executable, __file__, *args],
        env=_env(tree),
        check=True,
        capture_output=True,
        text=True,
    ).stdout


async def _child_schema(db: str) -> None:
    """In a child process: make an empty database at this code's schema; print what it holds."""
    from agentsight.server import open_storage

    storage = await open_storage(db)
    await storage.aclose()
    if db.startswith("postgresql://"):
        import asyncpg

        connection = await asyncpg.connect(db)
        try:
            rows = await connection.fetch(
                "SELECT c.relname, c.relkind::text AS relkind, pg_get_indexdef(c.oid) AS sql"
                " FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            )
            objects = [
                (r["relname"], "index" if r["relkind"] == "i" else "other", r["sql"]) for r in rows
            ]
            version = await connection.fetchval("SELECT MAX(version) FROM schema_version")
        finally:
            await connection.close()
    else:
        connection = sqlite3.connect(db)
        try:
            objects = [
                (name, "index" if kind == "index" else "other", sql)
                for name, kind, sql in connection.execute(
                    "SELECT name, type, sql FROM sqlite_master"
                )
            ]
            version = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        finally:
            connection.close()
    print(json.dumps({"objects": objects, "version": version}), flush=True)


@contextlib.asynccontextmanager
async def _bench(db: str) -> AsyncIterator[tuple[Any, int]]:
    """The storage at *db*, warmed up, and the id of its project ``bench``."""
    from agentsight.server import open_storage
    from agentsight.server.storage import ConversationQuery

    storage = await open_storage(db)
    try:
        projects = {p.name: p.id for p in await storage.list_projects()}
        await storage.list_conversations(projects["bench"], ConversationQuery(limit=1))
        yield storage, projects["bench"]
    finally:
        await storage.aclose()


async def _child_pages(db: str) -> None:
    """In a child process: time each page of ``PAGES`` once; print the seconds as JSON."""
    import attrs

    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage import ConversationQuery
    from agentsight.server.storage._reports import CustomersReport, UnhandledReport, ValuesReport

    now = int(time.time() * 1_000_000)
    seconds: dict[str, float] = {}
    async with _bench(db) as (storage, project):
        only = os.environ.get("LIST_AB_ONLY")
        for name, fields in PAGES.items():
            if only is not None and only not in name:
                continue
            fields = dict(fields)
            earlier = fields.pop("pages", 0)
            if "since_days" in fields:
                fields["since"] = now - fields.pop("since_days") * DAY
            query = ConversationQuery(limit=25, annotate=True, **fields)
            for _ in range(earlier):  # the pages before it, untimed, for its cursor
                page = await storage.list_conversations(project, query)
                query = attrs.evolve(query, before=page.next_before, after=page.next_value)
            begin = time.perf_counter()
            await storage.list_conversations(project, query)
            seconds[name] = time.perf_counter() - begin
        # The list's pick-lists, loaded with it, and the pages of the reports.
        reports = (
            {}
            if only is not None
            else {
                "filter values (pick-lists)": ValuesReport(project),
                "unhandled": UnhandledReport(project, MetricsQuery()),
                "unhandled, source=web, device=desktop": UnhandledReport(
                    project, MetricsQuery(ConversationQuery(source="web", device="desktop"))
                ),
                "unhandled, a customer": UnhandledReport(
                    project, MetricsQuery(ConversationQuery(customer_id="user-7"))
                ),
                "customers, by last seen": CustomersReport(project, MetricsQuery()),
            }
        )
        for name, report in reports.items():
            begin = time.perf_counter()
            await storage.report(report)
            seconds[name] = time.perf_counter() - begin
    print(json.dumps(seconds), flush=True)


async def _child_metrics(db: str) -> None:
    """In a child process: time each query of ``METRICS`` once; print the seconds as JSON."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage import ConversationQuery

    now = int(time.time() * 1_000_000)
    seconds: dict[str, float] = {}
    async with _bench(db) as (storage, project):
        for name, fields in METRICS.items():
            fields = dict(fields)
            tz = fields.pop("tz", "UTC")
            if "since_days" in fields:
                fields["since"] = now - fields.pop("since_days") * DAY
            query = MetricsQuery(filters=ConversationQuery(**fields), tz=tz)
            begin = time.perf_counter()
            await storage.metrics(project, query)
            seconds[name] = time.perf_counter() - begin
    print(json.dumps(seconds), flush=True)


#: What ``--baseline-without-search-index`` runs on the baseline's copy.
_SEARCH_INDEX_DROPS = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS events_text_added",
        "DROP TRIGGER IF EXISTS events_text_removed",
        "DROP TRIGGER IF EXISTS events_text_changed",
        "DROP TABLE IF EXISTS events_text",
    ],
    "postgres": ["DROP INDEX IF EXISTS events_text"],
}


def _taken_back(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The statements that take a current database back to the baseline's schema: the
    indexes added since dropped, the indexes redefined since made as the baseline had them."""
    kept = {name: (kind, sql) for name, kind, sql in baseline["objects"]}
    added = [(name, kind) for name, kind, _ in current["objects"] if name not in kept]
    others = [name for name, kind in added if kind != "index"]
    if others:
        sys.exit(f"cannot take back what the migrations since the baseline made: {others}")
    statements = [f"DROP INDEX {name}" for name, _ in added]
    for name, kind, sql in current["objects"]:
        if kind == "index" and name in kept and sql and sql != kept[name][1]:
            statements += [f"DROP INDEX {name}", kept[name][1]]
    return [*statements, f"DELETE FROM schema_version WHERE version > {baseline['version']}"]


def _sqlite_copy(path: Path, into: Path, statements: list[str]) -> str:
    source = sqlite3.connect(path, isolation_level=None)
    try:
        source.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        source.close()
    shutil.copyfile(path, into)
    connection = sqlite3.connect(into, isolation_level=None)
    try:
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()
    return str(into)


async def _postgres_copy(url: str, statements: list[str]) -> str:
    import asyncpg

    base, _, name = url.rpartition("/")
    copy = f"{name}_list_ab_baseline"
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        await admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(f"{base}/{copy}")
    try:
        for statement in statements:
            await connection.execute(statement)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    await _analysed(url)  # the same state on both sides: fresh statistics and visibility map
    return f"{base}/{copy}"


def _stored_version(db: str) -> int:
    """The schema version of the filled database *db*."""
    sql = "SELECT MAX(version) FROM schema_version"
    if not db.startswith("postgresql://"):
        connection = sqlite3.connect(db)
        try:
            return int(connection.execute(sql).fetchone()[0])
        finally:
            connection.close()

    async def read() -> int:
        import asyncpg

        connection = await asyncpg.connect(db)
        try:
            return int(await connection.fetchval(sql))
        finally:
            await connection.close()

    return asyncio.run(read())


async def _analysed(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _drop_postgres(url: str) -> None:
    import asyncpg

    base, _, name = url.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await admin.close()


def _empty_schema(tree: Path | None, folder: Path, side: str, postgres: str | None) -> Any:
    if postgres is None:
        return json.loads(_child(tree, "--child-schema", str(folder / f"{side}-empty.db")))
    base, _, name = postgres.rpartition("/")
    empty = f"{base}/{name}_list_ab_{side}_empty"

    async def create() -> None:
        import asyncpg

        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}_list_ab_{side}_empty"')
            await admin.execute(f'CREATE DATABASE "{name}_list_ab_{side}_empty"')
        finally:
            await admin.close()

    asyncio.run(create())
    try:
        return json.loads(_child(tree, "--child-schema", empty))
    finally:
        asyncio.run(_drop_postgres(empty))


def _compare(
    trees: dict[str, Path | None], databases: dict[str, str], rounds: int, child: str
) -> dict[str, dict[str, list[float]]]:
    seconds: dict[str, dict[str, list[float]]] = {}
    for r in range(rounds):
        order = ["baseline", "current"] if r % 2 == 0 else ["current", "baseline"]
        for side in order:
            took = json.loads(_child(trees[side], child, databases[side]))
            for name, value in took.items():
                seconds.setdefault(name, {}).setdefault(side, []).append(value)
            print(
                f"  round {r + 1} {side:8} " + json.dumps({k: round(v, 4) for k, v in took.items()})
            )
    return seconds


def _summary(seconds: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, by_side in seconds.items():
        base, cur = by_side["baseline"], by_side["current"]
        summary[name] = {
            "baseline_median_s": round(statistics.median(base), 4),
            "current_median_s": round(statistics.median(cur), 4),
            "current_vs_baseline": round(
                statistics.median(c / b for c, b in zip(cur, base, strict=True)), 3
            ),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="the commit to compare against")
    parser.add_argument("--current", help="the commit measured (default: this checkout)")
    parser.add_argument("--sqlite", type=Path, help="a database filled by metrics.py")
    parser.add_argument("--postgres", help="the URL of a database filled by metrics.py")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--results", type=Path)
    parser.add_argument("--metrics", action="store_true", help="time GET /v1/metrics instead")
    parser.add_argument(
        "--baseline-without-search-index",
        action="store_true",
        help="drop the search index in the baseline's copy (PostgreSQL's planner would"
        " use it for the baseline's code too)",
    )
    parser.add_argument(
        "--only", help="time only the pages whose name holds this text (no reports)"
    )
    parser.add_argument("--child-schema", help=argparse.SUPPRESS)
    parser.add_argument("--child-pages", help=argparse.SUPPRESS)
    parser.add_argument("--child-metrics", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_schema:
        asyncio.run(_child_schema(args.child_schema))
        return
    if args.child_pages:
        asyncio.run(_child_pages(args.child_pages))
        return
    if args.child_metrics:
        asyncio.run(_child_metrics(args.child_metrics))
        return
    if args.results is None:
        args.results = RESULTS.with_name("metrics_ab_10m.json") if args.metrics else RESULTS
    child = "--child-metrics" if args.metrics else "--child-pages"
    if args.only is not None:
        os.environ["LIST_AB_ONLY"] = args.only  # the children's environment
    if not args.baseline:
        parser.error("--baseline: a commit is required")
    if not (args.sqlite or args.postgres):
        parser.error("--sqlite or --postgres: a filled database is required")

    folder = Path(
        tempfile.mkdtemp(prefix="agentsight-list-ab-", dir=args.sqlite and args.sqlite.parent)
    )
    # Each backend's results replace its own in the file as soon as they are in.
    existing = json.loads(args.results.read_text()) if args.results.exists() else {}
    results: dict[str, Any] = existing.get("results", {})
    try:
        trees: dict[str, Path | None] = {
            "baseline": _checkout(args.baseline, folder / "baseline"),
            "current": _checkout(args.current, folder / "current") if args.current else None,
        }
        for backend, target in (("sqlite", args.sqlite), ("postgres", args.postgres)):
            if target is None:
                continue
            url = None if backend == "sqlite" else str(target)
            schemas = {side: _empty_schema(tree, folder, side, url) for side, tree in trees.items()}
            # A database still at the baseline's schema is copied as it is, and the
            # current side's migrations then bring it to its own.
            upgrade = _stored_version(str(target)) == schemas["baseline"]["version"]
            statements = [] if upgrade else _taken_back(schemas["baseline"], schemas["current"])
            if args.baseline_without_search_index:
                statements += _SEARCH_INDEX_DROPS[backend]
            print(f"{backend}: the baseline's copy without: {statements}", flush=True)
            if url is None:
                copy = _sqlite_copy(target, folder / "baseline.db", statements)
            else:
                copy = asyncio.run(_postgres_copy(url, statements))
            if upgrade:
                print(f"{backend}: migrating the current side's database", flush=True)
                _child(trees["current"], "--child-schema", str(target))
                if url is not None:
                    asyncio.run(_analysed(url))
            try:
                databases = {"baseline": copy, "current": str(target)}
                results[backend] = _summary(_compare(trees, databases, args.rounds, child))
                args.results.write_text(json.dumps(_document(args, results), indent=2) + "\n")
            finally:
                if url is not None:
                    asyncio.run(_drop_postgres(copy))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(json.dumps(_document(args, results), indent=2))


def _document(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus,"
        f" Python {platform.python_version()}",
        "baseline": _short(args.baseline),
        "current": _short(args.current or "HEAD") + ("" if args.current else " (checkout)"),
        "what": (
            "seconds per GET /v1/metrics (Storage.metrics)"
            if args.metrics
            else "seconds per list page (25 rows, annotated) and report"
        )
        + ", medians of alternating rounds on the same data, and the median of per-round ratios",
        "rounds": args.rounds,
        "results": results,
    }


if __name__ == "__main__":
    main()
