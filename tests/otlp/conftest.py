"""Fixtures of the OTLP intake tests: a real collector over SQLite and over PostgreSQL.

Every test that takes ``collector`` runs twice, once per backend.  The
OpenTelemetry exporter is the real one (``requests``, blocking): the tests
run it on a worker thread, never on the loop the collector answers from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.server import pg_helpers
from tests.server.collector_helpers import Collector, run_collector


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"


@pytest.fixture(scope="session")
def otlp_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database for the OTLP tests (skips without a server)."""
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
        yield tmp_path / "otlp.db"
        return
    url = pg_helpers.create_schema(request.getfixturevalue("otlp_postgres"))
    try:
        yield url
    finally:
        pg_helpers.drop_schema(url)


@pytest.fixture
async def collector(database_url: Path | str) -> AsyncIterator[Collector]:
    """A collector with projects A and B, one key each."""
    async with run_collector(database_url) as running:
        yield running
