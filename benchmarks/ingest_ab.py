"""The write path of two commits of ours, in alternating runs: events per second stored.

    .venv/bin/python benchmarks/ingest_ab.py --baseline REV [--current REV]
        [--events 300000] [--rounds 5] [--postgres URL]

Each round fills a fresh database with ``metrics.py``'s support conversations
(seeded, the same events for both sides; ``write_batch`` in batches of 5,000
events, as the collector's writer stores them) once with each side's code,
in a child process of its own, which side goes first alternating.  A fill's
figure is events per second from the median seconds of its batches.  The
figures are the medians per side and the median of the per-round ratios
(current / baseline).  SQLite always; PostgreSQL when ``--postgres`` or
``AGENTSIGHT_TEST_POSTGRES_URL`` names a server (a fresh database per fill,
dropped after).  Written to ``results/ingest_ab.json`` and printed.
``--search-index``: the current side builds the search index in its empty
database first, so every message of its fill is indexed as it is stored
(``--baseline HEAD --current HEAD --search-index``: what the index costs).
``--live``: every conversation of a fill starts within the last hour, as a
running bot's batches do (nearly all of a batch then adds to the same rollup
rows), instead of over 90 days (nearly each conversation to rows of its own).
``--new-project`` (PostgreSQL only): each fill first stores ``--events`` in one
project, runs ANALYZE and turns autovacuum off for ``events`` and
``conversations`` (as on a large table, whose next ANALYZE is a tenth of it away),
then stores a quarter as many in a second project, which the statistics have not
seen; the figure is the second project's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ingest_ab.json"
sys.path.insert(0, str(HERE))

from metrics_ab import _checkout, _env, _short  # noqa: E402


async def _child(db: str) -> None:
    """In a child process: fill *db* with this side's code; print the figures."""
    from metrics import fill

    from agentsight.server import open_storage

    storage = await open_storage(Path(db) if "://" not in db else db)
    await storage.create_key("bench", "hash-bench", "ags_…_000000", scope="admin")
    found = await storage.find_key("hash-bench")
    assert found is not None
    if os.environ.get("INGEST_AB_SEARCH_INDEX") == "1":
        await storage.set_search_index(True)
    live = os.environ.get("INGEST_AB_LIVE") == "1"
    events = int(os.environ["INGEST_AB_EVENTS"])
    if os.environ.get("INGEST_AB_NEW_PROJECT") == "1":
        await fill(storage, found.project_id, events, live=live)
        async with storage.acquire() as connection:  # type: ignore[attr-defined]
            await connection.execute("ANALYZE events, conversations")
            for table in ("events", "conversations"):
                await connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
        await storage.create_key("new", "hash-new", "ags_…_000001", scope="admin")
        found = await storage.find_key("hash-new")
        assert found is not None
        events //= 4
    counts = await fill(storage, found.project_id, events, live=live)
    await storage.aclose()
    print(json.dumps({"events_per_s": round(1000 / counts["write_batch_ms_per_1000"])}))


async def _pg(server: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(server)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _fill(tree: Path | None, db: str, events: int, search: bool = False) -> int:
    env = {
        **_env(tree),
        "INGEST_AB_EVENTS": str(events),
        "INGEST_AB_SEARCH_INDEX": str(int(search)),
    }
    command = [sys.executable, __file__, "--child", db]
    # The child's stderr goes through: a failed fill says why.
    out = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return int(json.loads(out.strip().splitlines()[-1])["events_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="the commit to compare against")
    parser.add_argument("--current", help="the commit measured (default: this checkout)")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("AGENTSIGHT_TEST_POSTGRES_URL"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--search-index",
        action="store_true",
        help="the current side's databases have the search index (agentsight search-index)",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="conversations of the last hour, as a running bot's (default: over 90 days)",
    )
    parser.add_argument(
        "--new-project",
        action="store_true",
        help="PostgreSQL: a second project's fill, after an ANALYZE that saw only the first",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.live:
        os.environ["INGEST_AB_LIVE"] = "1"  # the children's fills
    if args.new_project:
        os.environ["INGEST_AB_NEW_PROJECT"] = "1"
    if args.child:
        asyncio.run(_child(args.child))
        return
    if not args.baseline:
        parser.error("--baseline: a commit is required")
    folder = Path(tempfile.mkdtemp(prefix="agentsight-ingest-ab-"))
    backends = [] if args.new_project else ["sqlite"]
    backends += ["postgres"] if args.postgres else []
    if not backends:
        parser.error("--new-project: a PostgreSQL server is required (--postgres)")
    rates: dict[str, dict[str, list[int]]] = {b: {"baseline": [], "current": []} for b in backends}
    try:
        trees: dict[str, Path | None] = {
            "baseline": _checkout(args.baseline, folder / "baseline"),
            "current": _checkout(args.current, folder / "current") if args.current else None,
        }
        for r in range(args.rounds):
            order = ["baseline", "current"] if r % 2 == 0 else ["current", "baseline"]
            for backend in backends:
                for side in order:
                    if backend == "sqlite":
                        db = str(folder / f"{side}-{r}.db")
                        search = args.search_index and side == "current"
                        rate = _fill(trees[side], db, args.events, search)
                        for suffix in ("", "-wal", "-shm"):
                            Path(db + suffix).unlink(missing_ok=True)
                    else:
                        name = f"ingest_ab_{os.getpid()}_{side}_{r}"
                        # A checkpoint first: the last fill's writes and the DROP of its
                        # database are not left to slow this fill down.
                        asyncio.run(_pg(args.postgres, "CHECKPOINT", f'CREATE DATABASE "{name}"'))
                        try:
                            url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
                            search = args.search_index and side == "current"
                            rate = _fill(trees[side], url, args.events, search)
                        finally:
                            asyncio.run(_pg(args.postgres, f'DROP DATABASE "{name}"'))
                    rates[backend][side].append(rate)
                    print(f"  round {r + 1} {backend:8} {side:8} {rate:,} events/s", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    summary: dict[str, Any] = {}
    for backend, by_side in rates.items():
        base, cur = by_side["baseline"], by_side["current"]
        summary[backend] = {
            "baseline_median_events_per_s": statistics.median(base),
            "current_median_events_per_s": statistics.median(cur),
            "current_vs_baseline": round(
                statistics.median(c / b for c, b in zip(cur, base, strict=True)), 3
            ),
            "rounds": {"baseline": base, "current": cur},
        }
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus,"
        f" Python {platform.python_version()}",
        "baseline": _short(args.baseline),
        "current": _short(args.current or "HEAD") + ("" if args.current else " (checkout)"),
        "events_per_fill": args.events,
        "current_has_the_search_index": args.search_index,
        "live": args.live,
        "new_project": args.new_project,
        "rounds": args.rounds,
        "what": "events per second stored by write_batch (batches of 5,000), alternating fills",
        "results": summary,
    }
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
