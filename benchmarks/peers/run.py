"""AgentSight side by side with the SDKs our users would pick instead, in one run.

    python3 benchmarks/peers/run.py [--quick] [--rounds N]

Creates ``benchmarks/peers/.venv`` with the pinned peers (requirements.txt:
PostHog, Segment, OpenTelemetry's BatchSpanProcessor + OTLP/HTTP exporter,
and the original ``agentsight==0.1.4``), uses the project's ``.venv`` for
ours (``dev.py``'s ``ensure_venv``), starts a loopback null sink
(``sink.py``), and runs every case of ``workload.py`` through every SDK,
each in a fresh process, rounds interleaved (the SDK order rotates each
round) so the shared machine's noise hits every SDK alike:

- hot path: ns per tracked message (median of 100-call blocks; p99 and
  p99.9 call by call, clock cost subtracted), and the first call alone;
- loop lag: worst lateness of a 1 ms ticker while 100 tasks track, against
  the idle floor of the same process, plus a no-SDK row (the workload alone);
- end to end: 100,000 events into the null sink (and, for ours, into a real
  ``agentsight serve`` on a fresh SQLite file, counting what it stored);
- peak RSS of the end-to-end process, and ``import`` time (fresh
  interpreters).

Writes ``benchmarks/results/peers.json`` (every sample summary, per round)
and ``benchmarks/results/peers.md`` (the table, ratios against the best peer
of each row, and the issue's targets met or missed).  Every process started
here is stopped on the way out, errors included; all traffic stays on
127.0.0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import venv
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS_VENV = HERE / ".venv"
PEERS_PY = PEERS_VENV / "bin" / "python"
OURS_PY = ROOT / ".venv" / "bin" / "python"
REQUIREMENTS = HERE / "requirements.txt"
RESULTS = ROOT / "benchmarks" / "results"
WORKLOAD = HERE / "workload.py"
_LISTENING = re.compile(r"listening on (http://\S+)")

#: name -> (label, python, import statement for the import-time row)
SDKS: dict[str, tuple[str, Path, str]] = {
    "posthog": ("PostHog 7.91.1", PEERS_PY, "import posthog"),
    "segment": ("Segment 2.4.0", PEERS_PY, "import segment.analytics"),
    "otel": (
        "OTel BatchSpanProcessor + OTLP/HTTP 1.45.2",
        PEERS_PY,
        "import opentelemetry.sdk.trace, opentelemetry.sdk.trace.export, "
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    ),
    "agentsight-014": ("agentsight 0.1.4 (original)", PEERS_PY, "import agentsight"),
    "ours-async": ("ours, async with", OURS_PY, "import agentsight"),
    "ours-sync": ("ours, module-level (sync)", OURS_PY, "import agentsight"),
}
PEERS = ["posthog", "segment", "otel", "agentsight-014"]
OURS = ["ours-async", "ours-sync"]
NO_SDK = "none"


@dataclass(frozen=True)
class Plan:
    rounds: int
    hot_calls: int  # block-timed calls per process
    hot_per_call: int  # call-by-call timed calls per process
    loop_events: int
    loop_idle: float  # seconds of idle-floor ticks
    e2e_events: int
    import_repeats: int  # per package per round


FULL = Plan(3, 50_000, 20_000, 20_000, 2.0, 100_000, 5)
QUICK = Plan(1, 5_000, 5_000, 5_000, 0.5, 20_000, 3)


# -- environments and processes ---------------------------------------------------------------


def ensure_venvs() -> None:
    """The peers' venv (rebuilt when requirements.txt changes) and the project's ``.venv``."""
    sys.path.insert(0, str(ROOT))
    import dev  # the project's own: creates .venv unless current

    dev.ensure_venv()
    # Bytecode for our package, as `pip install` writes it for every peer (and for a
    # user installing our wheel): an editable install run with PYTHONDONTWRITEBYTECODE
    # would otherwise compile every module at each import and time that instead.
    subprocess.run(
        [OURS_PY, "-m", "compileall", "-q", ROOT / "agentsight"],
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )
    stamp = PEERS_VENV / ".requirements-sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and PEERS_PY.exists():
        return
    print(f"creating {PEERS_VENV} with the pinned peers", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(PEERS_VENV)
    subprocess.run(
        [PEERS_PY, "-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], check=True, timeout=900
    )
    stamp.write_text(wanted)


def clean_env() -> dict[str, str]:
    """This environment without AGENTSIGHT_* settings, so only the benchmark's own apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTSIGHT_")}


