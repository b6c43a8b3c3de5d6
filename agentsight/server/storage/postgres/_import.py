"""Copying a SQLite collector database into PostgreSQL: ``agentsight migrate``.

Table by table (projects, keys, conversations, events, attachment files,
feedback, users, their grants, the audit log; not dashboard sessions), in key
order, in chunks.  Each chunk goes in with ``COPY`` in one transaction
together with its checkpoint row in ``import_checkpoints``, so an
interrupted copy resumes after the last committed chunk and never copies a
row twice.  Ids and conversation ``pk`` values are kept (listing order and
keys stay the same) and the sequences are moved past them at the end.
Finally the row counts of both sides are compared.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from .._columns import ATTRIBUTE_COLUMNS, COUNTERS, EXTRA_EVENT_COLUMNS, TOKEN_COLUMNS
from ..sqlite._schema import SCHEMA_VERSION as SQLITE_VERSION
from ._write import clean, dumps_clean, lock_rollups, refresh_statistics

__all__ = ["TABLES", "ImportError_", "Progress", "copy_sqlite", "count_rows", "migrate_sqlite"]


class ImportError_(Exception):
    """The copy cannot start or did not verify."""


_CHECKPOINT = (
    "INSERT INTO import_checkpoints (source, table_name, last_key, copied)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT (source, table_name)"
    " DO UPDATE SET last_key = excluded.last_key, copied = excluded.copied"
)


@attrs.frozen
class _Table:
    name: str
    key: str  # the SQLite column the copy walks in order
    columns: tuple[str, ...]
    sequence: str | None  # the PostgreSQL column whose sequence must follow the copied ids
    most: int | None = None  # rows per chunk at most (files: a few MiB each)


TABLES = (
    _Table("projects", "id", ("id", "name", "created_at", "retention_days"), "id"),
    _Table(
        "api_keys",
        "id",
        (
            "id",
            "project_id",
            "key_hash",
            "redacted",
            "created_at",
            "revoked_at",
            "scope",
            "last_used_at",
        ),
        "id",
    ),
    _Table(
        "conversations",
        "pk",
        (
            "pk",
            "project_id",
            "conversation_id",
            *ATTRIBUTE_COLUMNS,
            "metadata",
            "country",
            "is_used",
            "is_marked",
            "started_at",
            "ended_at",
            "created_at",
            *COUNTERS,
        ),
        "pk",
    ),
    _Table(
        "events",
        "rowid",
        (
            "project_id",
            "id",
            "conversation_id",
            "type",
            "seq",
            "ts",
            "payload",
            "content",
            "sender",
            "action_name",
            "duration_ms",
            "is_error",
            "response_wait",
            *TOKEN_COLUMNS,
            *EXTRA_EVENT_COLUMNS,
        ),
        None,
    ),
    _Table(
        "attachment_files",
        "rowid",
        ("project_id", "event_id", "idx", "conversation_id", "data"),
        None,
        most=16,
    ),
    _Table(
        "feedback",
        "id",
        ("id", "project_id", "conversation_id", "sentiment", "comment", "metadata", "created_at"),
        "id",
    ),
    # Dashboard sessions are not copied: users sign in again.
    _Table("users", "id", ("id", "email", "role", "password_hash", "created_at"), "id"),
    _Table("user_projects", "rowid", ("user_id", "project_id"), None),
    _Table(
        "audit_log",
        "id",
        ("id", "at", "actor", "action", "project_id", "target", "details", "address"),
        "id",
    ),
)


@attrs.define
class Progress:
    """Rows copied so far out of the total, told to a callback after every chunk."""

    total: int
    done: int = 0
    table: str = ""
    resumed: int = 0  # rows found already copied at the start


def count_rows(connection: sqlite3.Connection) -> dict[str, int]:
    """Rows per table of a SQLite collector database."""
    return {
        t.name: int(connection.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0])
        for t in TABLES
    }


def _convert(table: _Table, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A SQLite row as PostgreSQL takes it: booleans, and no U+0000 in text."""
    values = [clean(v) if isinstance(v, str) else v for v in row]
    if table.name == "conversations":
        values[12], values[13] = bool(values[12]), bool(values[13])
        if values[10] is not None and "\\u0000" in values[10]:
            values[10] = dumps_clean(json.loads(values[10]))
    elif table.name == "events":
        if isinstance(row[7], str) and "\x00" in row[7]:
            payload = json.loads(row[6])  # the exact text stays in the payload
            payload["content"] = row[7]
            values[6] = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        if row[10] is not None:
            values[10] = float(row[10])  # duration_ms: float8
    return tuple(values)


def _chunk(
    source: sqlite3.Connection, table: _Table, after: int, size: int
) -> tuple[int, list[tuple[Any, ...]]]:
    """(last key, rows) of the chunk of *table* after key *after*; no rows at the end."""
    columns = ", ".join(table.columns)
    sql = (
        f"SELECT {table.key}, {columns} FROM {table.name}"
        f" WHERE {table.key} > ? ORDER BY {table.key} LIMIT ?"
    )
    rows = source.execute(sql, (after, size)).fetchall()
    if not rows:
        return after, []
    return int(rows[-1][0]), [_convert(table, tuple(r[1:])) for r in rows]


