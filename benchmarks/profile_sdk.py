"""Where the SDK's time goes: pyinstrument profiles of the hot path and of the flusher.

    python3 benchmarks/profile_sdk.py [--events 100000]

Runs the end-to-end case of ``benchmarks/peers`` (user messages of 200
characters with a 4-key metadata dict, awaited inside ``async with``, then
the flush at exit) into the loopback null sink under pyinstrument, in a
fresh process, and writes the call tree to
``benchmarks/results/profile_e2e_async.txt``; the same for the plain calls
of thread mode (``profile_e2e_sync.txt``: the calling thread only, since
pyinstrument follows one thread; the pipeline's work shows in the async
one).  Read them for the shape, not the totals: the profiler itself slows
every Python call down.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

import run as peers  # noqa: E402  (benchmarks/peers/run.py: venvs, servers, null sink)

RESULTS = HERE / "results"


def profile(sdk: str, sink: str, events: int, out: Path) -> None:
    command = [
        str(peers.OURS_PY),
        "-m",
        "pyinstrument",
        "--hide-regex=asyncio|selectors|importlib|<frozen",
        "-o",
        str(out),
        *peers.e2e_arguments(sdk, sink, "bench", events),
    ]
    subprocess.run(
        command,
        check=True,
        timeout=600,
        cwd=peers.HERE,
        env=peers.clean_env(),
        stdout=subprocess.DEVNULL,
    )
    print(f"written {out}")


def ensure_pyinstrument() -> None:
    """pyinstrument is no dependency of the project: installed into ``.venv`` on first use."""
    found = subprocess.run(
        [str(peers.OURS_PY), "-c", "import pyinstrument"], capture_output=True, check=False
    )
    if found.returncode != 0:
        subprocess.run(
            [str(peers.OURS_PY), "-m", "pip", "install", "--quiet", "pyinstrument>=5"],
            check=True,
            timeout=600,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    peers.ensure_venvs()
    ensure_pyinstrument()
    with tempfile.TemporaryDirectory(prefix="agentsight-profile-") as scratch:
        sink_cmd = [peers.PEERS_PY, peers.HERE / "sink.py", "--port", "0"]
        with peers.server("sink", sink_cmd, Path(scratch)) as sink:
            for sdk, name in (("ours-async", "async"), ("ours-sync", "sync")):
                profile(sdk, sink, args.events, RESULTS / f"profile_e2e_{name}.txt")


if __name__ == "__main__":
    main()
