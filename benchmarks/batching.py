"""Batch size and requests in flight, measured: the defaults of the SDK come from this run.

    python3 benchmarks/batching.py [--rounds 3] [--events 100000] [--quick]

Runs the end-to-end case of ``benchmarks/peers`` (100,000 user messages,
200 characters with a 4-key metadata dict, over 100 conversations, from the
first call until the receiver has them all) through ours in both modes, with
``AGENTSIGHT_MAX_BATCH_EVENTS`` x ``AGENTSIGHT_MAX_CONCURRENT_REQUESTS`` set
per process, into the loopback null sink and into a real ``agentsight serve``
on a fresh SQLite file.  Configurations are interleaved and rotated each
round, so the shared machine's noise hits them alike; figures are medians
and ratios against the current defaults measured in the same run.  Writes
``benchmarks/results/batching.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

import run as peers  # noqa: E402  (benchmarks/peers/run.py: venvs, servers, null sink)

RESULTS = HERE / "results" / "batching.json"
DEFAULT = (1000, 2)  # max_batch_events, max_concurrent_requests (the SDK's defaults)
BATCHES = (250, 500, 1000, 2000)
IN_FLIGHT = (1, 2, 4)


def _workload(
    sdk: str, endpoint: str, key: str, events: int, batch: int, in_flight: int
) -> dict[str, Any]:
    env = peers.clean_env()
    env["AGENTSIGHT_MAX_BATCH_EVENTS"] = str(batch)
    env["AGENTSIGHT_MAX_CONCURRENT_REQUESTS"] = str(in_flight)
    done = subprocess.run(
        [str(peers.OURS_PY), *peers.e2e_arguments(sdk, endpoint, key, events)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=peers.HERE,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{sdk} batch={batch} in_flight={in_flight}:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def into_sink(sdk: str, sink: str, events: int, batch: int, in_flight: int) -> float:
    peers.http_json(f"{sink}/_reset", "POST")
    report = _workload(sdk, sink, "bench", events, batch, in_flight)
    stats = peers.settled(sink, report["expected_at_receiver"])
    if stats["events"] != report["expected_at_receiver"]:
        raise RuntimeError(f"lost events: {stats}")
    return float(report["tracked"] / (stats["last_at"] - report["first_call_at"]))


def into_collector(sdk: str, logs: Path, events: int, batch: int, in_flight: int) -> float:
    db = logs / f"batching-{os.getpid()}-{time.monotonic_ns()}.db"
    key = peers.new_key(db)
    serve = [peers.OURS_PY, "-m", "agentsight._cli", "serve", "--db", db, "--port", "0"]
    with peers.server("collector", serve, logs) as url:
        report = _workload(sdk, url, key, events, batch, in_flight)
        stored = peers.stored_messages(url, key)
    for path in logs.glob(db.name + "*"):
        path.unlink()
    if stored != report["tracked"]:
        raise RuntimeError(f"collector stored {stored} of {report['tracked']}")
    return float(stored / (report["stopped_at"] - report["first_call_at"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="one round, 20,000 events")
    args = parser.parse_args()
    rounds, events = (1, 20_000) if args.quick else (args.rounds, args.events)
    peers.ensure_venvs()
    configs = [(b, f) for b in BATCHES for f in IN_FLIGHT]
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="agentsight-batching-") as scratch:
        logs = Path(scratch)
        sink_cmd = [peers.PEERS_PY, peers.HERE / "sink.py", "--port", "0"]
        with peers.server("sink", sink_cmd, logs) as sink:
            for n in range(rounds):
                for batch, in_flight in peers.rotate(configs, n * 5):
                    for sdk in ("ours-async", "ours-sync"):
                        for target in ("sink", "collector"):
                            if target == "sink":
                                rate = into_sink(sdk, sink, events, batch, in_flight)
                            else:
                                rate = into_collector(sdk, logs, events, batch, in_flight)
                            name = f"{sdk} {target} {batch} {in_flight}"
                            samples.setdefault(name, []).append(rate)
                            print(f"  round {n + 1}: {name}: {rate:,.0f} events/s", flush=True)
    medians = {name: statistics.median(rates) for name, rates in samples.items()}
    rows = []
    for sdk in ("ours-async", "ours-sync"):
        for target in ("sink", "collector"):
            base = medians[f"{sdk} {target} {DEFAULT[0]} {DEFAULT[1]}"]
            for batch, in_flight in configs:
                rate = medians[f"{sdk} {target} {batch} {in_flight}"]
                rows.append(
                    {
                        "sdk": sdk,
                        "into": target,
                        "max_batch_events": batch,
                        "max_concurrent_requests": in_flight,
                        "median_events_per_s": round(rate),
                        "x_default": round(rate / base, 2),
                    }
                )
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": peers.machine(),
        "command": "python3 benchmarks/batching.py" + (" --quick" if args.quick else ""),
        "events": events,
        "rounds": rounds,
        "default": {"max_batch_events": DEFAULT[0], "max_concurrent_requests": DEFAULT[1]},
        "rows": rows,
        "samples": samples,
    }
    into = Path(tempfile.gettempdir()) / "agentsight-batching-quick.json" if args.quick else RESULTS
    into.write_text(json.dumps(report, indent=1) + "\n")
    print(f"{'mode':11} {'into':9} {'batch':>5} {'flight':>6} {'events/s':>9} {'x default':>9}")
    for row in rows:
        print(
            f"{row['sdk']:11} {row['into']:9} {row['max_batch_events']:5} "
            f"{row['max_concurrent_requests']:6} {row['median_events_per_s']:9,} "
            f"{row['x_default']:9.2f}"
        )
    print(f"written to {into}")


if __name__ == "__main__":
    main()
