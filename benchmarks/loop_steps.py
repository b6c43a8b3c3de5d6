"""What holds the application's loop during the loop case of ``benchmarks/peers``.

    python3 benchmarks/loop_steps.py [--rounds 3]

Runs the loop case (100 asyncio tasks tracking and yielding, a 1 ms ticker)
into the loopback null sink, ours in both modes and the workload alone, each
round in a fresh process, with every step of the loop timed (each
``Handle._run``) and every garbage collection timed.  Steps are sorted by
whose they are:

- ``ours: batcher`` — the pipeline's task (taking, encoding, wrapping batches);
- ``ours: sender`` — our sender tasks, up to handing the request to aiohttp;
- ``aiohttp: body write`` — aiohttp's task writing a request body to the socket;
- ``aiohttp/asyncio: other`` — the rest of the HTTP client and asyncio's own callbacks;
- ``workload tasks`` — the 100 tracking tasks (with our tracking calls inside);
- ``gc genN`` — collections (they run inside whichever step allocated).

For each kind: steps, median, p99 and longest (ms), and for the worst ticks
of the ticker, the longest step that ran while it was late.  A step's time
includes any wait for the GIL or for a core, so on the shared 2-core machine
a step can look long because another process (the sink) or thread had the
core: compare with ``workload alone``.  Writes ``results/loop_steps.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.events
import gc
import importlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

import run as peers  # noqa: E402  (benchmarks/peers/run.py: venvs, servers, null sink)

RESULTS = HERE / "results" / "loop_steps.json"
SDKS = ("ours-async", "ours-sync", "none")
EVENTS = 20_000
IDLE_S = 1.0


def _kind(handle: asyncio.events.Handle) -> str:
    callback = handle._callback  # type: ignore[attr-defined]
    task = getattr(callback, "__self__", None)
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    name = getattr(coro, "__qualname__", "") or ""
    if "write_bytes" in name:
        return "aiohttp: body write"
    if isinstance(task, asyncio.Task):
        task_name = task.get_name()
        if "Pipeline" in task_name and "_sender" in task_name:
            return "ours: sender"
        if "Pipeline" in task_name or "agentsight" in task_name:
            return "ours: batcher"
        if "task" in name and "loop_lag" in name:
            return "workload tasks"
        if name.endswith("tick"):
            return "ticker"
    return "aiohttp/asyncio: other"


def child(sdk: str, endpoint: str) -> None:
    """One round in this process: the loop case with every loop step timed."""
    import workload

    clock = time.perf_counter
    steps: list[tuple[float, float, str]] = []  # (start, seconds, kind)
    run = asyncio.events.Handle._run

    main_thread = threading.get_ident()

    def timed(handle: asyncio.events.Handle) -> None:
        start = clock()
        run(handle)
        kind = _kind(handle)
        if threading.get_ident() != main_thread:  # thread mode: the tracker's own loop
            kind = f"(tracker's thread) {kind}"
        steps.append((start, clock() - start, kind))

    asyncio.events.Handle._run = timed  # type: ignore[method-assign]
    collections: list[tuple[float, float, str]] = []
    started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = clock()
        else:
            where = "" if threading.get_ident() == main_thread else "(tracker's thread) "
            seconds = clock() - started[0]
            collections.append((started[0], seconds, f"{where}gc gen{info['generation']}"))

    gc.callbacks.append(on_gc)
    ticks: list[tuple[float, float]] = []  # (start, lateness) of the loaded ticker
    original_tick = workload._tick
    tickers = [0]

    async def tick(samples: list[float], stop: asyncio.Event) -> None:
        tickers[0] += 1
        if tickers[0] == 1:  # the idle floor
            await original_tick(samples, stop)
            return
        while not stop.is_set():
            start = clock()
            await asyncio.sleep(workload.TICK)
            late = clock() - start - workload.TICK
            samples.append(late)
            ticks.append((start, late))

    workload._tick = tick
    adapter = importlib.import_module(f"sdk_{sdk.replace('-', '_')}").make(endpoint, "bench")
    report = asyncio.run(workload.loop_lag(adapter, EVENTS, IDLE_S))
    window = (ticks[0][0], ticks[-1][0] + ticks[-1][1] + workload.TICK) if ticks else (0, 0)
    inside = [s for s in steps + collections if window[0] <= s[0] <= window[1]]
    by_kind: dict[str, list[float]] = {}
    for _, seconds, kind in inside:
        by_kind.setdefault(kind, []).append(seconds * 1e3)
    worst = []
    for start, late in sorted(ticks, key=lambda t: -t[1])[:5]:
        during = [s for s in inside if start <= s[0] <= start + workload.TICK + late]
        longest = max(during, key=lambda s: s[1], default=None)
        worst.append(
            {
                "late_ms": round(late * 1e3, 2),
                "longest_step": None if longest is None else longest[2],
                "longest_step_ms": None if longest is None else round(longest[1] * 1e3, 2),
            }
        )
    print(
        json.dumps(
            {
                "idle_worst_ms": report["idle_worst_ms"],
                "load_worst_ms": report["load_worst_ms"],
                "steps_ms": by_kind,
                "worst_ticks": worst,
            }
        )
    )


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: dict[str, list[float]] = {}
    for r in rounds:
        for kind, values in r["steps_ms"].items():
            kinds.setdefault(kind, []).extend(values)
    table = {}
    for kind, values in sorted(kinds.items()):
        ordered = sorted(values)
        table[kind] = {
            "steps": len(ordered) // len(rounds),
            "median_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] if len(ordered) > 1 else 0, 2),
            "longest_ms": round(ordered[-1], 2),
        }
    return {
        "idle_worst_ms": [round(r["idle_worst_ms"], 2) for r in rounds],
        "load_worst_ms": [round(r["load_worst_ms"], 2) for r in rounds],
        "steps": table,
        "worst_ticks": [t for r in rounds for t in r["worst_ticks"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("SDK", "ENDPOINT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    peers.ensure_venvs()
    rounds: dict[str, list[dict[str, Any]]] = {sdk: [] for sdk in SDKS}
    with (
        tempfile.TemporaryDirectory() as logs,
        peers.server("sink", [peers.PEERS_PY, peers.HERE / "sink.py"], Path(logs)) as sink,
    ):
        for _ in range(args.rounds):
            for sdk in SDKS:
                done = subprocess.run(
                    [str(peers.OURS_PY), __file__, "--child", sdk, sink],
                    capture_output=True,
                    text=True,
                    timeout=600,
                    cwd=peers.HERE,
                    env=peers.clean_env(),
                    check=True,
                )
                rounds[sdk].append(json.loads(done.stdout.strip().splitlines()[-1]))
    results = {sdk: summarize(r) for sdk, r in rounds.items()}
    for sdk, summary in results.items():
        print(f"\n{sdk}: worst lag {summary['load_worst_ms']} ms, idle {summary['idle_worst_ms']}")
        print(f"  {'step':26s} {'steps':>6s} {'median':>8s} {'p99':>7s} {'longest':>8s}")
        for kind, row in summary["steps"].items():
            print(
                f"  {kind:26s} {row['steps']:6d} {row['median_ms']:8.3f} {row['p99_ms']:7.2f}"
                f" {row['longest_ms']:8.2f}"
            )
        worst = summary["worst_ticks"]
        print(
            "  worst ticks: "
            + "; ".join(
                f"{t['late_ms']} ms late, longest step {t['longest_step']}"
                f" {t['longest_step_ms']} ms"
                for t in sorted(worst, key=lambda t: -t["late_ms"])[:4]
            )
        )
    RESULTS.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "machine": peers.machine(),
                "rounds": args.rounds,
                "events": EVENTS,
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
