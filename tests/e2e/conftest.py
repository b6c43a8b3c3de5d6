"""End-to-end fixtures: a real collector process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.collector import CollectorProcess


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path / "collector.db")
    try:
        yield process
    finally:
        assert process.stop() == 0, "".join(process.log)
