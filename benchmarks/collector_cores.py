"""Why the collector on SQLite runs on one core: its threads take turns on the GIL.

Two measurements, each repeated and interleaved, medians written to
``results/collector_cores.json``:

1. **The pipeline alone.**  The SDK's own batches of the end-to-end workload
   (as ``ingest_cpu.py`` makes them) go through the collector's stages,
   parse + validate, then ``write_batch`` on a fresh SQLite file, three ways:
   ``serial`` (one thread does both, batch after batch); ``thread`` (a writer
   thread writes while the main thread parses the next batch: what the
   collector does); ``process`` (the same with the writer in a process of its
   own, the validated events pickled through a pipe).  Wall microseconds per
   event, and the cores the whole used (CPU time / wall time).
2. **End to end.**  ``agentsight serve`` on SQLite while the peers' workload
   tracks 100,000 events into it (``peers/workload.py --case e2e``, ours in
   ``async with``): events per second, the collector's CPU per event and cores
   (from ``/proc``), the SDK's CPU per event; with the collector's GIL switch
   interval at Python's 5 ms and shorter (``sys.setswitchinterval``); and once
   more with the collector's storage writing nothing (its ``write_batch``
   replaced by a no-op in the collector's process: a diagnostic of what the
   rest of the collector costs, not a figure of the collector).

    .venv/bin/python benchmarks/collector_cores.py [--rounds 3]

Linux only (``/proc``); all traffic on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
sys.path.insert(0, str(HERE))

import run as peers  # noqa: E402  (benchmarks/peers/run.py: servers, the workload)
from ingest_cpu import _sdk_bodies  # noqa: E402

RESULTS = HERE / "results" / "collector_cores.json"
MODES = ("serial", "thread", "process")
SWITCH_INTERVALS = (0.005, 0.001, 0.0002)  # 0.005: Python's default


def _checked(body: bytes, validator: Any) -> list[Any]:
    from agentsight.server._http._body import parse_json

    value, suspect = parse_json(zlib.decompress(body, 47))
    return list(validator.check_batch(value, unicode_suspect=suspect).events)


def _writer(path: Path, receive: Callable[[], Any], ready: Callable[[], None] = str) -> None:
    from agentsight.server.storage.sqlite._schema import connect
    from agentsight.server.storage.sqlite._write import write_batch

    connection = connect(path, 5.0, writer=True)
    ready()
    try:
        while (events := receive()) is not None:
            write_batch(connection, 1, events)
    finally:
        connection.close()


def _process_writer(path: Path, pipe: Connection) -> None:
    _writer(path, pipe.recv, lambda: pipe.send(time.process_time()))
    pipe.send(time.process_time())  # its CPU time while it wrote: the difference


def pipeline(mode: str, bodies: list[bytes]) -> dict[str, float]:
    """Wall microseconds per event and cores used, parse + validate + write, one way."""
    import queue

    from agentsight.server import ServerOptions
    from agentsight.server._ingest._validate import Validator
    from agentsight.server.storage.sqlite._schema import connect, migrate

    validator = Validator(ServerOptions())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        migrate(path, 5.0)
        setup = connect(path, 5.0)
        setup.execute("INSERT INTO projects (name, created_at) VALUES ('bench', 0)")
        setup.close()
        events, child_cpu = 0, 0.0
        if mode == "process":  # started and connected before the clock starts
            ours, theirs = multiprocessing.Pipe()
            child = multiprocessing.get_context("spawn").Process(
                target=_process_writer, args=(path, theirs)
            )
            child.start()
            child_cpu = -ours.recv()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        if mode == "serial":
            from agentsight.server.storage.sqlite._write import write_batch

            connection = connect(path, 5.0, writer=True)
            for body in bodies:
                checked = _checked(body, validator)
                events += len(checked)
                write_batch(connection, 1, checked)
            connection.close()
        elif mode == "thread":
            jobs: queue.Queue[Any] = queue.Queue(2)
            writer = threading.Thread(target=_writer, args=(path, jobs.get))
            writer.start()
            for body in bodies:
                checked = _checked(body, validator)
                events += len(checked)
                jobs.put(checked)
            jobs.put(None)
            writer.join()
        else:
            for body in bodies:
                checked = _checked(body, validator)
                events += len(checked)
                ours.send(checked)
            ours.send(None)
            child_cpu += ours.recv()
            child.join()
        wall = time.perf_counter() - started
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    if mode == "process":
        cpu += child_cpu
    return {"us_per_event": wall / events * 1e6, "cores": cpu / wall}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Replaces the storage's write_batch with one that stores nothing: what the
# collector costs without SQLite (a diagnostic, never a figure of the collector).
_NO_WRITE = (
    "from agentsight.server.storage import _sqlite, _base\n"
    "async def _none(self, project_id, events):\n"
    "    return _base.WriteResult(accepted=len(events), duplicates=0)\n"
    "_sqlite.SQLiteStorage.write_batch = _none\n"
)


def end_to_end(interval: float, logs: Path, n: int, *, write: bool = True) -> dict[str, float]:
    """Ours into ``agentsight serve`` (switch interval *interval*): rate, CPU, cores.

    ``write=False``: the collector's storage stores nothing (see ``_NO_WRITE``).
    """
    db = logs / f"e2e-{n}.db"
    key = peers.new_key(db)
    launch = (
        ("" if write else _NO_WRITE)
        + f"import sys; sys.setswitchinterval({interval}); sys.argv[0] = 'agentsight'\n"
        "from agentsight.server._cli import main; sys.exit(main())"
    )
    serve: list[str | Path] = [peers.OURS_PY, "-c", launch, "serve", "--db", db, "--port", "0"]
    plan = peers.Plan(1, 1, 1, 1, 0.1, 100_000, 1)
    with peers.server(f"e2e-{n}", serve, logs) as url:
        found = subprocess.run(
            ["pgrep", "-f", "--", f"serve --db {db}"], capture_output=True, text=True, check=True
        )
        pid = int(found.stdout.split()[0])
        collector0 = _cpu_seconds(pid)
        sdk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = peers.workload("ours-async", "e2e", url, key, plan, logs)
        sdk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        collector1 = _cpu_seconds(pid)
        stored = peers.stored_messages(url, key) if write else report["tracked"]
    seconds = report["stopped_at"] - report["first_call_at"]
    sdk_cpu = (sdk1.ru_utime + sdk1.ru_stime) - (sdk0.ru_utime + sdk0.ru_stime)
    for path in logs.glob(f"e2e-{n}.db*"):
        path.unlink()
    if stored != report["tracked"]:
        raise RuntimeError(f"stored {stored} of {report['tracked']} events")
    return {
        "events_per_s": stored / seconds,
        "collector_us_per_event": (collector1 - collector0) / stored * 1e6,
        "collector_cores": (collector1 - collector0) / seconds,
        "sdk_us_per_event": sdk_cpu / stored * 1e6,  # its process start and import included
    }


def _medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in rounds), 2) for key in rounds[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bodies = asyncio.run(_sdk_bodies())
    alone: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    e2e: dict[float, list[dict[str, float]]] = {i: [] for i in SWITCH_INTERVALS}
    no_write: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        logs = Path(folder)
        for n in range(args.rounds):
            for mode in MODES:
                alone[mode].append(pipeline(mode, bodies))
                print(f"round {n + 1} pipeline {mode:8} {alone[mode][-1]}", flush=True)
            for interval in SWITCH_INTERVALS:
                e2e[interval].append(end_to_end(interval, logs, len(e2e[interval]) + n * 10))
                print(f"round {n + 1} e2e switch {interval:<7} {e2e[interval][-1]}", flush=True)
            no_write.append(end_to_end(0.005, logs, 100 + n, write=False))
            print(f"round {n + 1} e2e, nothing written {no_write[-1]}", flush=True)
    report = {
        "benchmark": "the collector's cores: its pipeline alone (serial, writer thread, "
        "writer process) and end to end into agentsight serve by GIL switch interval",
        "python": platform.python_version(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}",
        "rounds": args.rounds,
        "pipeline": {mode: _medians(rounds) for mode, rounds in alone.items()},
        "end_to_end_by_switch_interval": {str(i): _medians(r) for i, r in e2e.items()},
        "end_to_end_nothing_written": _medians(no_write),
    }
    print(json.dumps(report, indent=2))
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