def _open_source(path: Path) -> tuple[str, sqlite3.Connection, dict[str, int]]:
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        _check_source(source, path)
        return str(path.resolve()), source, count_rows(source)
    except BaseException:
        source.close()
        raise


def _check_source(source: sqlite3.Connection, path: Path) -> None:
    try:
        version = source.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise ImportError_(f"{path}: not an AgentSight database ({exc})") from exc
    if version is None or version < SQLITE_VERSION:
        raise ImportError_(
            f"{path}: schema version {version}, older than {SQLITE_VERSION}: upgrade it first"
            " by opening it once (`agentsight keys list --db PATH`)"
        )
    if version > SQLITE_VERSION:
        raise ImportError_(f"{path}: schema version {version} is newer: upgrade agentsight")


async def _checkpoints(connection: Any, source_name: str) -> dict[str, tuple[int, int]]:
    rows = await connection.fetch(
        "SELECT table_name, last_key, copied FROM import_checkpoints WHERE source = $1",
        source_name,
    )
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


async def _check_target(connection: Any, source_name: str) -> dict[str, tuple[int, int]]:
    done = await _checkpoints(connection, source_name)
    if not done and await connection.fetchval("SELECT EXISTS (SELECT 1 FROM projects)"):
        raise ImportError_(
            "the PostgreSQL database already holds projects that were not copied from "
            f"{source_name}: migrate into an empty database"
        )
    return done


async def copy_sqlite(
    source_path: Path,
    connection: Any,
    *,
    chunk_rows: int = 5000,
    on_progress: Callable[[Progress], None] = lambda p: None,
) -> dict[str, int]:
    """Copy the SQLite database at *source_path* into the (migrated) PostgreSQL *connection*.

    Resumes where an earlier copy of the same file stopped.  Returns the row
    counts per table, verified equal on both sides.

    Raises:
        ImportError_: the target holds other data, or the counts differ at the end.
    """
    # sqlite3 blocks: every read runs on a worker thread, one at a time.
    source_name, source, expected = await asyncio.to_thread(_open_source, source_path)
    try:
        done = await _check_target(connection, source_name)
        progress = Progress(total=sum(expected.values()))
        progress.resumed = progress.done = sum(copied for _, copied in done.values())
        for table in TABLES:
            after, copied = done.get(table.name, (0, 0))
            progress.table = table.name
            on_progress(progress)
            while True:
                size = min(chunk_rows, table.most or chunk_rows)
                after, rows = await asyncio.to_thread(_chunk, source, table, after, size)
                if not rows:
                    break
                copied += len(rows)
                async with connection.transaction():
                    if table.name in ("conversations", "events", "feedback"):  # the rollups
                        await _lock_rollups_of(connection, rows, table.columns)
                    await connection.copy_records_to_table(
                        table.name, records=rows, columns=list(table.columns)
                    )
                    await connection.execute(_CHECKPOINT, source_name, table.name, after, copied)
                progress.done += len(rows)
                on_progress(progress)
        await _follow_sequences(connection)
        await _verify(connection, expected)
        # Statistics for what was copied: plans made before them take every project
        # of the copy for a row (see write.statistics_behind).
        await refresh_statistics(connection)
        return expected
    finally:
        source.close()


async def _lock_rollups_of(connection: Any, rows: Any, columns: Any) -> None:
    """The rollup locks of the chunk's projects, in order, as a collector's batch takes
    its project's (a collector writing to the target meanwhile cannot deadlock with it)."""
    index = list(columns).index("project_id")
    for project_id in sorted({row[index] for row in rows}):
        await lock_rollups(connection, project_id)


async def _follow_sequences(connection: Any) -> None:
    """Move each id sequence past the copied ids, so new rows get new ones."""
    for table in TABLES:
        if table.sequence is not None:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{table.sequence}'),"
                f" COALESCE((SELECT MAX({table.sequence}) FROM {table.name}), 0) + 1, false)"
            )


async def _verify(connection: Any, expected: dict[str, int]) -> None:
    for name, count in expected.items():
        found = int(await connection.fetchval(f"SELECT COUNT(*) FROM {name}"))
        if found != count:
            raise ImportError_(f"{name}: {count} rows in SQLite but {found} in PostgreSQL")


async def migrate_sqlite(
    source_path: Path,
    url: str,
    *,
    chunk_rows: int = 5000,
    on_progress: Callable[[Progress], None] = lambda p: None,
) -> dict[str, int]:
    """Open (and migrate) the PostgreSQL database at *url*, then copy *source_path* into it."""
    from ._storage import PostgresStorage

    storage = await PostgresStorage.open(url, max_connections=1)
    try:
        async with storage.acquire() as connection:
            return await copy_sqlite(
                source_path, connection, chunk_rows=chunk_rows, on_progress=on_progress
            )
    finally:
        await storage.aclose()
