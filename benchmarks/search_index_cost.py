"""What the search index costs a message on the write path, by the message's length.

    .venv/bin/python benchmarks/search_index_cost.py [--messages 40000] [--rounds 5]
        [--lengths 60 600] [--postgres URL]

Each round stores the same conversations (a ``conversation`` event and four
messages each, of about the given length: ``metrics.py``'s made-up words) with
``write_batch`` in batches of 1,000 events, into a fresh database without the
search index and into one with it (``Storage.set_search_index`` on the empty
database, so every message is indexed as it is stored), which goes first
alternating.  A fill's figure is microseconds per message from the median
seconds of its batches; the figures are the medians per side, the median of
the per-round differences (what the index adds to a message) and of the
ratios of events per second (with / without).  SQLite always; PostgreSQL when
``--postgres`` or ``AGENTSIGHT_TEST_POSTGRES_URL`` names a server (a fresh
database per fill, dropped after).  Written to
``results/search_index_cost.json`` and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from metrics import _WORDS  # noqa: E402

from agentsight.server import open_storage  # noqa: E402
from agentsight.server.storage import NewEvent  # noqa: E402

RESULTS = HERE / "results" / "search_index_cost.json"
_BATCH = 1000
_PER_CONVERSATION = 4


def _events(messages: int, length: int) -> list[NewEvent]:
    """Conversations of four messages each, texts of about *length* characters."""
    events: list[NewEvent] = []
    at = 1_780_000_000_000_000
    word = 0
    for n in range(messages // _PER_CONVERSATION):
        cid = f"cost-{n:07d}"
        events.append(NewEvent(uuid.uuid4().hex, "conversation", cid, 0, at, {"source": "web"}))
        for k in range(1, _PER_CONVERSATION + 1):
            words: list[str] = []
            while sum(len(w) + 1 for w in words) < length:
                words.append(_WORDS[word * 7919 % len(_WORDS)])
                word += 1
            payload = {"sender": "end_user" if k % 2 else "agent", "content": " ".join(words)}
            events.append(NewEvent(uuid.uuid4().hex, "message", cid, k, at + k, payload))
        at += 1_000_000
    return events


async def _fill(db: str, events: list[NewEvent], indexed: bool) -> float:
    """Microseconds per message of *events* stored into *db*, from the median batch."""
    storage = await open_storage(Path(db) if "://" not in db else db)
    try:
        await storage.create_key("cost", "hash-cost", "ags_…_000000", scope="ingest")
        found = await storage.find_key("hash-cost")
        assert found is not None
        if indexed:
            await storage.set_search_index(True)
        seconds = []
        for start in range(0, len(events), _BATCH):
            batch = events[start : start + _BATCH]
            begin = time.perf_counter()
            await storage.write_batch(found.project_id, batch)
            seconds.append((time.perf_counter() - begin) / len(batch))
    finally:
        await storage.aclose()
    per_event = statistics.median(seconds)
    return per_event * 1e6 * (_PER_CONVERSATION + 1) / _PER_CONVERSATION


async def _pg(server: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(server)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _round(backend: str, server: str | None, folder: Path, events: list[NewEvent],
                 indexed: bool, tag: str) -> float:  # fmt: skip
    if backend == "sqlite":  # the caller removes the file
        return await _fill(str(folder / f"{tag}.db"), events, indexed)
    assert server is not None
    name = f"search_cost_{os.getpid()}_{tag}"
    await _pg(server, "CHECKPOINT")
    await _pg(server, f'CREATE DATABASE "{name}"')
    try:
        return await _fill(server.rsplit("/", 1)[0] + f"/{name}", events, indexed)
    finally:
        await _pg(server, f'DROP DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[60, 600])
    parser.add_argument("--postgres", default=os.environ.get("AGENTSIGHT_TEST_POSTGRES_URL"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    folder = Path(tempfile.mkdtemp(prefix="agentsight-search-cost-"))
    results: dict[str, Any] = {}
    for length in args.lengths:
        events = _events(args.messages, length)
        for backend in backends:
            sides: dict[str, list[float]] = {"without": [], "with": []}
            for r in range(args.rounds):
                order = [False, True] if r % 2 == 0 else [True, False]
                for indexed in order:
                    side = "with" if indexed else "without"
                    tag = f"{length}-{r}-{side}"
                    micros = asyncio.run(
                        _round(backend, args.postgres, folder, events, indexed, tag)
                    )
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{folder / tag}.db{suffix}").unlink(missing_ok=True)
                    sides[side].append(micros)
                    print(f"  {length:5} chars {backend:8} round {r + 1} {side:7}"
                          f" {micros:8.1f} us per message", flush=True)  # fmt: skip
            pairs = list(zip(sides["without"], sides["with"], strict=True))
            results[f"{backend}, {length} characters"] = {
                "without_median_us_per_message": round(statistics.median(sides["without"]), 1),
                "with_median_us_per_message": round(statistics.median(sides["with"]), 1),
                "added_us_per_message": round(statistics.median(w - o for o, w in pairs), 1),
                "events_per_s_with_vs_without": round(
                    statistics.median(o / w for o, w in pairs), 3
                ),
                "rounds": sides,
            }
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus,"
        f" Python {platform.python_version()}",
        "messages_per_fill": args.messages,
        "rounds": args.rounds,
        "what": "write_batch of conversations of four messages (batches of 1,000 events),"
        " into a fresh database without and with the search index, alternating;"
        " microseconds per message (its share of the conversation event included)",
        "results": results,
    }
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
