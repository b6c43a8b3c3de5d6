"""Encoding on the loop in slices, or in a worker thread: which holds the loop less?

    .venv/bin/python benchmarks/encode_offload.py [--events N] [--rounds R]

The batcher encodes events in chunks of 128 and yields to the loop between
chunks.  The alternative is to hand each 1,000-event batch to a worker thread
(``anyio.to_thread.run_sync``).  JSON encoding holds the GIL either way, so
the question is empirical: this runs both over the same events while a 1 ms
ticker measures the loop's lateness, for the standard library and (when
installed) orjson, and writes medians to benchmarks/results/encode_offload.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import anyio

from agentsight import _encode
from agentsight._events import Event, message

RESULTS = Path(__file__).parent / "results" / "encode_offload.json"
CHUNK = 128
BATCH = 1000


def _events(count: int) -> list[Event]:
    meta = {"model": "gpt-4o", "latency_ms": 412, "channel": "web", "lang": "en"}
    now = time.time_ns() // 1000
    return [message(f"c{n % 100}", n, now + n, "end_user", "x" * 200, meta) for n in range(count)]


def _encode_batch(events: list[Event], ids: list[str]) -> str:
    return _encode.encode_events(events, ids)


async def _run(mode: str, events: list[Event]) -> dict[str, float]:
    lateness: list[float] = []
    done = anyio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = anyio.current_time()
            await anyio.sleep(0.001)
            lateness.append(anyio.current_time() - start - 0.001)

    ids = _encode.new_ids(len(events))
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(0.05)
        for at in range(0, len(events), BATCH):
            batch, batch_ids = events[at : at + BATCH], ids[at : at + BATCH]
            if mode == "slices":
                for i in range(0, len(batch), CHUNK):
                    _encode.encode_events(batch[i : i + CHUNK], batch_ids[i : i + CHUNK])
                    await anyio.lowlevel.checkpoint()
            else:
                await anyio.to_thread.run_sync(_encode_batch, batch, batch_ids)
        elapsed = time.perf_counter() - started
        done.set()
    ordered = sorted(lateness)
    return {
        "events_per_s": round(len(events) / elapsed),
        "worst_lag_ms": round(ordered[-1] * 1000, 2),
        "p99_lag_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = _events(args.events)
    have_orjson = _encode._orjson is not None
    encoders = ["stdlib", "orjson"] if have_orjson else ["stdlib"]
    saved = _encode._orjson
    samples: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):  # interleaved: noise hits every case alike
        for encoder in encoders:
            _encode._orjson = saved if encoder == "orjson" else None  # type: ignore[assignment]
            for mode in ("slices", "thread"):
                result = anyio.run(_run, mode, events)
                samples.setdefault(f"{encoder}, {mode}", []).append(result)
    _encode._orjson = saved
    table: dict[str, dict[str, Any]] = {
        case: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for case, runs in samples.items()
    }
    report = {"date": time.strftime("%Y-%m-%d"), "events": args.events, "rounds": args.rounds,
              "chunk": CHUNK, "batch": BATCH, "medians": table}  # fmt: skip
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'case':22} {'events/s':>10} {'worst lag ms':>13} {'p99 lag ms':>11}")
    for case, row in table.items():
        print(
            f"{case:22} {row['events_per_s']:>10,.0f} {row['worst_lag_ms']:>13.2f}"
            f" {row['p99_lag_ms']:>11.2f}"
        )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