@contextmanager
def server(name: str, cmd: list[str | Path], logs: Path) -> Iterator[str]:
    """A process that prints ``listening on URL``; stopped (SIGTERM, then SIGKILL) on exit."""
    log = (logs / f"{name}.log").open("w")
    process = subprocess.Popen(
        [str(c) for c in cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
        cwd=logs,
    )
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:  # drained to the end, so the pipe never fills
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            match = _LISTENING.search(line)
            if match and not ready.is_set():
                found.append(match.group(1))
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not ready.wait(60):
            raise RuntimeError(f"{name} did not start; see {log.name}")
        yield found[0]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(20)
        reader.join(5)
        log.close()


def http_json(url: str, method: str = "GET", key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def new_key(db: Path, scope: str = "ingest") -> str:
    """A key of *scope* for the project bench: ingest for the SDK, read to count what arrived."""
    command = ["keys", "create", f"--db={db}", "--project=bench", f"--scope={scope}"]
    done = subprocess.run(
        [OURS_PY, "-m", "agentsight._cli", *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=clean_env(),
    )
    return done.stdout.strip().splitlines()[-1]


def stored_messages(url: str, key: str) -> int:
    """Messages the collector stored, summed over every conversation (paginated)."""
    total, cursor = 0, ""
    for _ in range(1_000):
        page = http_json(
            f"{url}/v1/conversations?limit=500" + (f"&cursor={cursor}" if cursor else ""), key=key
        )
        total += sum(c["message_count"] for c in page["conversations"])
        cursor = page.get("next_cursor") or ""
        if not cursor:
            break
    return total


def e2e_arguments(sdk: str, endpoint: str, key: str, events: int) -> list[str]:
    """``workload.py``'s arguments for the end-to-end case (for the other benchmarks)."""
    return [
        str(WORKLOAD),
        *("--sdk", sdk, "--case", "e2e", "--endpoint", endpoint, "--key", key),
        *("--events", str(events)),
    ]


def workload(
    sdk: str, case: str, endpoint: str, key: str, plan: Plan, logs: Path
) -> dict[str, Any]:
    python = SDKS[sdk][1] if sdk in SDKS else OURS_PY
    cmd = [
        str(python),
        str(WORKLOAD),
        "--sdk",
        sdk,
        "--case",
        case,
        "--endpoint",
        endpoint,
        "--key",
        key,
        "--calls",
        str(plan.hot_calls),
        "--per-call",
        str(plan.hot_per_call),
        "--idle",
        str(plan.loop_idle),
        "--events",
        str(plan.loop_events if case == "loop" else plan.e2e_events),
    ]
    errors = logs / f"{sdk}-{case}.stderr"
    with errors.open("a") as stderr:
        stderr.write(f"--- {time.strftime('%H:%M:%S')}\n")
        stderr.flush()
        done = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=600,
            cwd=HERE,
            env=clean_env(),
        )
    if done.returncode != 0 or not done.stdout.strip():
        tail = errors.read_text()[-3000:]
        raise RuntimeError(f"{sdk} {case} failed ({done.returncode}):\n{tail}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def settled(sink: str, expected: int, quiet: float = 1.0, limit: float = 120.0) -> dict[str, Any]:
    """The sink's counters once it has *expected* events or nothing more came for *quiet* s."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while True:
        stats: dict[str, Any] = http_json(f"{sink}/_stats")
        now = time.monotonic()
        if stats["events"] >= expected or now > deadline:
            return stats
        if stats["events"] != last:
            last, since = stats["events"], now
        elif now - since >= quiet:
            return stats
        time.sleep(0.05)


def import_time(sdk: str, scratch: Path) -> tuple[float, float]:
    """Seconds ``import`` takes in a fresh interpreter, and its RSS afterwards (MB)."""
    _, python, statement = SDKS[sdk]
    code = (
        "import time, resource\n"
        "t = time.perf_counter()\n"
        f"{statement}\n"
        "t = time.perf_counter() - t\n"
        "print(t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    done = subprocess.run(
        [python, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=scratch,
        env=clean_env(),
    )
    seconds, rss = done.stdout.split()
    return float(seconds), float(rss)


# -- summaries --------------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * q) - 1)]


def hot_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    blocks = [b for r in rounds for b in r["blocks_ns"]]
    documented = [b for r in rounds for b in r.get("awaited_blocks_ns") or r["blocks_ns"]]
    calls = [c - r["clock_pair_ns"] for r in rounds for c in r["calls_ns"]]
    return {
        "median_ns": round(statistics.median(blocks), 1),
        "p99_ns": round(pct(calls, 0.99), 1),
        "p999_ns": round(pct(calls, 0.999), 1),
        "call_median_ns": round(statistics.median(calls), 1),
        "block_p99_ns": round(pct(blocks, 0.99), 1),
        "block_p999_ns": round(pct(blocks, 0.999), 1),
        "first_call_ms": round(statistics.median(r["first_call_ns"] for r in rounds) / 1e6, 2),
        "round_medians_ns": [round(statistics.median(r["blocks_ns"]), 1) for r in rounds],
        # The call as the README tells users to write it: awaited in async code (ours
        # under `async with`), plain elsewhere (sync code; the peers have no other).
        "documented_median_ns": round(statistics.median(documented), 1),
        "documented_round_medians_ns": [
            round(statistics.median(r.get("awaited_blocks_ns") or r["blocks_ns"]), 1)
            for r in rounds
        ],
        "clock_pair_ns": [r["clock_pair_ns"] for r in rounds],
        "blocks": len(blocks),
        "timed_calls": len(calls),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rounds),
    }


def loop_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return round(float(statistics.median(r[key] for r in rounds)), 2)

    above = [r["load_worst_ms"] - r["idle_worst_ms"] for r in rounds]
    return {
        "worst_ms": med("load_worst_ms"),
        "idle_worst_ms": med("idle_worst_ms"),
        "above_idle_ms": round(statistics.median(above), 2),
        "p99_ms": med("load_p99_ms"),
        "tracked_s": med("tracked_s"),
        "window_s": med("window_s"),
        "rounds": [
            {
                k: round(v, 3) if isinstance(v, float) else v
                for k, v in r.items()
                if k != "sdk_stats"
            }
            for r in rounds
        ],
    }


def e2e_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "events_per_s": round(statistics.median(r["events_per_s"] for r in rounds)),
        "lost": statistics.median(r["lost"] for r in rounds),
        "lost_max": max(r["lost"] for r in rounds),
        "seconds": round(statistics.median(r["seconds"] for r in rounds), 3),
        "calls_s": round(statistics.median(r["calls_s"] for r in rounds), 3),
        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rounds),
        "rounds": rounds,
    }


# -- the run ----------------------------------------------------------------------------------


def rotate(names: list[str], by: int) -> list[str]:
    by %= len(names)
    return names[by:] + names[:by]


def e2e_into_sink(sdk: str, sink: str, key: str, plan: Plan, logs: Path) -> dict[str, Any]:
    http_json(f"{sink}/_reset", "POST")
    report = workload(sdk, "e2e", sink, key, plan, logs)
    stats = settled(sink, report["expected_at_receiver"])
    lost = report["expected_at_receiver"] - stats["events"]
    seconds = stats["last_at"] - report["first_call_at"]
    return {
        "tracked": report["tracked"],
        "received": stats["events"],
        "lost": lost,
        "seconds": round(seconds, 3),
        "events_per_s": round((report["tracked"] - lost) / seconds),
        "calls_s": round(report["calls_s"], 3),
        "requests": stats["requests"],
        "bytes": stats["bytes"],
        "peak_rss_mb": report["peak_rss_mb"],
        "sdk_stats": report["sdk_stats"],
    }


def e2e_into_collector(sdk: str, plan: Plan, logs: Path, n: int) -> dict[str, Any]:
    db = logs / f"collector-{sdk}-{n}.db"
    key = new_key(db)
    serve: list[str | Path] = [OURS_PY, "-m", "agentsight._cli", "serve", "--db", db]
    with server(f"collector-{sdk}-{n}", [*serve, "--port", "0"], logs) as url:
        report = workload(sdk, "e2e", url, key, plan, logs)
        stored = stored_messages(url, new_key(db, "read"))
    seconds = report["stopped_at"] - report["first_call_at"]  # answers come after the commit
    for path in logs.glob(f"collector-{sdk}-{n}.db*"):
        path.unlink()
    return {
        "tracked": report["tracked"],
        "stored": stored,
        "lost": report["tracked"] - stored,
        "seconds": round(seconds, 3),
        "events_per_s": round(stored / seconds),
        "calls_s": round(report["calls_s"], 3),
        "peak_rss_mb": report["peak_rss_mb"],
        "sdk_stats": report["sdk_stats"],
    }


def say(case: str, sdk: str, text: str) -> None:
    print(f"  {case:14} {sdk:15} {text}", flush=True)


def run(plan: Plan, logs: Path) -> dict[str, dict[str, Any]]:
    raw: dict[str, dict[str, list[Any]]] = {
        case: {} for case in ("hot", "loop", "e2e_sink", "e2e_collector", "import")
    }

    def keep(case: str, sdk: str, value: Any) -> None:
        raw[case].setdefault(sdk, []).append(value)

    key = new_key(logs / "keys.db")  # a well-formed key: the SDKs check the shape
    scratch = logs / "scratch"
    scratch.mkdir()
    for sdk in [*PEERS, "ours-async"]:
        import_time(sdk, scratch)  # compile the .pyc files before anything is timed
    with server("sink", [PEERS_PY, HERE / "sink.py"], logs) as sink:
        for r in range(plan.rounds):
            print(f"round {r + 1} of {plan.rounds}", flush=True)
            order = rotate(PEERS + OURS, r)
            for sdk in order:
                http_json(f"{sink}/_reset", "POST")
                report = workload(sdk, "hot", sink, key, plan, logs)
                keep("hot", sdk, report)
                say("hot", sdk, f"{statistics.median(report['blocks_ns']):,.0f} ns/call")
            for sdk in rotate([*PEERS, *OURS, NO_SDK], r):
                report = workload(sdk, "loop", sink, key, plan, logs)
                keep("loop", sdk, report)
                say(
                    "loop",
                    sdk,
                    f"worst {report['load_worst_ms']:.1f} ms (idle {report['idle_worst_ms']:.1f})",
                )
            for sdk in order:
                row = e2e_into_sink(sdk, sink, key, plan, logs)
                keep("e2e_sink", sdk, row)
                say("e2e sink", sdk, f"{row['events_per_s']:,}/s, lost {row['lost']:,}")
            for sdk in rotate(OURS, r):
                row = e2e_into_collector(sdk, plan, logs, r)
                keep("e2e_collector", sdk, row)
                say("e2e collector", sdk, f"{row['events_per_s']:,}/s, lost {row['lost']:,}")
            for _ in range(plan.import_repeats):
                for sdk in rotate([*PEERS, "ours-async"], r):
                    keep("import", sdk, import_time(sdk, scratch))
            say("import", "all", "done")
    results: dict[str, dict[str, Any]] = {
        "hot": {sdk: hot_summary(rounds) for sdk, rounds in raw["hot"].items()},
        "loop": {sdk: loop_summary(rounds) for sdk, rounds in raw["loop"].items()},
        "e2e_sink": {sdk: e2e_summary(rounds) for sdk, rounds in raw["e2e_sink"].items()},
        "e2e_collector": {sdk: e2e_summary(rounds) for sdk, rounds in raw["e2e_collector"].items()},
        "import": {},
    }
    for sdk, samples in raw["import"].items():
        summary = {
            "ms": round(statistics.median(s for s, _ in samples) * 1e3, 1),
            "rss_after_mb": round(statistics.median(m for _, m in samples), 1),
            "samples": len(samples),
        }
        for name in OURS if sdk == "ours-async" else [sdk]:
            results["import"][name] = summary
    return results


# -- the report -------------------------------------------------------------------------------

#: (row title, case, field, which way is better, format)
ROWS: list[tuple[str, str, str, str, str]] = [
    (
        "hot path, the documented call (async code: awaited): median ns",
        "hot",
        "documented_median_ns",
        "lower",
        "{:,.0f}",
    ),
    ("hot path, plain call: median ns per call", "hot", "median_ns", "lower", "{:,.0f}"),
    ("hot path: p99 ns per call", "hot", "p99_ns", "lower", "{:,.0f}"),
    ("hot path: p99.9 ns per call", "hot", "p999_ns", "lower", "{:,.0f}"),
    ("first call (starts the SDK), ms", "hot", "first_call_ms", "lower", "{:,.2f}"),
    ("loop: worst lag above the idle floor, ms", "loop", "above_idle_ms", "lower", "{:,.1f}"),
    ("loop: p99 lag, ms", "loop", "p99_ms", "lower", "{:,.1f}"),
    ("end to end into the null sink, events/s", "e2e_sink", "events_per_s", "higher", "{:,.0f}"),
    ("events lost (null sink)", "e2e_sink", "lost", "", "{:,.0f}"),
    (
        "end to end into our collector (SQLite), events/s",
        "e2e_collector",
        "events_per_s",
        "higher",
        "{:,.0f}",
    ),
    ("events lost (our collector)", "e2e_collector", "lost", "", "{:,.0f}"),
    ("peak RSS of the end-to-end process, MB", "e2e_sink", "peak_rss_mb", "lower", "{:,.1f}"),
    ("`import` time, ms", "import", "ms", "lower", "{:,.1f}"),
]


def value(results: dict[str, dict[str, Any]], case: str, field: str, sdk: str) -> float | None:
    row = results[case].get(sdk)
    return None if row is None else float(row[field])


def best_peer(results: dict[str, dict[str, Any]], case: str, field: str, better: str) -> float:
    if case == "e2e_collector":  # peers have no collector of ours: compare with their null sink
        case = "e2e_sink"
    values = [v for sdk in PEERS if (v := value(results, case, field, sdk)) is not None]
    return min(values) if better == "lower" else max(values)


def ratio(best: float, ours: float, better: str) -> float | None:
    """How many times better ours is than the best peer (below 1: worse); None when ours is
    zero or below (a loop lag at or under the idle floor): no finite ratio."""
    if better == "lower":
        return round(best / ours, 2) if ours > 0 else None
    return round(ours / best, 2) if best > 0 else None


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    table: dict[str, dict[str, float | None]] = {}
    for title, case, field, better, _ in ROWS:
        if not better:
            continue
        best = best_peer(results, case, field, better)
        table[title] = {
            sdk: ratio(best, ours, better)
            for sdk in OURS
            if (ours := value(results, case, field, sdk)) is not None
        }
    return table


def _times(x: float | None) -> str:
    return "at the floor" if x is None else f"{x:,.1f}x"


def targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    hot, loop = results["hot"], results["loop"]
    cheapest = best_peer(results, "hot", "median_ns", "lower")
    cheapest_p99 = best_peer(results, "hot", "p99_ns", "lower")
    lightest = best_peer(results, "e2e_sink", "peak_rss_mb", "lower")
    found: list[dict[str, Any]] = []

    def add(target: str, met: bool, figure: str) -> None:
        found.append({"target": target, "met": met, "figure": figure})

    for sdk in OURS:
        x = cheapest / hot[sdk]["documented_median_ns"]
        call = "awaited" if sdk == "ours-async" else "plain"
        add(
            f"hot path of the documented call ({call}) >= 20x cheaper than the cheapest "
            f"peer ({sdk})",
            x >= 20,
            f"{hot[sdk]['documented_median_ns']:,.0f} ns vs {cheapest:,.0f} ns: {x:.1f}x",
        )
        x = cheapest / hot[sdk]["median_ns"]
        add(
            f"hot path of the plain call >= 20x cheaper than the cheapest peer ({sdk})",
            x >= 20,
            f"{hot[sdk]['median_ns']:,.0f} ns vs {cheapest:,.0f} ns: {x:.1f}x",
        )
        x = cheapest_p99 / hot[sdk]["p99_ns"]
        add(
            f"hot path p99 >= 10x better than the best peer's ({sdk})",
            x >= 10,
            f"{hot[sdk]['p99_ns']:,.0f} ns vs {cheapest_p99:,.0f} ns: {x:.1f}x",
        )
    for sdk in OURS:
        above = loop[sdk]["above_idle_ms"]
        alone = loop[NO_SDK]["above_idle_ms"]
        add(
            f"worst loop lag within 3 ms of the idle floor ({sdk})",
            above <= 3.0,
            f"{loop[sdk]['worst_ms']:.1f} ms worst, idle floor "
            f"{loop[sdk]['idle_worst_ms']:.1f} ms: {above:+.1f} ms (the workload alone: "
            f"{alone:+.1f} ms)",
        )
    for sdk in OURS:
        row = results["e2e_collector"][sdk]
        add(
            f"end to end into our collector >= 100,000 events/s, none lost ({sdk})",
            row["events_per_s"] >= 100_000 and row["lost_max"] == 0,
            f"{row['events_per_s']:,} events/s, lost {row['lost']:,} (max {row['lost_max']:,})",
        )
    imported = results["import"]["ours-async"]["ms"]
    add("`import agentsight` under 50 ms", imported < 50, f"{imported:.1f} ms")
    for sdk in OURS:
        rss = results["e2e_sink"][sdk]["peak_rss_mb"]
        add(
            f"peak RSS not above the lightest peer's ({sdk})",
            rss <= lightest,
            f"{rss:.1f} MB vs {lightest:.1f} MB",
        )
    return found


def markdown(report: dict[str, Any]) -> str:
    results = report["results"]
    names = [*PEERS, *OURS]
    head = "| | " + " | ".join(SDKS[n][0] for n in names) + " | ours ÷ best peer (async / sync) |"
    lines = [head, "|---" * (len(names) + 2) + "|"]
    for title, case, field, better, fmt in ROWS:
        cells = []
        best = best_peer(results, case, field, better or "lower") if better else None
        for sdk in names:
            v = value(results, case, field, sdk)
            text = "n/a" if v is None else fmt.format(v)
            if v is not None and sdk in PEERS and best is not None and v == best:
                text = f"**{text}**"
            cells.append(text)
        mark = " (best peer: null sink)" if case == "e2e_collector" else ""
        shown = report["ratios"].get(title, {})
        factor = " / ".join(_times(shown[s]) for s in OURS if s in shown) if shown else ""
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {factor}{mark if factor else ''} |")
    loop_floor = results["loop"][NO_SDK]
    plan = report["plan"]
    out = [
        "# AgentSight and the SDKs users would pick instead",
        "",
        f"Measured {report['date']} on {report['machine']['summary']}; load average "
        f"{report['machine']['load_before']} before, {report['machine']['load_after']} after "
        "(the machine is shared: medians, every case in a fresh process, rounds interleaved).",
        f"Versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}.",
        f"Command: `{report['command']}` ({plan['rounds']} rounds; hot path "
        f"{plan['hot_calls']:,} block-timed + {plan['hot_per_call']:,} call-timed calls per "
        f"process; loop {plan['loop_events']:,} events; end to end {plan['e2e_events']:,} events).",
        "",
        *lines,
        "",
        "Ratios: how many times better ours is than the best peer of the row (bold), "
        "below 1 means worse. Hot path: a 200-character user message with a 4-key metadata "
        "dict, each SDK's documented call, its sender running; median over 100-call blocks, "
        "p99/p99.9 call by call with the clock's own cost subtracted. First call: the "
        "first tracking call of the process, with entering the conversation block (which "
        "records the conversation for ours); ours, async with: the loop is started already by "
        "`async with`. Loop: 100 asyncio tasks "
        "tracking and yielding with a 1 ms ticker; the idle floor is the same process before "
        f"the load, and it varies with the machine's load (per-round figures in peers.json); "
        f"the workload alone (no SDK) adds {loop_floor['above_idle_ms']:+.1f} ms "
        f"(worst {loop_floor['worst_ms']:.1f} ms). End to end: from the first call until the "
        "receiver has the last event (ours into our collector: until the last batch is "
        "committed and answered); peers use their default queues, which drop when full.",
        "",
        "## Targets (issues 5 and 15)",
        "",
        *(
            f"- {'met' if t['met'] else '**missed**'}: {t['target']}: {t['figure']}"
            for t in report["targets"]
        ),
        "",
    ]
    return "\n".join(out)


def machine() -> dict[str, Any]:
    model = "cpu"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    summary = (
        f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )
    return {"summary": summary, "load_before": _load()}


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            found[name.strip()] = version.strip()
    ours = subprocess.run(
        [OURS_PY, "-c", "import agentsight; print(agentsight.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=clean_env(),
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    found["agentsight (ours)"] = f"{ours} at {commit}" if commit else ours
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and one round")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = Plan(**{**asdict(plan), "rounds": args.rounds})
    started = time.monotonic()
    ensure_venvs()
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "versions": versions(),
        "command": "python3 benchmarks/peers/run.py" + (" --quick" if args.quick else ""),
        "plan": asdict(plan),
    }
    with ExitStack() as stack:
        logs = Path(tempfile.mkdtemp(prefix="agentsight-peers-"))
        if args.keep_logs:
            print(f"logs in {logs}", flush=True)
        else:
            stack.callback(shutil.rmtree, logs, ignore_errors=True)
        report["results"] = run(plan, logs)
    report["machine"]["load_after"] = _load()
    report["ratios"] = ratios(report["results"])
    report["targets"] = targets(report["results"])
    report["minutes"] = round((time.monotonic() - started) / 60, 1)
    # A smoke run's figures are not results: they go to the temp dir, not benchmarks/results.
    into = Path(tempfile.gettempdir()) if args.quick else RESULTS
    stem = "agentsight-peers-quick" if args.quick else "peers"
    into.mkdir(parents=True, exist_ok=True)
    (into / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")
    (into / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))
    print(f"written to {into / stem}.md and .json in {report['minutes']} minutes")


if __name__ == "__main__":
    main()
