"""Fixtures of the OTLP intake tests: a real collector over SQLite and over PostgreSQL.

Every test that takes ``collector`` runs twice, once per backend.  The
OpenTelemetry exporter is the real one (``requests``, blocking): the tests
run it on a worker thread, never on the loop the collector answers from.
"""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"
