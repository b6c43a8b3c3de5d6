"""The official SDKs' routes: what one of their requests costs the collector, on SQLite.

0.0.44 sends one POST per tracked item, one at a time: its throughput is the
round trip of ``POST /api/track/``.  This posts messages as it does (one
request per message, one in flight) and, for comparison, the same messages
to ``POST /v1/batch`` one event per batch (the same per-request work without
the mapping) and 100 events per batch (what our SDK sends).  0.1.4 posts
span batches to ``POST /api/ingest/``: this posts bodies of 20 conversations
of 12 spans each.  A collector on a fresh SQLite file on loopback, in this
process's loop (aiohttp client and server share the 2 cores).  Each scenario
runs several times; the median is printed and written to
``results/official_routes.json``.

    .venv/bin/python benchmarks/official_routes.py [--runs 5] [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import create_app
from agentsight.server.storage import open_storage

RESULTS = Path(__file__).resolve().parent / "results" / "official_routes.json"


def _stamp(n: int) -> str:
    minutes, seconds = n // 60_000_000 % 60, n // 1_000_000 % 60
    return f"2026-12-04T10:{minutes:02d}:{seconds:02d}.{n % 1_000_000:06d}+00:00"


def _track(n: int) -> dict[str, Any]:
    return {
        "timestamp": _stamp(n),
        "content": f"message {n} about my order and its delivery",
        "sender": "end_user" if n % 2 else "agent",
        "conversation_id": f"bench-{n // 20}",
        "metadata": {"channel": "web"},
        "conversation": None,
    }


def _v1(n: int, size: int) -> dict[str, Any]:
    events = []
    for i in range(n, n + size):
        item = _track(i)
        events.append(
            {
                "id": uuid.uuid4().hex,
                "type": "message",
                "conversation_id": item["conversation_id"],
                "seq": i,
                "timestamp": item["timestamp"],
                "sender": item["sender"],
                "content": item["content"],
                "metadata": item["metadata"],
            }
        )
    return {"schema": 1, "events": events}


def _span(kind: str, n: int, **attributes: Any) -> dict[str, Any]:
    return {
        "span_id": f"{n:016x}",
        "trace_id": f"{n:032x}",
        "kind": kind,
        "name": kind,
        "started_at": _stamp(n),
        "ended_at": _stamp(n + 1),
        "duration_ms": 1.0,
        "status": "ok",
        "attributes": attributes,
        "events": [],
    }


def _ingest(n: int) -> dict[str, Any]:
    blocks = []
    for b in range(20):
        spans = []
        for s in range(12):
            i = n * 1000 + b * 20 + s
            if s % 3 == 0:
                turn = _span("turn", i, **{"agentsight.turn.complete": True})
                turn["events"] = [
                    {
                        "name": "agentsight.message",
                        "timestamp": _stamp(i),
                        "attributes": {
                            "agentsight.message.sender": "end_user",
                            "agentsight.message.content": "where is my order?",
                            "agentsight.message.metadata": '{"channel": "web"}',
                        },
                    }
                ]
                spans.append(turn)
            elif s % 3 == 1:
                spans.append(
                    _span(
                        "tool",
                        i,
                        **{
                            "agentsight.tool.name": "lookup",
                            "agentsight.tool.arguments": '{"id": 1}',
                        },
                    )
                )
            else:
                spans.append(
                    _span(
                        "llm",
                        i,
                        **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5},
                    )
                )
        blocks.append({"conversation_id": f"ingest-{n}-{b}", "spans": spans})
    return {"sdk": {"name": "agentsight-python", "version": "0.1.4"}, "conversations": blocks}


async def _scenario(name: str, requests: int) -> float:
    """Requests (or events) per second of one run, on a fresh collector."""
    with tempfile.TemporaryDirectory() as folder:
        storage = await open_storage(Path(folder) / "bench.db")
        key = generate_key()
        await storage.create_key("bench", hash_key(key), redact(key), scope="admin")
        runner = web.AppRunner(create_app(storage), access_log=None, auto_decompress=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        headers = {"Authorization": f"Api-Key {key}"}
        try:
            async with aiohttp.ClientSession(url, headers=headers) as session:
                if name == "api_track":
                    bodies = [("/api/track/", _track(n)) for n in range(requests)]
                elif name == "v1_batch_1":
                    bodies = [("/v1/batch", _v1(n, 1)) for n in range(requests)]
                elif name == "v1_batch_100":
                    bodies = [("/v1/batch", _v1(n * 100, 100)) for n in range(requests // 100)]
                else:
                    bodies = [("/api/ingest/", _ingest(n)) for n in range(requests // 40)]
                encoded = [(path, json.dumps(body).encode()) for path, body in bodies]
                start = time.perf_counter()
                for path, data in encoded:  # one in flight, as the sync SDK
                    async with session.post(
                        path, data=data, headers={"Content-Type": "application/json"}
                    ) as response:
                        assert response.status in (200, 201), await response.text()
                elapsed = time.perf_counter() - start
        finally:
            await runner.cleanup()
    if name == "v1_batch_100":
        return requests / elapsed  # events per second
    if name == "api_ingest":
        return len(encoded) * 20 * 12 / elapsed  # spans per second
    return len(encoded) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    units = {
        "api_track": "requests/s (= messages/s) of 0.0.44's POST /api/track/, one in flight",
        "v1_batch_1": "requests/s (= messages/s) of POST /v1/batch with one event, one in flight",
        "v1_batch_100": "messages/s of POST /v1/batch with 100 events, one in flight",
        "api_ingest": "spans/s of 0.1.4's POST /api/ingest/, 240 spans a body, one in flight",
    }
    scenarios: dict[str, Any] = {}
    for name, unit in units.items():
        runs = [round(await _scenario(name, args.requests)) for _ in range(args.runs)]
        scenarios[name] = {"unit": unit, "median": statistics.median(runs), "runs": runs}
        print(f"{name:14} {statistics.median(runs):>8,.0f}  {unit}  runs {runs}")
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "official_routes",
                "machine": f"2 shared cores, {platform.machine()}, Python {sys.version.split()[0]}",
                "what": "a collector on a fresh SQLite file, its client in the same process",
                "scenarios": scenarios,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
