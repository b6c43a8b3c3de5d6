"""What the dashboard's live updates cost the collector: its polls, timed through HTTP.

    .venv/bin/python benchmarks/polling.py --sqlite FILE [--postgres URL] [--requests 300]

The dashboard polls while a view is on screen and the tab visible: the
conversation list's first page every 5 s (``total=false``; it counts again
only when the page changed) and an open transcript every 3 s.  Over a
database filled by ``benchmarks/metrics.py`` (``--sqlite-file``,
``--keep-postgres``), this starts the collector on 127.0.0.1 and times
*requests* sequential polls of each kind as a client sees them (the
collector is busy about that long per poll), then writes what 100 open
dashboards would take: ``100 / 5 s`` list polls or ``100 / 3 s``
transcript polls a second times the median seconds of one, as a share of
one core.  Results go to benchmarks/results/polling.json.
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
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from agentsight import __version__
from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import create_app, open_storage

RESULTS = Path(__file__).parent / "results" / "polling.json"
DASHBOARDS = 100
EVERY = {"list page 1 (total=false)": 5.0, "list page 1 with total": 5.0, "transcript": 3.0}


async def _times(
    session: aiohttp.ClientSession, path: str, params: dict[str, str], n: int
) -> list[float]:
    seconds = []
    for _ in range(n):
        begin = time.perf_counter()
        async with session.get(path, params=params) as answer:
            await answer.read()
            assert answer.status == 200, await answer.text()
        seconds.append(time.perf_counter() - begin)
    return seconds


async def measure(db: str | Path, requests: int) -> dict[str, Any]:
    storage = await open_storage(db)
    key = generate_key()
    await storage.create_key("bench", hash_key(key), redact(key), scope="read")
    runner = web.AppRunner(create_app(storage), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    out: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {key}"}) as s:
            async with s.get("/v1/conversations", params={"limit": "1", "total": "false"}) as a:
                newest = (await a.json())["conversations"][0]["conversation_id"]
            cases = {
                "list page 1 (total=false)": (
                    "/v1/conversations",
                    {"limit": "25", "total": "false"},
                ),
                "list page 1 with total": ("/v1/conversations", {"limit": "25"}),
                "transcript": (f"/v1/conversations/{newest}", {}),
            }
            for name, (path, params) in cases.items():
                await _times(s, path, params, 5)  # warm the cache
                seconds = await _times(s, path, params, requests)
                median = statistics.median(seconds)
                out[name] = {
                    "median_ms": round(median * 1000, 2),
                    "p95_ms": round(sorted(seconds)[int(len(seconds) * 0.95) - 1] * 1000, 2),
                    "polls_per_s_of_100_dashboards": round(DASHBOARDS / EVERY[name], 1),
                    "core_share_of_100_dashboards": round(DASHBOARDS / EVERY[name] * median, 3),
                }
                print(f"  {name}: {json.dumps(out[name])}", flush=True)
    finally:
        await runner.cleanup()
    return out


def _counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        events, conversations = connection.execute(
            "SELECT (SELECT MAX(rowid) FROM events), (SELECT MAX(pk) FROM conversations)"
        ).fetchone()
        return {"events_about": int(events), "conversations_about": int(conversations)}
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", type=Path)
    parser.add_argument("--postgres")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.sqlite:
        print("SQLite:", flush=True)
        results["sqlite"] = {
            **_counts(args.sqlite),
            **asyncio.run(measure(args.sqlite, args.requests)),
        }
    if args.postgres:
        print("PostgreSQL:", flush=True)
        results["postgres"] = asyncio.run(measure(args.postgres, args.requests))
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus,"
        f" Python {platform.python_version()}",
        "agentsight": __version__,
        "what": "seconds per dashboard poll through the collector on 127.0.0.1",
        "requests": args.requests,
        "results": results,
    }
    if not args.no_write:
        RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
