"""One benchmark case through one SDK, in this process; the last stdout line is its JSON report.

    PYTHON benchmarks/peers/workload.py --sdk NAME --case hot|loop|e2e --endpoint URL --key KEY

Started by ``run.py``, one fresh process per case: PYTHON is
``benchmarks/peers/.venv/bin/python`` for the peers and ``.venv/bin/python``
for ours.  Each SDK is an adapter module ``sdk_<name>.py`` beside this file
(``make(endpoint, key) -> Adapter``); every adapter tracks the same thing, a
200-character user message with a 4-key metadata dict, the way that SDK's
documentation shows.

Cases:

- ``hot``: nanoseconds per tracking call while the SDK's background sender
  runs and ships to the endpoint.  Chunks of 1,000 calls, each followed by an
  (untimed) flush, so no bounded queue overflows and every call is a real
  enqueue.  Timed in blocks of 100 calls (one clock pair per block) for the
  median, then call by call (clock pair cost subtracted) for p99 and p99.9.
- ``loop``: 100 asyncio tasks each track and ``await asyncio.sleep(0)`` in
  turn, while a ticker sleeping 1 ms records how late it wakes; the same
  ticker on the idle loop (same process, before the load) is the floor.  The
  window ends when everything tracked was flushed (peers' blocking
  ``flush()`` runs in a worker thread, so it never blocks the loop itself).
- ``e2e``: N events over 100 conversations, flat out, then the SDK's own
  shutdown (what a script does at exit); run.py reads the receiver's count
  and the time of its last event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

# benchmarks/sdk_ab.py runs ours from another copy of the package (a baseline commit):
# that copy first on the path, ahead of the project's editable install.
_TREE = os.environ.get("BENCH_AGENTSIGHT_TREE")
if _TREE:
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, _TREE)

MESSAGE = ("Where is my order? " * 11)[:200]
METADATA = {"model": "gpt-4o", "latency_ms": 412, "channel": "web", "lang": "en"}
BLOCK = 100  # calls per clock pair in block timing
CHUNK = 1_000  # calls between two flushes in the hot case
TASKS = 100  # asyncio tasks in the loop case
CONVERSATIONS = 100  # conversations the e2e events are spread over
TICK = 0.001  # the loop ticker's sleep


class Adapter(Protocol):
    """One SDK, started, with the calls a benchmark needs."""

    #: The tracker lives in the running event loop (ours under ``async with``).
    in_loop: bool
    #: Events the SDK sends on entering a conversation block (ours: 1).
    events_per_conversation: int

    def conversation(self, cid: str) -> contextlib.AbstractContextManager[Any]: ...
    def track(self, cid: str) -> object: ...
    async def atrack(self, cid: str) -> None: ...
    async def astart(self) -> None: ...
    def flush(self) -> None: ...
    async def aflush(self) -> None: ...
    def stop(self) -> None: ...
    async def astop(self) -> None: ...
    def sdk_stats(self) -> dict[str, Any]: ...


class SyncAdapter:
    """Defaults for SDKs with a blocking API and a background thread (all the peers)."""

    in_loop = False
    events_per_conversation = 0

    def conversation(self, cid: str) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def track(self, cid: str) -> object:
        raise NotImplementedError

    async def atrack(self, cid: str) -> None:
        self.track(cid)  # a sync API: called from the loop as its docs show

    async def astart(self) -> None:
        pass

    def flush(self) -> None:
        raise NotImplementedError

    async def aflush(self) -> None:
        await asyncio.to_thread(self.flush)

    def stop(self) -> None:
        raise NotImplementedError

    async def astop(self) -> None:
        self.stop()

    def sdk_stats(self) -> dict[str, Any]:
        return {}


# -- timing helpers ---------------------------------------------------------------------------


def _blocks(call: Callable[[str], object], cid: str, calls: int) -> list[float]:
    per_call: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(calls // BLOCK):
        start = clock()
        for _ in range(BLOCK):
            call(cid)
        per_call.append((clock() - start) / BLOCK)
    return per_call


def _one_by_one(call: Callable[[str], object], cid: str, calls: int) -> list[int]:
    samples: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(calls):
        start = clock()
        call(cid)
        end = clock()
        samples.append(end - start)
    return samples


def clock_pair_ns() -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        start = clock()
        end = clock()
        samples.append(end - start)
    return statistics.median(samples)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM): ru_maxrss would keep the parent's from before exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# -- cases ------------------------------------------------------------------------------------


def _hot_report(
    blocks: list[float], singles: list[int], calls: int, per_call: int
) -> dict[str, Any]:
    return {
        "blocks_ns": blocks,
        "calls_ns": singles,
        "clock_pair_ns": clock_pair_ns(),
        "tracked": 1 + calls // CHUNK * CHUNK + per_call // CHUNK * CHUNK,
    }


def hot(adapter: Adapter, calls: int, per_call: int) -> dict[str, Any]:
    """The hot case from plain sync code (no event loop in this thread)."""
    cid = "bench-hot"
    blocks: list[float] = []
    singles: list[int] = []
    started = time.perf_counter_ns()
    with adapter.conversation(cid):  # for ours, entering records it: the first call
        adapter.track(cid)  # the first call may start the sender: timed on its own
        first_call_ns = time.perf_counter_ns() - started
        adapter.flush()
        for _ in range(calls // CHUNK):
            blocks += _blocks(adapter.track, cid, CHUNK)
            adapter.flush()
        for _ in range(per_call // CHUNK):
            singles += _one_by_one(adapter.track, cid, CHUNK)
            adapter.flush()
    report = _hot_report(blocks, singles, calls, per_call)
    report["first_call_ns"] = first_call_ns
    report["sdk_stats"] = adapter.sdk_stats()
    adapter.stop()
    return report


async def _ablocks(call: Callable[[str], Any], cid: str, calls: int) -> list[float]:
    """``_blocks`` for the awaited call: ``await call(cid)`` in 100-call blocks, where
    *call* returns what the tracking call returned (``await tracker.track_...(...)`` in a
    handler, with the same adapter function in between as the plain case)."""
    per_call: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(calls // BLOCK):
        start = clock()
        for _ in range(BLOCK):
            await call(cid)
        per_call.append((clock() - start) / BLOCK)
    return per_call


async def ahot(adapter: Adapter, calls: int, per_call: int) -> dict[str, Any]:
    """The hot case inside the running loop that hosts the tracker (ours, ``async with``):
    the plain call, then the awaited one (what the README shows for async code)."""
    cid = "bench-hot"
    await adapter.astart()
    blocks: list[float] = []
    awaited: list[float] = []
    singles: list[int] = []
    started = time.perf_counter_ns()
    with adapter.conversation(cid):  # for ours, entering records it: the first call
        adapter.track(cid)
        first_call_ns = time.perf_counter_ns() - started
        await adapter.aflush()
        for _ in range(calls // CHUNK):
            blocks += _blocks(adapter.track, cid, CHUNK)
            await adapter.aflush()  # the sender runs when the handler yields
            awaited += await _ablocks(adapter.track, cid, CHUNK)
            await adapter.aflush()
        for _ in range(per_call // CHUNK):
            singles += _one_by_one(adapter.track, cid, CHUNK)
            await adapter.aflush()
    report = _hot_report(blocks, singles, calls, per_call)
    report["tracked"] += calls // CHUNK * CHUNK
    report["awaited_blocks_ns"] = awaited
    report["first_call_ns"] = first_call_ns
    report["sdk_stats"] = adapter.sdk_stats()
    await adapter.astop()
    return report


async def _tick(samples: list[float], stop: asyncio.Event) -> None:
    clock = time.perf_counter
    while not stop.is_set():
        start = clock()
        await asyncio.sleep(TICK)
        samples.append(clock() - start - TICK)


async def loop_lag(adapter: Adapter, events: int, idle_s: float) -> dict[str, Any]:
    await adapter.astart()
    with adapter.conversation("loop-warmup"):  # the first call may start the SDK: not timed
        await adapter.atrack("loop-warmup")
    await adapter.aflush()
    idle: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_tick(idle, stop))
    await asyncio.sleep(idle_s)
    stop.set()
    await ticker
    per_task = events // TASKS

    async def task(n: int) -> None:
        cid = f"loop-{n}"
        with adapter.conversation(cid):
            for _ in range(per_task):
                await adapter.atrack(cid)
                await asyncio.sleep(0)

    loaded: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_tick(loaded, stop))
    started = time.perf_counter()
    await asyncio.gather(*(task(n) for n in range(TASKS)))
    tracked_s = time.perf_counter() - started
    await adapter.aflush()
    window_s = time.perf_counter() - started
    stop.set()
    await ticker
    stats = adapter.sdk_stats()
    await adapter.astop() if adapter.in_loop else await asyncio.to_thread(adapter.stop)
    return {
        "idle_worst_ms": max(idle) * 1e3,
        "idle_p99_ms": _pct(idle, 0.99) * 1e3,
        "load_worst_ms": max(loaded) * 1e3,
        "load_p99_ms": _pct(loaded, 0.99) * 1e3,
        "ticks": len(loaded),
        "tracked": per_task * TASKS,
        "tracked_s": tracked_s,
        "window_s": window_s,
        "sdk_stats": stats,
    }


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


def _e2e_calls(adapter: Adapter, per_conversation: int) -> None:
    track = adapter.track
    for c in range(CONVERSATIONS):
        cid = f"e2e-{c}"
        with adapter.conversation(cid):
            for _ in range(per_conversation):
                track(cid)


async def _e2e_awaited(adapter: Adapter, per_conversation: int) -> None:
    atrack = adapter.atrack
    for c in range(CONVERSATIONS):
        cid = f"e2e-{c}"
        with adapter.conversation(cid):
            for _ in range(per_conversation):
                await atrack(cid)


def _e2e_report(
    adapter: Adapter, first: float, done: float, stopped: float, per: int
) -> dict[str, Any]:
    return {
        "first_call_at": first,
        "calls_s": done - first,
        "stopped_at": stopped,
        "tracked": per * CONVERSATIONS,
        "expected_at_receiver": (per + adapter.events_per_conversation) * CONVERSATIONS,
        "sdk_stats": adapter.sdk_stats(),
    }


def e2e(adapter: Adapter, events: int) -> dict[str, Any]:
    """Plain calls from sync code, then the SDK's shutdown."""
    per_conversation = events // CONVERSATIONS
    first_call_at = time.monotonic()
    _e2e_calls(adapter, per_conversation)
    calls_done_at = time.monotonic()
    adapter.stop()
    stopped_at = time.monotonic()
    return _e2e_report(adapter, first_call_at, calls_done_at, stopped_at, per_conversation)


