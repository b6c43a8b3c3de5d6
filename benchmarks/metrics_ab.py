"""``GET /v1/metrics`` of two commits of ours on the same data, queried alternately.

    .venv/bin/python benchmarks/metrics_ab.py --baseline REV [--current REV]
        [--events 1000000] [--rounds 7]

``metrics.py`` times one commit per run, and two runs minutes apart differ by
more than most changes do on this shared machine.  Here each side fills its
own SQLite file with the same events (``metrics.py``'s ``fill``, seeded, with
that side's storage code), both collectors run at once, and each round asks
every query of both, which side goes first alternating; a round's ratio
compares two answers taken seconds apart.  The figures are the medians of
each side and the median of the per-round ratios (current / baseline).
``--current`` defaults to this checkout.  Written to
``results/metrics_ab.json`` (``--results`` names another file) and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "metrics_ab.json"


def _checkout(rev: str, into: Path) -> Path:
    """The package of commit *rev*, extracted into *into*."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", rev, "agentsight"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _short(rev: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def _env(tree: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree if tree is not None else ROOT)
    return env


async def _child_fill(db: Path, events: int) -> None:
    """In a child process: fill *db* with this side's code; print an admin key."""
    sys.path.insert(0, str(HERE))
    from metrics import fill

    from agentsight._keys import generate_key, hash_key, redact
    from agentsight.server import open_storage

    storage = await open_storage(db)
    key = generate_key()
    await storage.create_key("bench", hash_key(key), redact(key), scope="admin")
    found = await storage.find_key(hash_key(key))
    assert found is not None
    counts = await fill(storage, found.project_id, events)
    await storage.aclose()
    print(json.dumps({"key": key, **counts}), flush=True)


async def _child_serve(db: Path) -> None:
    """In a child process: a collector over *db* on 127.0.0.1 until stdin closes."""
    from aiohttp import web

    from agentsight.server import create_app, open_storage

    runner = web.AppRunner(create_app(await open_storage(db)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await runner.cleanup()


async def _alternate(
    sides: dict[str, tuple[int, str]], queries: dict[str, dict[str, str]], rounds: int
) -> dict[str, dict[str, list[float]]]:
    import aiohttp

    seconds: dict[str, dict[str, list[float]]] = {}
    sessions = {
        side: aiohttp.ClientSession(
            f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        )
        for side, (port, key) in sides.items()
    }
    try:
        for r in range(rounds):
            order = ["baseline", "current"] if r % 2 == 0 else ["current", "baseline"]
            for name, params in queries.items():
                for side in order:
                    begin = time.perf_counter()
                    async with sessions[side].get("/v1/metrics", params=params) as answer:
                        body = await answer.json()
                        assert answer.status == 200, body
                    took = time.perf_counter() - begin
                    seconds.setdefault(name, {}).setdefault(side, []).append(took)
                    print(f"  round {r + 1} {name:34} {side:8} {took:.3f} s", flush=True)
    finally:
        for session in sessions.values():
            await session.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="the commit to compare against")
    parser.add_argument("--current", help="the commit measured (default: this checkout)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--child-fill", nargs=2, metavar=("DB", "EVENTS"), help=argparse.SUPPRESS)
    parser.add_argument("--child-serve", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_fill:
        asyncio.run(_child_fill(Path(args.child_fill[0]), int(args.child_fill[1])))
        return
    if args.child_serve:
        asyncio.run(_child_serve(Path(args.child_serve)))
        return
    if not args.baseline:
        parser.error("--baseline: a commit is required")

    sys.path.insert(0, str(HERE))
    from metrics import QUERIES

    folder = Path(tempfile.mkdtemp(prefix="agentsight-metrics-ab-"))
    servers: list[subprocess.Popen[str]] = []
    try:
        trees: dict[str, Path | None] = {
            "baseline": _checkout(args.baseline, folder / "baseline"),
            "current": _checkout(args.current, folder / "current") if args.current else None,
        }
        fills: dict[str, dict[str, Any]] = {}
        sides: dict[str, tuple[int, str]] = {}
        for side, tree in trees.items():
            db = folder / f"{side}.db"
            print(f"filling {side} ({args.events:,} events)", flush=True)
            begin = time.perf_counter()
            out = subprocess.run(
                [sys.executable, __file__, "--child-fill", str(db), str(args.events)],
                env=_env(tree),
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            fills[side] = json.loads(out.strip().splitlines()[-1])
            fills[side]["fill_s"] = round(time.perf_counter() - begin, 1)
            ms = fills[side].pop("write_batch_ms_per_1000") * 1000
            fills[side]["write_batch_ms_per_1000_events"] = round(ms, 1)
            server = subprocess.Popen(
                [sys.executable, __file__, "--child-serve", str(db)],
                env=_env(tree),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            servers.append(server)
            assert server.stdout is not None
            sides[side] = (int(server.stdout.readline()), fills[side].pop("key"))
        seconds = asyncio.run(_alternate(sides, QUERIES, args.rounds))
    finally:
        for server in servers:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)

    summary: dict[str, Any] = {}
    for name, by_side in seconds.items():
        base, cur = by_side["baseline"], by_side["current"]
        summary[name] = {
            "baseline_median_s": round(statistics.median(base), 3),
            "current_median_s": round(statistics.median(cur), 3),
            "current_vs_baseline": round(
                statistics.median(c / b for c, b in zip(cur, base, strict=True)), 3
            ),
            "rounds_s": {
                "baseline": [round(s, 3) for s in base],
                "current": [round(s, 3) for s in cur],
            },
        }
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus,"
        f" Python {platform.python_version()}",
        "baseline": _short(args.baseline),
        "current": _short(args.current or "HEAD") + ("" if args.current else " (checkout)"),
        "events": args.events,
        "rounds": args.rounds,
        "fills": fills,
        "what": "seconds per GET /v1/metrics on SQLite, the two collectors asked alternately",
        "queries": summary,
    }
    args.results.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
