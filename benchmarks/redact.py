"""What redaction costs a tracking call: ``redact=`` unset, a trivial function, and ``pii``.

    .venv/bin/python benchmarks/redact.py [--calls N] [--rounds R]

Nanoseconds per ``track_human_message`` call in both modes (inside ``async
with``, and plain calls from sync code in thread mode), timed as
``hot_path.py`` times them (medians of 100-call blocks, the background
delivering to an in-memory transport), for:

- redaction unset: the hot path as it is without redaction;
- ``redact=`` a function that returns its argument: what routing every
  message, its metadata values included, through a function costs, without
  the function's own work;
- ``redact=pii`` on three messages: ``hot_path.py``'s 200 characters of
  ``x`` with its 4-key metadata, a 180-character chat message with an order
  number and no personal data, and a 160-character one with an e-mail
  address, a phone number and a card number (each with the same metadata).

And ``pii()`` alone on each of the three texts, and on 100,000-character
texts built to be slow (what a hostile user could send), as ns per
character.  The cases are interleaved in each round; the ratios are against
the unset call and against building the event tuple (``hot_path.py``'s
baseline), both measured in the same run.
Written to ``benchmarks/results/redact.json`` and printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import hot_path

from agentsight import __version__
from agentsight.redact import pii

RESULTS = Path(__file__).parent / "results" / "redact.json"
TEXTS = {
    "200 x": hot_path.MESSAGE,
    "chat, no personal data": (
        "Hi, I ordered a blue jacket last week (order 48213) and it has not arrived yet. Could"
        " you check where it is? I am at home most afternoons, so the courier can come then."
    ),
    "chat with e-mail, phone, card": (
        "Hi, my e-mail is ana.garcia@example.com and my phone +34 612 34 56 78; the card"
        " ending 4111 1111 1111 1111 was charged twice for order 48213, please refund it."
    ),
}


# Texts built to make patterns work hard (as in tests/sdk/test_pii.py).
HOSTILE = {
    "digit groups": "22 " * 33_333,
    "a@ repeated": "a@" * 50_000,
    "IBAN starts": "DE89 " * 20_000,
    "letters and digits": "ab12" * 25_000,
    "findings everywhere": "ana@example.com +44 20 7946 0958 4111 1111 1111 1111 " * 2_000,
}


def hostile_ns_per_char(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        pii(text)
        best = min(best, time.perf_counter_ns() - start)
    return best / len(text)


def same(text: str) -> str:
    return text


def cases() -> dict[str, Callable[[int], list[float]]]:
    modes = {"async with": hot_path.bench_async_mode, "thread mode": hot_path.bench_thread_mode}
    found: dict[str, Callable[[int], list[float]]] = {}
    for mode, bench in modes.items():
        found[f"{mode}: unset"] = bench
        found[f"{mode}: redact=same (returns its argument)"] = lambda calls, bench=bench: bench(
            calls, redact=same
        )
        for name, text in TEXTS.items():
            found[f"{mode}: redact=pii, {name}"] = lambda calls, bench=bench, text=text: bench(
                calls, message=text, redact=pii
            )
    for name, text in TEXTS.items():
        found[f"pii() alone, {name}"] = lambda calls, text=text: hot_path._blocks(
            lambda: pii(text), calls
        )
    found["baseline: build the event tuple"] = hot_path.bench_event_tuple
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000, help="per case and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    benches = cases()
    samples: dict[str, list[float]] = {name: [] for name in benches}
    hostile: dict[str, list[float]] = {name: [] for name in HOSTILE}
    for number in range(args.rounds):  # interleaved: noise hits every case alike
        print(f"round {number + 1} of {args.rounds}", flush=True)
        for name, bench in benches.items():
            samples[name] += bench(args.calls)
        for name, text in HOSTILE.items():
            hostile[name].append(hostile_ns_per_char(text))
    base = statistics.median(samples["baseline: build the event tuple"])
    results: dict[str, dict[str, Any]] = {}
    for name in benches:
        row: dict[str, Any] = hot_path._summary(samples[name])
        mode = name.split(":")[0]
        unset = samples.get(f"{mode}: unset")
        if unset is not None:
            row["x_unset"] = round(row["median_ns"] / statistics.median(unset), 2)
            row["added_ns"] = round(row["median_ns"] - statistics.median(unset), 1)
        row["x_event_tuple"] = round(row["median_ns"] / base, 2)
        per_round = len(samples[name]) // args.rounds
        row["rounds_median_ns"] = [
            round(statistics.median(samples[name][i * per_round : (i + 1) * per_round]), 1)
            for i in range(args.rounds)
        ]
        results[name] = row
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {sys.version.split()[0]}",
        "agentsight": __version__,
        "command": f".venv/bin/python benchmarks/redact.py --calls {args.calls} "
        f"--rounds {args.rounds}",
        "texts": TEXTS,
        "results": results,
        "hostile_ns_per_char": {
            name: round(statistics.median(values), 1) for name, values in hostile.items()
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    width = max(map(len, results))
    print(f"{'case':{width}}  median ns  p99 ns  x unset  added ns  x event tuple")
    for name, row in results.items():
        x_unset = f"{row['x_unset']:7.2f}" if "x_unset" in row else " " * 7
        added = f"{row['added_ns']:8.0f}" if "added_ns" in row else " " * 8
        print(
            f"{name:{width}}  {row['median_ns']:9.0f} {row['p99_ns']:7.0f}  {x_unset}  "
            f"{added}  {row['x_event_tuple']:13.2f}"
        )
    for name, value in report["hostile_ns_per_char"].items():
        print(f"pii() on 100,000 characters of {name}: {value:.0f} ns per character")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
