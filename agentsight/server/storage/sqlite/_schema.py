"""Opening a SQLite collector database: connection settings and migrations.

Migrations are the ``migrations/sqlite_NNNN_*.sql`` files of the package,
applied in order, each in the same transaction as the ``schema_version``
bump, under ``BEGIN IMMEDIATE`` so that two processes starting at once (a
collector and ``agentsight keys create``) cannot both apply one.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "connect", "migrate"]

_MIGRATION_NAME = re.compile(r"sqlite_(\d{4})_\w+\.sql")


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("agentsight.server") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is not None:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = max(version for version, _ in _migrations())


# The writer's settings.  A checkpoint copies the WAL's pages into the database
# file (with an fsync); every 10,000 pages (about 40 MB) rather than SQLite's
# 1,000, each index page rewritten by many batches in a row is copied once, not
# once per few batches, and the file is truncated back to 64 MB afterwards.
# A 64 MiB page cache keeps the index pages that batches update in memory.
_WRITER_PRAGMAS = (
    "PRAGMA wal_autocheckpoint = 10000",
    "PRAGMA journal_size_limit = 67108864",
    "PRAGMA cache_size = -65536",
)


def connect(path: Path, busy_timeout: float, *, writer: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with our settings."""
    connection = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    # WAL with synchronous=NORMAL survives a crash of the process (not of the
    # machine's power) without an fsync per commit.
    connection.execute("PRAGMA synchronous = NORMAL")
    if writer:
        for pragma in _WRITER_PRAGMAS:
            connection.execute(pragma)
    return connection


def _statements(script: str) -> list[str]:
    """Split *script* into complete statements (executescript would commit on its own)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s.strip(" \n;")]


def _current_version(connection: sqlite3.Connection) -> int:
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(path: Path, busy_timeout: float) -> int:
    """Create or upgrade the database at *path*; return the schema version.

    Raises:
        RuntimeError: the file was written by a newer version of AgentSight.
    """
    connection = connect(path, busy_timeout)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = _current_version(connection)
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{path}: schema version {version} is newer than this collector's "
                    f"{SCHEMA_VERSION}; upgrade agentsight"
                )
            for number, script in _migrations():
                if number > version:
                    for statement in _statements(script):
                        connection.execute(statement)
                    connection.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
                    version = number
            connection.execute("COMMIT")
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        return version
    finally:
        connection.close()
