"""Ours against ours: this checkout's SDK and a baseline commit's, in alternating fresh processes.

    python3 benchmarks/sdk_ab.py --baseline REV [--rounds 3] [--quick]

The peers benchmark's workloads (``peers/workload.py``) for both of our
modes, with the package imported from a copy of the baseline commit for one
side and from this checkout for the other: the hot path (plain and awaited
calls), the worst loop lag above the idle floor (100 asyncio tasks; in
thread mode their calls are plain calls on the module-level tracker), and
end to end into the null sink and into a real ``agentsight serve`` on
SQLite (this checkout's collector for both sides).  Each round runs every
case once per side, which side goes first alternating; the figures are
medians over the rounds and the ratio of this checkout against the
baseline.  Written to ``results/sdk_ab.json`` (``--quick``: the temp
directory) and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
import run as peers  # noqa: E402 - the peers benchmark's helpers

OURS = ["ours-async", "ours-sync"]


def checkout(rev: str, into: Path) -> Path:
    """The package of commit *rev*, extracted into *into*."""
    archive = subprocess.run(
        ["git", "archive", rev, "agentsight"], cwd=peers.ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def one(
    case: str, sdk: str, tree: Path | None, sink: str, key: str, plan: Any, logs: Path, n: int
) -> dict[str, float]:
    """One case in a fresh process, with our package from *tree* (None: this checkout)."""
    if tree is None:
        os.environ.pop("BENCH_AGENTSIGHT_TREE", None)
    else:
        os.environ["BENCH_AGENTSIGHT_TREE"] = str(tree)
    if case == "hot":
        report = peers.workload(sdk, "hot", sink, key, plan, logs)
        out = {"hot_ns": statistics.median(report["blocks_ns"])}
        if report.get("awaited_blocks_ns"):
            out["awaited_ns"] = statistics.median(report["awaited_blocks_ns"])
        return out
    if case == "loop":
        report = peers.workload(sdk, "loop", sink, key, plan, logs)
        return {"loop_above_idle_ms": (report["load_worst_ms"] - report["idle_worst_ms"])}
    if case == "e2e_sink":
        row = peers.e2e_into_sink(sdk, sink, key, plan, logs)
        return {"sink_events_per_s": row["events_per_s"], "sink_lost": row["lost"]}
    row = peers.e2e_into_collector(sdk, plan, logs, n)
    return {"collector_events_per_s": row["events_per_s"], "collector_lost": row["lost"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the peers' quick sizes")
    parser.add_argument(
        "--cases",
        default="hot,loop,e2e_sink,e2e_collector",
        help="comma-separated: hot, loop, e2e_sink, e2e_collector",
    )
    args = parser.parse_args()
    plan = peers.QUICK if args.quick else peers.FULL
    peers.ensure_venvs()
    base_rev = subprocess.run(
        ["git", "rev-parse", "--short", args.baseline],
        cwd=peers.ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=peers.ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    logs = Path(tempfile.mkdtemp(prefix="agentsight-ab-"))
    started = time.monotonic()
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    try:
        baseline = checkout(args.baseline, Path(tempfile.mkdtemp(prefix="agentsight-base-")))
        sides = {"baseline": baseline, "current": None}
        key = peers.new_key(logs / "keys.db")
        with peers.server("sink", [peers.PEERS_PY, HERE / "peers" / "sink.py"], logs) as sink:
            for r in range(args.rounds):
                print(f"round {r + 1} of {args.rounds}", flush=True)
                order = ["baseline", "current"] if r % 2 == 0 else ["current", "baseline"]
                for case in args.cases.split(","):
                    for sdk in OURS:
                        for side in order:
                            figures = one(case, sdk, sides[side], sink, key, plan, logs, r)
                            for name, value in figures.items():
                                cell = samples.setdefault(sdk, {}).setdefault(name, {})
                                cell.setdefault(side, []).append(value)
                            shown = ", ".join(f"{k} {v:,.1f}" for k, v in figures.items())
                            print(f"  {case:14} {sdk:10} {side:8} {shown}", flush=True)
    finally:
        os.environ.pop("BENCH_AGENTSIGHT_TREE", None)
        shutil.rmtree(logs, ignore_errors=True)
    summary: dict[str, Any] = {}
    for sdk, figures in samples.items():
        for name, sides_ in figures.items():
            base, cur = (statistics.median(sides_[s]) for s in ("baseline", "current"))
            summary.setdefault(sdk, {})[name] = {
                "baseline": round(base, 1),
                "current": round(cur, 1),
                "current_vs_baseline": round(cur / base, 3) if base else None,
                "rounds": {s: [round(v, 1) for v in vs] for s, vs in sides_.items()},
            }
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": peers.machine(),
        "baseline": base_rev,
        "current": head,
        "command": "python3 benchmarks/sdk_ab.py --baseline "
        + args.baseline
        + (" --quick" if args.quick else "")
        + f" --rounds {args.rounds} --cases {args.cases}",
        "plan": asdict(plan),
        "results": summary,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    into = Path(tempfile.gettempdir()) if args.quick else peers.RESULTS
    path = into / ("agentsight-sdk-ab-quick.json" if args.quick else "sdk_ab.json")
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nmedians of {args.rounds} rounds, {base_rev} (baseline) -> {head} (current):")
    for sdk, figures in summary.items():
        for name, row in figures.items():
            print(
                f"  {sdk:10} {name:24} {row['baseline']:>12,.1f} -> {row['current']:>12,.1f}"
                f"  x{row['current_vs_baseline']}"
            )
    print(f"written to {path} in {report['minutes']} minutes")


if __name__ == "__main__":
    main()