async def ae2e(adapter: Adapter, events: int) -> dict[str, Any]:
    """Awaited calls inside the loop (ours under ``async with``), then leaving the block."""
    per_conversation = events // CONVERSATIONS
    await adapter.astart()
    first_call_at = time.monotonic()
    await _e2e_awaited(adapter, per_conversation)
    calls_done_at = time.monotonic()
    await adapter.astop()
    stopped_at = time.monotonic()
    return _e2e_report(adapter, first_call_at, calls_done_at, stopped_at, per_conversation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", required=True)
    parser.add_argument("--case", choices=("hot", "loop", "e2e"), required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--per-call", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--idle", type=float, default=1.0)
    args = parser.parse_args()
    module = importlib.import_module(f"sdk_{args.sdk.replace('-', '_')}")
    adapter: Adapter = module.make(args.endpoint, args.key)
    if args.case == "loop":
        report = asyncio.run(loop_lag(adapter, args.events, args.idle))
    elif args.case == "hot" and adapter.in_loop:
        report = asyncio.run(ahot(adapter, args.calls, args.per_call))
    elif args.case == "hot":
        report = hot(adapter, args.calls, args.per_call)
    elif adapter.in_loop:
        report = asyncio.run(ae2e(adapter, args.events))
    else:
        report = e2e(adapter, args.events)
    report["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
