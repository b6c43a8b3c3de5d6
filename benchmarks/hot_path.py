"""Nanoseconds per track_human_message call, in both modes, against baselines of the same run.

    .venv/bin/python benchmarks/hot_path.py [--calls N] [--rounds R]

Modes: inside ``async with`` (in-loop: onto the anyio memory object stream on
the same thread) and the plain module-level style from sync code (thread
mode: the same stream, drained by the tracker's portal thread).
Each call tracks a 200-character message with a 4-key metadata dict while
the background sender runs and delivers to an in-memory transport.  The
baselines, timed the same way in the same process, are building the event
tuple (what the call must do at least) and ``uuid.uuid4()``.

Figures are medians and percentiles of per-call times measured in blocks of
100 calls (one perf_counter_ns pair per block, so the clock's own cost stays
out), written to benchmarks/results/hot_path.json and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentsight import ConversationTracker, __version__
from agentsight.transports import InMemoryTransport

BLOCK = 100
MESSAGE = "x" * 200
METADATA = {"model": "gpt-4o", "latency_ms": 412, "channel": "web", "lang": "en"}
RESULTS = Path(__file__).parent / "results" / "hot_path.json"


def _blocks(call: Callable[[], object], calls: int) -> list[float]:
    per_call: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(calls // BLOCK):
        start = clock()
        for _ in range(BLOCK):
            call()
        per_call.append((clock() - start) / BLOCK)
    return per_call


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ns": round(statistics.median(ordered), 1),
        "p99_ns": round(ordered[int(len(ordered) * 0.99) - 1], 1),
        "p999_ns": round(ordered[int(len(ordered) * 0.999) - 1], 1),
    }


def bench_thread_mode(
    calls: int, message: str = MESSAGE, metadata: dict[str, Any] = METADATA, **settings: Any
) -> list[float]:
    """Plain calls from sync code; *settings* go to the tracker (``redact=``...)."""
    tracker = ConversationTracker(transport=InMemoryTransport(), max_buffer=calls + 10, **settings)
    tracker.get_or_create_conversation("bench")

    def call() -> None:
        tracker.track_human_message(message, metadata=metadata)

    samples = _blocks(call, calls)
    tracker.close()
    assert tracker.stats().accepted == calls + 1, tracker.stats()
    return samples


def bench_async_mode(
    calls: int, message: str = MESSAGE, metadata: dict[str, Any] = METADATA, **settings: Any
) -> list[float]:
    """Plain calls inside ``async with``; *settings* go to the tracker."""

    async def main() -> list[float]:
        transport = InMemoryTransport()
        async with ConversationTracker(
            transport=transport, max_buffer=20_000, **settings
        ) as tracker:
            await tracker.get_or_create_conversation("bench")
            samples: list[float] = []

            def call() -> None:
                tracker.track_human_message(message, metadata=metadata)

            # Let the sender catch up between chunks, as a real handler would yield.
            for _ in range(calls // 10_000):
                samples += _blocks(call, 10_000)
                await tracker.flush()
        assert tracker.stats().accepted == calls // 10_000 * 10_000 + 1, tracker.stats()
        return samples

    return asyncio.run(main())


def bench_event_tuple(calls: int) -> list[float]:
    def call() -> object:
        # What a call must do at least: the event tuple, with its copy of the metadata.
        now = time.time_ns() // 1000
        flat = (*METADATA, *METADATA.values())
        return ("message", "bench", 1, now, "end_user", MESSAGE, flat, None, False)

    return _blocks(call, calls)


def bench_uuid4(calls: int) -> list[float]:
    return _blocks(uuid.uuid4, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "track_human_message, async with (in-loop)": bench_async_mode,
        "track_human_message, plain sync (thread mode)": bench_thread_mode,
        "baseline: build the event tuple": bench_event_tuple,
        "baseline: uuid.uuid4()": bench_uuid4,
    }
    results: dict[str, dict[str, float]] = {}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):  # interleaved rounds: noise hits every case alike
        for name, bench in cases.items():
            samples[name] += bench(args.calls)
    base = statistics.median(samples["baseline: build the event tuple"])
    for name in cases:
        results[name] = _summary(samples[name])
        results[name]["x_event_tuple"] = round(results[name]["median_ns"] / base, 2)
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {sys.version.split()[0]}",
        "agentsight": __version__,
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    width = max(map(len, results))
    print(f"{'case':{width}}  median ns   p99 ns  p99.9 ns  x event tuple")
    for name, row in results.items():
        print(
            f"{name:{width}}  {row['median_ns']:9.0f} {row['p99_ns']:8.0f} "
            f"{row['p999_ns']:9.0f}  {row['x_event_tuple']:.2f}"
        )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
