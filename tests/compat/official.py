"""The official ``agentsight`` packages, each in a virtual environment of its own.

They share our package's name, so they never go near ``.venv``: each pinned
version gets ``.cache/official-sdks/<version>/``, built once and kept between
runs (a ``.installed`` file marks a complete one).  Without the package index
the tests that need them skip, saying why; under ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / ".cache" / "official-sdks"
VERSIONS = ("0.0.44", "0.1.4")


def _index_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def official_python(version: str) -> Path:
    """The Python of a virtual environment holding ``agentsight==version`` only."""
    home = ROOT / version
    python = home / "bin" / "python"
    if (home / ".installed").exists() and python.exists():
        return python
    shutil.rmtree(home, ignore_errors=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*pip, f"agentsight=={version}"], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        why = f"pip could not install agentsight=={version}: {done.stderr[-500:]}"
        if os.environ.get("CI") == "true" or _index_reachable():
            pytest.fail(why)
        pytest.skip(f"the package index cannot be reached; {why}")
    (home / ".installed").write_text(version)
    return python
