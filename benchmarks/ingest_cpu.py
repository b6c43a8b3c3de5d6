"""Collector CPU per event, stage by stage, on the SDK's own batches (SQLite).

The SDK tracks the end-to-end workload of ``peers/run.py`` (100 conversations
of 1,000 human messages, 200 characters, 4-key metadata) into a transport
that keeps the gzipped bodies it is given.  Each round then runs the
collector's stages on them in one thread, as the request handler and the
writer do, over a fresh SQLite file: gunzip, JSON parse, validation, write.
Thread CPU time (not wall time: the machine is shared), microseconds per
event, median over the rounds; written to ``results/ingest_cpu.json``.

    .venv/bin/python benchmarks/ingest_cpu.py [--rounds 7]

Compare two versions of the collector with the same bodies: ``--bodies FILE``
keeps them (pickled) for the next run, which may run from another checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import platform
import sqlite3
import statistics
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "ingest_cpu.json"
MESSAGE = ("Where is my order? " * 11)[:200]  # as peers/workload.py
METADATA = {"model": "gpt-4o", "latency_ms": 412, "channel": "web", "lang": "en"}
STAGES = ("gunzip", "parse", "validate", "write")


class _Keep:
    """A transport that keeps each batch's body and reports it delivered."""

    needs_asyncio = False

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def send(self, batch: Any) -> Any:
        from agentsight.transports._base import Outcome, SendResult

        self.bodies.append(batch.body if batch.gzipped else zlib.compress(batch.body))
        return SendResult(Outcome.DELIVERED, accepted=batch.count, duplicates=0, status=200)

    async def aclose(self) -> None:
        pass


async def _sdk_bodies() -> list[bytes]:
    from agentsight import ConversationTracker

    keep = _Keep()
    async with ConversationTracker(api_key="ags_bench", transport=keep) as tracker:
        for c in range(100):
            with tracker.conversation(f"e2e-{c}"):
                for _ in range(1_000):
                    await tracker.track_human_message(MESSAGE, metadata=METADATA)
    return keep.bodies


def one_round(bodies: list[bytes]) -> dict[str, float]:
    """Microseconds of thread CPU per event of each stage, over a fresh database."""
    from agentsight.server import ServerOptions
    from agentsight.server._http._body import parse_json
    from agentsight.server._ingest._validate import Validator
    from agentsight.server.storage.sqlite._schema import connect, migrate
    from agentsight.server.storage.sqlite._write import write_batch

    validator = Validator(ServerOptions())
    spent = dict.fromkeys(STAGES, 0.0)
    events = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        migrate(path, 5.0)
        connection = connect(path, 5.0, writer=True)
        try:
            connection.execute("INSERT INTO projects (name, created_at) VALUES ('bench', 0)")
            for body in bodies:
                t0 = time.thread_time()
                raw = zlib.decompress(body, 47)
                t1 = time.thread_time()
                value, suspect = parse_json(raw)
                t2 = time.thread_time()
                checked = validator.check_batch(value, unicode_suspect=suspect)
                t3 = time.thread_time()
                write_batch(connection, 1, checked.events)
                t4 = time.thread_time()
                for stage, took in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                    spent[stage] += took
                events += len(checked.events)
        finally:
            connection.close()
    return {stage: took / events * 1e6 for stage, took in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--bodies", type=Path, help="pickled bodies: read if present, else kept")
    args = parser.parse_args()
    if args.bodies is not None and args.bodies.exists():
        bodies = pickle.loads(args.bodies.read_bytes())
    else:
        bodies = asyncio.run(_sdk_bodies())
        if args.bodies is not None:
            args.bodies.write_bytes(pickle.dumps(bodies))
    rounds = [one_round(bodies) for _ in range(args.rounds)]
    medians = {s: round(statistics.median(r[s] for r in rounds), 2) for s in STAGES}
    total = round(statistics.median(sum(r.values()) for r in rounds), 2)
    for stage, value in medians.items():
        print(f"{stage:>8}: {value:6.2f} us/event")
    print(f"{'total':>8}: {total:6.2f} us/event (median of {args.rounds} rounds)")
    RESULTS.parent.mkdir(exist_ok=True)
    report = {
        "benchmark": "collector CPU per event by stage, SQLite, the SDK's e2e batches",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": f"{platform.machine()}, {platform.system()}",
        "batches": len(bodies),
        "rounds": args.rounds,
        "us_per_event": {**medians, "total": total},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
