"""Fixtures of the collector tests: a real collector on 127.0.0.1, real SQLite, real client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from collector_helpers import Collector, run_collector


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"


@pytest.fixture
async def collector(tmp_path: Path) -> AsyncIterator[Collector]:
    """A collector with default options and two projects, A and B, one key each."""
    async with run_collector(tmp_path / "collector.db") as running:
        yield running
