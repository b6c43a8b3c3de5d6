"""Ingest benchmark: events per second stored by the collector, on SQLite and on PostgreSQL.

Scenarios: one ``agentsight serve`` on SQLite, one on PostgreSQL, three on
one PostgreSQL.  A load generator in separate processes posts realistic
gzipped batches of 1,000 events (a mix of conversation starts, messages of
a few hundred characters, actions, buttons and token usage over 50
conversations) on loopback, a few requests in flight per process, round
robin over the collectors.  The batches are built and compressed before the
clock starts; the clock stops when every batch has been answered (answers
come only after the commit).  Each scenario runs several times on a fresh
database; the median is printed and written to ``results/ingest.json``.

    source .ci/postgres.sh   # or any server: AGENTSIGHT_TEST_POSTGRES_URL=postgresql://...
    .venv/bin/python benchmarks/ingest.py [--runs 5] [--batches 60]

The PostgreSQL server should be durable for figures that mean something:
``AGENTSIGHT_PG_DURABLE=1 source .ci/postgres.sh`` (the CI one runs without fsync).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from agentsight._encode import new_ids

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "ingest.json"
CLI = [sys.executable, "-m", "agentsight._cli"]
EVENTS_PER_BATCH = 1_000
_LISTENING = re.compile(r"listening on (http://\S+)")
_WORDS = ("refund", "order", "shipping", "invoice", "password", "account", "delivery", "help")


def _ts(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:06d}Z"


def _batch(rng: random.Random, start: int) -> bytes:
    """One gzipped wire batch of 1,000 events over 50 conversations."""
    events: list[dict[str, Any]] = []
    conversations = [f"bench-{uuid.uuid4().hex}" for _ in range(50)]
    now = 1_795_731_245_000_000 + start
    ids = new_ids(EVENTS_PER_BATCH)  # the SDK's own ids (UUIDv7: time first)
    for index in range(EVENTS_PER_BATCH):
        cid = conversations[index % 50]
        seq = index // 50
        base = {
            "id": ids[index],
            "conversation_id": cid,
            "seq": seq,
            "timestamp": _ts(now + index * 1000),
        }
        kind = (
            "conversation"
            if seq == 0
            else ("message", "message", "action", "button", "token_usage")[index % 5]
        )
        if kind == "conversation":
            base.update(
                type="conversation",
                customer_id=f"user-{rng.randrange(5000)}",
                customer_ip_address=None,
                device=rng.choice(["desktop", "mobile"]),
                source=rng.choice(["web", "telegram", "api"]),
                language="en",
                name=None,
                environment="production",
                metadata={"plan": "pro"},
                is_used=True,
            )
        elif kind == "message":
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(10, 60)))
            base.update(
                type="message",
                sender=rng.choice(["end_user", "agent"]),
                content=words,
                metadata={"model": "gpt-4o"},
                attachments=None,
                truncated=False,
            )
        elif kind == "action":
            base.update(
                type="action",
                action_name="db_lookup",
                started_at=base["timestamp"],
                ended_at=base["timestamp"],
                duration_ms=rng.randrange(5, 900),
                tools_used=["db"],
                response="found",
                error_msg=None,
                metadata=None,
            )
        elif kind == "button":
            base.update(type="button", button_event="rate", label="Good", value="up", metadata=None)
        else:
            prompt, completion = rng.randrange(10, 900), rng.randrange(10, 300)
            base.update(
                type="token_usage",
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                embedding_tokens=0,
            )
        events.append(base)
    body = {"schema": 1, "sent_at": _ts(now), "events": events}
    return gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6)


async def _post_all(urls: list[str], key: str, bodies: list[bytes], in_flight: int) -> int:
    import aiohttp

    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    queue = list(enumerate(bodies))
    stored = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal stored
        while queue:
            index, body = queue.pop()
            url = urls[index % len(urls)]
            async with session.post(f"{url}/v1/batch", data=body, headers=headers) as answer:
                result = await answer.json()
                if answer.status != 200:
                    raise RuntimeError(f"{answer.status}: {result}")
                stored += result["accepted"]

    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(in_flight)))
    return stored


def _generator(
    urls: list[str], key: str, count: int, seed: int, ready: Any, go: Any, out: Any
) -> None:
    rng = random.Random(seed)
    bodies = [_batch(rng, seed * 10**9 + i * 10**6) for i in range(count)]
    ready.set()
    go.wait()
    out.put(asyncio.run(_post_all(urls, key, bodies, in_flight=4)))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start_collectors(db: str, count: int) -> tuple[list[subprocess.Popen[str]], list[str]]:
    processes, urls = [], []
    for _ in range(count):
        port = _free_port()
        process = subprocess.Popen(
            [*CLI, "serve", "--db", db, "--port", str(port)], stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        for line in process.stderr:
            if _LISTENING.search(line):
                break
        else:
            raise RuntimeError(f"collector did not start (exit {process.wait()})")
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    return processes, urls


def _create_key(db: str) -> str:
    done = subprocess.run(
        [*CLI, "keys", "create", "--db", db, "--project", "bench", "--scope", "ingest"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


async def _pg(server: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(server)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _describe(server: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(server)
    try:
        version = await connection.fetchval("SHOW server_version")
        fsync = await connection.fetchval("SHOW fsync")
        commit = await connection.fetchval("SHOW synchronous_commit")
    finally:
        await connection.close()
    return f"PostgreSQL {version}, fsync={fsync}, synchronous_commit={commit}, on loopback"


def _database(backend: str, server: str, folder: Path, run: int) -> str:
    if backend == "sqlite":
        return str(folder / f"bench-{run}.db")
    name = f"agentsight_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(server, f'CREATE DATABASE "{name}"'))
    head = server.partition("?")[0].rpartition("/")[0]
    return f"{head}/{name}"


def _drop(db: str, server: str) -> None:
    if db.startswith("postgresql://"):
        name = db.rpartition("/")[2]
        asyncio.run(_pg(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def one_run(
    backend: str,
    collectors: int,
    server: str,
    folder: Path,
    run: int,
    batches: int,
    generators: int,
) -> float:
    """Events per second stored in one run of a scenario."""
    db = _database(backend, server, folder, run)
    key = _create_key(db)
    processes, urls = _start_collectors(db, collectors)
    try:
        context = multiprocessing.get_context("spawn")
        go, out = context.Event(), context.Queue()
        readies, workers = [], []
        for number in range(generators):
            ready = context.Event()
            worker = context.Process(
                target=_generator,
                args=(urls, key, batches // generators, run * 100 + number, ready, go, out),
            )
            worker.start()
            readies.append(ready)
            workers.append(worker)
        for ready in readies:
            if not ready.wait(300):
                raise RuntimeError("a load generator did not get ready")
        started = time.perf_counter()
        go.set()
        stored = sum(out.get(timeout=600) for _ in workers)
        elapsed = time.perf_counter() - started
        for worker in workers:
            worker.join(60)
        expected = (batches // generators) * generators * EVENTS_PER_BATCH
        if stored != expected:
            raise RuntimeError(f"stored {stored} of {expected} events")
        return stored / elapsed
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        _drop(db, server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batches", type=int, default=60, help="1,000-event batches per run")
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    parser.add_argument("--pg", default=os.environ.get("AGENTSIGHT_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    if not args.pg:
        sys.exit("benchmarks/ingest.py: set AGENTSIGHT_TEST_POSTGRES_URL or --pg (a server URL)")
    scenarios = [("sqlite", 1), ("postgres", 1), ("postgres", 3)]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend, count in scenarios:
            name = f"{backend}_{count}_collector{'s' if count > 1 else ''}"
            rates = [
                one_run(backend, count, args.pg, Path(folder), run, args.batches, args.generators)
                for run in range(args.runs)
            ]
            figures[name] = {
                "median_events_per_s": round(statistics.median(rates)),
                "runs_events_per_s": [round(r) for r in rates],
            }
            print(
                f"{name:<26} median {statistics.median(rates):>9,.0f} events/s"
                f"   runs: {', '.join(f'{r:,.0f}' for r in rates)}",
                flush=True,
            )
    result = {
        "benchmark": "ingest",
        "what": "events/s stored (committed) by agentsight serve, gzipped 1,000-event batches "
        f"posted on loopback by {args.generators} load generator processes, 4 requests in "
        f"flight each; {args.batches} batches per run; median of {args.runs} runs",
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, collectors, load generators and PostgreSQL share it",
        "postgres_server": asyncio.run(_describe(args.pg)),
        "scenarios": figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT.parent)}")


if __name__ == "__main__":
    main()
