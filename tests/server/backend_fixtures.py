"""Fixtures for suites that run every test on both backends against a real collector.

A plugin of the whole suite (``tests/conftest.py`` names it): ``database_url``
gives each test an empty SQLite file or a PostgreSQL schema of its own,
``collector`` a collector on 127.0.0.1 over it with projects A and B, one key
each.  A suite's conftest may define its own of the same name instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.server import pg_helpers
from tests.server.collector_helpers import Collector, run_collector


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the suite (skips without a server)."""
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
        yield tmp_path / "collector.db"
        return
    url = pg_helpers.create_schema(request.getfixturevalue("postgres_database"))
    try:
        yield url
    finally:
        pg_helpers.drop_schema(url)


@pytest.fixture
async def collector(database_url: Path | str) -> AsyncIterator[Collector]:
    """A collector with projects A and B, one key each."""
    async with run_collector(database_url) as running:
        yield running
