"""Retention benchmark: what ingest pays while the collector deletes old conversations.

Each run starts a collector on a copy of one seeded database (a backlog of
conversations 400 days old, plus an ingest key), then a load generator in
its own process posts gzipped batches of 1,000 new events (those of
``ingest.py``), 4 requests in flight, and times each answer.  In a run
"with retention" the project keeps 30 days, so the collector's sweep (every
half second here, every 5 minutes by default) deletes the backlog in its
small transactions all through the run; "without", the same backlog stays.
Runs alternate (without, with, without, ...) on SQLite and, when a server
is given, on PostgreSQL.  Printed: ingest events/s, batch latency p50/p99,
and the old events deleted meanwhile; medians written to
``results/retention.json``.

    source .ci/postgres.sh   # optional: AGENTSIGHT_TEST_POSTGRES_URL=postgresql://...
    .venv/bin/python benchmarks/retention.py [--rounds 5] [--batches 150] [--backlog 600000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "retention.json"
DAY = 86_400_000_000
OLD_DAYS = 400
KEEP_DAYS = 30
SWEEP_EVERY = 0.5


# --- the collector under test ----------------------------------------------------------


def serve(db: str, port: int) -> None:
    """``agentsight serve`` with a sweep every SWEEP_EVERY seconds (run in a child process)."""
    from agentsight.server import ServerOptions
    from agentsight.server._run import serve as run

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    options = ServerOptions(retention_interval=SWEEP_EVERY)
    asyncio.run(run(db if "://" in db else Path(db), "127.0.0.1", port, options))


def _start(db: str) -> tuple[subprocess.Popen[str], str]:
    port = ingest._free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", db, "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "listening on" in line:
            return process, f"http://127.0.0.1:{port}"
    raise RuntimeError(f"collector did not start (exit {process.wait()})")


# --- the seeded database ------------------------------------------------------------------


async def _seed(db: str, backlog: int) -> str:
    """Fill *db* with *backlog* old events and an ingest key; return the key."""
    from agentsight._keys import generate_key, hash_key, redact
    from agentsight.server import ServerOptions, open_storage
    from agentsight.server._ingest._validate import Validator

    storage = await open_storage(db)
    try:
        key = generate_key()
        await storage.create_key("bench", hash_key(key), redact(key), scope="ingest")
        project_id = (await storage.list_projects())[0].id
        validator = Validator(ServerOptions())
        rng = random.Random(5)
        old = (time.time_ns() // 1000) - OLD_DAYS * DAY
        for number in range(backlog // ingest.EVENTS_PER_BATCH):
            body = json.loads(_plain(ingest._batch(rng, 0)))
            events = [validator.check_event(e) for e in body["events"]]
            for event in events:  # 400 days ago, each batch a little later
                event.timestamp = old + number * 1_000_000 + event.seq
            await storage.write_batch(project_id, events)
        return key
    finally:
        await storage.aclose()


def _plain(gzipped: bytes) -> bytes:
    import gzip

    return gzip.decompress(gzipped)


def _copy(seed: str, run: int, folder: Path, server: str) -> str:
    """A fresh copy of the seeded database for one run."""
    if "://" not in seed:
        target = folder / f"run-{run}.db"
        shutil.copy(seed, target)
        return str(target)
    name = f"agentsight_ret_{uuid.uuid4().hex[:10]}"
    asyncio.run(ingest._pg(server, f'CREATE DATABASE "{name}" TEMPLATE "{_name(seed)}"'))
    return f"{server.partition('?')[0].rpartition('/')[0]}/{name}"


def _name(url: str) -> str:
    return url.rpartition("/")[2].partition("?")[0]


async def _count_old(db: str) -> int:
    before = (time.time_ns() // 1000) - 200 * DAY
    sql = f"SELECT COUNT(*) FROM events WHERE ts < {before}"
    if "://" not in db:
        connection = sqlite3.connect(db)
        try:
            return int(connection.execute(sql).fetchone()[0])
        finally:
            connection.close()
    import asyncpg

    connection = await asyncpg.connect(db)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


async def _keep(db: str, days: int | None) -> None:
    from agentsight.server import open_storage

    storage = await open_storage(db)
    try:
        await storage.set_retention((await storage.list_projects())[0].id, days)
    finally:
        await storage.aclose()


# --- the load -------------------------------------------------------------------------


async def _post(url: str, key: str, bodies: list[bytes]) -> list[float]:
    import aiohttp

    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    queue = list(bodies)
    latencies: list[float] = []

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            async with session.post(f"{url}/v1/batch", data=body, headers=headers) as answer:
                result = await answer.json()
                if answer.status != 200 or result["accepted"] != ingest.EVENTS_PER_BATCH:
                    raise RuntimeError(f"{answer.status}: {result}")
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        await asyncio.gather(*(worker(session) for _ in range(4)))
    return latencies


def _generator(url: str, key: str, count: int, seed: int, ready: Any, go: Any, out: Any) -> None:
    rng = random.Random(seed)
    bodies = [ingest._batch(rng, seed * 10**9 + i * 10**6) for i in range(count)]
    ready.set()
    go.wait()
    started = time.perf_counter()
    latencies = asyncio.run(_post(url, key, bodies))
    out.put((time.perf_counter() - started, latencies))


def one_run(
    seed: str, key: str, run: int, retention: bool, args: Any, folder: Path
) -> dict[str, Any]:
    """One run: ingest figures, and how many old events the sweep deleted meanwhile."""
    db = _copy(seed, run, folder, args.pg)
    try:
        asyncio.run(_keep(db, KEEP_DAYS if retention else None))
        old_before = asyncio.run(_count_old(db))
        context = multiprocessing.get_context("spawn")
        ready, go, out = context.Event(), context.Event(), context.Queue()
        process, url = _start(db)
        try:
            worker = context.Process(
                target=_generator, args=(url, key, args.batches, run, ready, go, out)
            )
            worker.start()
            if not ready.wait(300):
                raise RuntimeError("the load generator did not get ready")
            time.sleep(SWEEP_EVERY + 1)  # the first sweep (half a second in) is under way
            old_at_start = asyncio.run(_count_old(db))
            go.set()
            elapsed, latencies = out.get(timeout=600)
            old_at_end = asyncio.run(_count_old(db))
            worker.join(60)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        latencies.sort()
        return {
            "events_per_s": args.batches * ingest.EVENTS_PER_BATCH / elapsed,
            "batch_p50_ms": 1000 * latencies[len(latencies) // 2],
            "batch_p99_ms": 1000 * latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)],
            "old_deleted_during_load": old_at_start - old_at_end,
            "old_deleted_before_load": old_before - old_at_start,
            "old_left_at_end": old_at_end,
            "seconds": elapsed,
        }
    finally:
        if "://" in db:
            ingest._drop(db, args.pg)


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(name: str) -> float:
        return round(statistics.median(r[name] for r in runs), 1)

    return {
        "median_events_per_s": round(median("events_per_s")),
        "median_batch_p50_ms": median("batch_p50_ms"),
        "median_batch_p99_ms": median("batch_p99_ms"),
        "median_old_events_deleted_during_load": round(median("old_deleted_during_load")),
        "min_old_events_left_at_end": min(r["old_left_at_end"] for r in runs),
        "runs": [{k: round(v, 1) for k, v in r.items()} for r in runs],
    }


def backend_figures(backend: str, args: Any, folder: Path) -> dict[str, Any]:
    """Seed once, then alternate runs without and with retention."""
    if backend == "sqlite":
        seed = str(folder / "seed.db")
    else:
        name = f"agentsight_ret_seed_{uuid.uuid4().hex[:8]}"
        asyncio.run(ingest._pg(args.pg, f'CREATE DATABASE "{name}"'))
        seed = f"{args.pg.partition('?')[0].rpartition('/')[0]}/{name}"
    try:
        started = time.perf_counter()
        key = asyncio.run(_seed(seed, args.backlog))
        if backend == "sqlite":  # one file to copy: the WAL folded into it
            connection = sqlite3.connect(seed)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.close()
        took = time.perf_counter() - started
        print(f"{backend}: seeded {args.backlog:,} old events in {took:.0f} s")
        runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for run in range(2 * args.rounds):
            retention = run % 2 == 1
            figures = one_run(seed, key, run, retention, args, folder)
            runs[retention].append(figures)
            print(
                f"  {backend:<8} {'with' if retention else 'without':<7} retention:"
                f" {figures['events_per_s']:>8,.0f} events/s, batch p50"
                f" {figures['batch_p50_ms']:6.1f} ms p99 {figures['batch_p99_ms']:6.1f} ms;"
                f" old events deleted meanwhile {figures['old_deleted_during_load']:>8,}"
                f" ({figures['old_left_at_end']:,} left)",
                flush=True,
            )
        return {"without_retention": _summary(runs[False]), "with_retention": _summary(runs[True])}
    finally:
        if backend == "postgres":
            ingest._drop(seed, args.pg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each kind")
    parser.add_argument("--batches", type=int, default=150, help="1,000-event batches per run")
    parser.add_argument("--backlog", type=int, default=600_000, help="old events to delete")
    parser.add_argument("--pg", default=os.environ.get("AGENTSIGHT_TEST_POSTGRES_URL", ""))
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    backends = ["sqlite", *(["postgres"] if args.pg else [])]
    scenarios = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            scenarios[backend] = backend_figures(backend, args, Path(folder))
    for backend, figures in scenarios.items():
        off, on = figures["without_retention"], figures["with_retention"]
        change = on["median_events_per_s"] / off["median_events_per_s"] - 1
        figures["ingest_change_with_retention"] = f"{100 * change:+.1f}%"
        print(
            f"{backend}: {off['median_events_per_s']:,} events/s without,"
            f" {on['median_events_per_s']:,} with retention deleting ({100 * change:+.1f}%);"
            f" batch p99 {off['median_batch_p99_ms']} ms without, {on['median_batch_p99_ms']} ms"
            f" with; {on['median_old_events_deleted_during_load']:,} old events deleted per run"
        )
    result = {
        "benchmark": "retention",
        "what": f"ingest into one collector (gzipped 1,000-event batches, {args.batches} per run, "
        "4 in flight from one load generator process) over a database holding "
        f"{args.backlog:,} events {OLD_DAYS} days old; 'with retention': the project keeps "
        f"{KEEP_DAYS} days and the sweep (every {SWEEP_EVERY} s) deletes them meanwhile in steps "
        "of about 2,000 events; runs alternate without/with; medians "
        f"of {args.rounds} runs each",
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, collector, load generator and PostgreSQL share it",
        "postgres_server": asyncio.run(ingest._describe(args.pg)) if args.pg else None,
        "date": time.strftime("%Y-%m-%d"),
        "scenarios": scenarios,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT.parent)}")


if __name__ == "__main__":
    main()
