"""Fixtures of the metrics tests: a real collector over SQLite and over PostgreSQL.

Every test that takes ``collector`` runs twice, once per backend: both must
give the same figures, the ones computed by hand in the tests.
"""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"
