"""Throwaway PostgreSQL databases and schemas for the storage tests.

The server comes from ``AGENTSIGHT_TEST_POSTGRES_URL`` (``.ci/run`` starts one
with ``.ci/postgres.sh``).  Each test session gets a fresh database, each test
a fresh schema in it (selected with ``search_path`` in the URL), so tests
never see each other's rows.  Without the variable the PostgreSQL tests skip,
except under ``CI=true``, where a missing server is a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
#: The ``database`` fixture: an empty database by name (a SQLite path or a PostgreSQL URL).
Database = Callable[[str], "Path | str"]

# Read at import: the autouse clean_environ fixture hides AGENTSIGHT_* from tests.
SERVER_URL = os.environ.get("AGENTSIGHT_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_server() -> str:
    """The server URL; skip (or, in CI, fail) when there is none."""
    reason = ""
    if not SERVER_URL:
        reason = "no PostgreSQL: set AGENTSIGHT_TEST_POSTGRES_URL (source .ci/postgres.sh)"
    else:
        try:
            import asyncpg  # noqa: F401
        except ImportError:
            reason = "asyncpg is not installed: pip install -e '.[server,postgres]' --group dev"
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return SERVER_URL


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to its end on a loop of its own thread (safe inside any test)."""

    async def call() -> T:
        return await make()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, call()).result(timeout=120)


def with_database(url: str, database: str) -> str:
    """*url* pointing at another database of the same server."""
    base, _, _ = url.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}"


async def _execute(url: str, *statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def create_database(server_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"agentsight_t_{uuid.uuid4().hex[:12]}"
    run_sync(lambda: _execute(server_url, f'CREATE DATABASE "{name}"'))
    return with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    """Drop the database of *url*, closing any connection left to it."""
    name = url.rpartition("/")[2].partition("?")[0]
    run_sync(lambda: _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_schema(database_url: str) -> str:
    """A new empty schema in the database; a URL whose connections use it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    run_sync(lambda: _execute(database_url, f'CREATE SCHEMA "{name}"'))
    return f"{database_url}?search_path={name}"


def drop_schema(url: str) -> None:
    """Drop the schema of a URL made by :func:`create_schema`."""
    base, _, query = url.partition("?")
    name = query.partition("=")[2]
    run_sync(lambda: _execute(base, f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one query on *url*."""
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()
