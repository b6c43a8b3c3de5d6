"""What the largest bodies cost a real collector: peak memory, and /v1/health meanwhile.

    .venv/bin/python benchmarks/hostile_bodies.py [--rounds 3]

For each case, a fresh ``agentsight serve`` process on a fresh SQLite file
(loopback only) is warmed up with one small batch, then sent one gzip body
while a client asks ``GET /v1/health`` over and over (a new request as soon
as the last was answered, 2 ms apart).  Measured per case and round: the
status, how long the POST took, the peak RSS growth of the collector
(``VmHWM`` after the POST minus ``VmRSS`` before it, from ``/proc``), and the
latency of the health requests made while the body was being read, parsed,
validated and stored (median and worst).  Printed and written as medians
over the rounds to benchmarks/results/hostile_bodies.json.

Cases, at the collector's default limits (50 MiB decoded, 10,000 events,
1,000,000 JSON values):

- ``largest text batch``: 10,000 messages of 4,900 characters, 49.9 MiB
  decoded: the largest batch the byte limits accept;
- ``largest values batch``: 10 events whose metadata holds 33,000 small
  objects each, 1,000,000 values in all: the largest the value limit
  accepts, in the shape that builds the most memory per value;
- ``issue 16 bomb``: 48 MiB of ``{}`` under an unknown key (50 KB of gzip),
  refused with 413 before it is parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentsight import __version__
from tests.e2e.collector import CollectorProcess

RESULTS = Path(__file__).parent / "results" / "hostile_bodies.json"
STAMP = "2026-11-26T22:14:05.123456Z"


def _message(n: int, content: str, metadata: Any = None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "type": "message",
        "conversation_id": f"bench-{n % 50}",
        "seq": n,
        "timestamp": STAMP,
        "sender": "end_user",
        "content": content,
        "metadata": metadata,
        "attachments": None,
        "truncated": False,
    }


def _batch(events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"schema": 1, "sent_at": STAMP, "events": events}).encode()


def bodies() -> dict[str, tuple[bytes, int]]:
    """Each case's gzip body and the status it should get."""
    text = _batch([_message(n, "x" * 4_900) for n in range(10_000)])
    many = _batch([_message(n, "x", {"m": [{"a": "b"}] * 33_000}) for n in range(10)])
    bomb = b'{"schema":1,"events":[],"x":[' + b"{}," * (16 * 1024 * 1024) + b"{}]}"
    return {
        "largest text batch": (gzip.compress(text, 1), 200),
        "largest values batch": (gzip.compress(many, 1), 200),
        "issue 16 bomb": (gzip.compress(bomb, 9), 413),
    }


def _status(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


async def _poll_health(session: aiohttp.ClientSession, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        async with session.get("/v1/health") as response:
            await response.read()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.002)
    return latencies


async def one(body: bytes, expected: int, key: str, url: str, pid: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Content-Encoding": "gzip"}
    async with aiohttp.ClientSession(url) as session:
        warm = gzip.compress(_batch([_message(0, "warm-up")]))
        async with session.post("/v1/batch", data=warm, headers=headers) as response:
            assert response.status == 200, await response.text()
        await asyncio.sleep(0.5)
        before = _status(pid, "VmRSS")
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll_health(session, stop))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        async with session.post("/v1/batch", data=body, headers=headers) as response:
            status = response.status
            answer = await response.json()
        took = time.perf_counter() - started
        stop.set()
        latencies = await poller
    assert status == expected, (status, answer)
    return {
        "status": status,
        "post_s": round(took, 3),
        "peak_rss_growth_mb": round(_status(pid, "VmHWM") - before, 1),
        "rss_before_mb": round(before, 1),
        "health_requests": len(latencies),
        "health_median_ms": round(statistics.median(latencies) * 1000, 2),
        "health_worst_ms": round(max(latencies) * 1000, 2),
    }


def run_case(body: bytes, expected: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        process = CollectorProcess(Path(folder) / "bench.db")
        try:
            return asyncio.run(one(body, expected, process.keys["A"], process.url, process.pid))
        finally:
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = bodies()
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for round_number in range(args.rounds):
        for name, (body, expected) in cases.items():  # interleaved: each round runs every case
            result = run_case(body, expected)
            rounds[name].append(result)
            print(f"round {round_number + 1} {name}: {result}", flush=True)
    medians = {
        name: {
            "gzip_bytes": len(cases[name][0]),
            **{
                key: statistics.median(r[key] for r in results)
                for key in results[0]
                if key != "status"
            },
            "status": results[0]["status"],
        }
        for name, results in rounds.items()
    }
    print("\nmedians over", args.rounds, "rounds:")
    for name, figures in medians.items():
        print(
            f"  {name}: {figures['status']}, POST {figures['post_s']} s, peak RSS growth"
            f" {figures['peak_rss_growth_mb']} MB, /v1/health median"
            f" {figures['health_median_ms']} ms, worst {figures['health_worst_ms']} ms"
        )
    RESULTS.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "machine": f"{platform.machine()}, {platform.python_version()}",
                "agentsight": __version__,
                "what": __doc__.split("\n\n", 2)[2].strip(),
                "rounds": rounds,
                "medians": medians,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
