"""PostgreSQL's search index of the messages' text (``agentsight search-index``).

A GIN index of pg_trgm's trigrams of ``lower(content COLLATE "C")``, the
expression the list's text filter compares (SQLite's ``LIKE``: ASCII case
folded), on messages only.  pg_trgm ships with PostgreSQL (Debian's server
package has it) and is a trusted extension: the database's owner may create
it.  The index is built and dropped ``CONCURRENTLY``: collectors keep writing
while it is built, which at millions of messages takes minutes.
"""

from __future__ import annotations

from typing import Any

from .._listing import SEARCH_INDEX

__all__ = ["has_search_index", "set_search_index"]

# The build reads every message: longer than the pool's command timeout.
_BUILD_SECONDS = 24 * 3600.0
_VALID = "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)"


async def has_search_index(connection: Any) -> bool:
    """Whether the database has the search index, built and valid."""
    return bool(await connection.fetchval(_VALID, SEARCH_INDEX))


async def set_search_index(connection: Any, enabled: bool) -> bool:
    """Build (*enabled*) or drop the search index, outside a transaction; whether it
    changed.

    Raises:
        RuntimeError: pg_trgm is not installed on the server or this role may not
            create it; the message says what to run.
    """
    valid = await connection.fetchval(_VALID, SEARCH_INDEX)
    if bool(valid) == enabled:
        return False
    if valid is not None:  # a build that failed half-way leaves an invalid index
        await connection.execute(
            f"DROP INDEX CONCURRENTLY IF EXISTS {SEARCH_INDEX}", timeout=_BUILD_SECONDS
        )
    if not enabled:
        return True
    import asyncpg  # the storage's own dependency, imported where it is used

    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except asyncpg.PostgresError as error:  # refused by the server (not a lost connection)
        raise RuntimeError(
            "the search index needs PostgreSQL's pg_trgm extension, which this role"
            f" could not create ({type(error).__name__}: {error}); the database's owner"
            " or a superuser can run: CREATE EXTENSION pg_trgm"
            " (it ships with PostgreSQL; Debian: the postgresql package)"
        ) from error
    # Its operator class named with the schema it is in, which need not be on the
    # search path (an administrator may keep extensions in a schema of their own).
    schema = await connection.fetchval(
        "SELECT n.nspname FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"
        " WHERE x.extname = 'pg_trgm'"
    )
    operators = '"' + str(schema).replace('"', '""') + '".gin_trgm_ops'
    await connection.execute(
        f"CREATE INDEX CONCURRENTLY {SEARCH_INDEX} ON events"
        f" USING gin (lower(content COLLATE \"C\") {operators}) WHERE type = 'message'",
        timeout=_BUILD_SECONDS,
    )
    # Statistics of the indexed expression, which the planner weighs a search's
    # selectivity with (autovacuum would gather them only later).
    await connection.execute("ANALYZE events", timeout=_BUILD_SECONDS)
    return True
