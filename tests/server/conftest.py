"""Fixtures of the collector tests: a real collector on 127.0.0.1, a real database, real client.

Every test that stores through the ``database`` fixture (the ``collector``
fixture included) runs twice: on a SQLite file and on a PostgreSQL schema.
That is the storage contract: both backends give the same answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.server import pg_helpers
from tests.server.collector_helpers import Collector, run_collector
from tests.server.pg_helpers import Database


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test."""
    name: str = request.param
    return name


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """Make empty databases by name: SQLite files in tmp_path, or PostgreSQL schemas."""
    if backend == "sqlite":
        yield lambda name: tmp_path / f"{name}.db"
        return
    server: str = request.getfixturevalue("postgres_database")
    made: list[str] = []

    def make(name: str) -> str:
        made.append(pg_helpers.create_schema(server))
        return made[-1]

    try:
        yield make
    finally:
        for url in made:
            pg_helpers.drop_schema(url)


@pytest.fixture
async def collector(database: Database) -> AsyncIterator[Collector]:
    """A collector with default options and two projects, A and B, one key each."""
    async with run_collector(database("collector")) as running:
        yield running
