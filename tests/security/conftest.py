"""Fixtures of the security tests: a collector on 127.0.0.1 with projects A and B."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.server import pg_helpers
from tests.server.collector_helpers import Collector, run_collector

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


@pytest.fixture(scope="session")
def security_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database for the security tests (skips without a server)."""
    server = pg_helpers.require_server()
    url = pg_helpers.create_database(server)
    try:
        yield url
    finally:
        pg_helpers.drop_database(server, url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """An empty database: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield tmp_path / "hostile.db"
        return
    url = pg_helpers.create_schema(request.getfixturevalue("security_postgres"))
    try:
        yield url
    finally:
        pg_helpers.drop_schema(url)


@pytest.fixture
async def stored(database_url: Path | str) -> AsyncIterator[Collector]:
    """A collector with default options over SQLite, then PostgreSQL: the storage contract."""
    async with run_collector(database_url) as running:
        yield running
