"""Fixtures of the security tests: a collector on 127.0.0.1 with projects A and B."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.server.collector_helpers import Collector

from .helpers import Secured, run_secured


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[Secured]:
    """A collector with default options, run as ``agentsight serve`` runs it."""
    async with run_secured(tmp_path / "secured.db") as running:
        yield running


@pytest.fixture
def stored(collector: Collector) -> Collector:
    """A collector with default options over SQLite, then PostgreSQL: the storage contract."""
    return collector
