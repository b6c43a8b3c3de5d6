"""Creating and upgrading a PostgreSQL collector database.

Migrations are the ``migrations/postgres_NNNN_*.sql`` files of the package,
applied in order, each in one transaction with its ``schema_version`` row.
The whole check-and-apply runs under a session advisory lock, so that several
collectors starting at once against one database migrate it exactly once: the
first applies the scripts, the others wait and then find nothing left to do.
Neither is bound by the pool's command timeout: a migration that reads every
event of a large database takes minutes, and the others wait for it as long.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

__all__ = ["MIGRATION_LOCK", "SCHEMA_VERSION", "migrate"]

_MIGRATION_NAME = re.compile(r"postgres_(\d{4})_\w+\.sql")
#: The advisory lock key of migrations (any constant; "agentsig" in ASCII).
MIGRATION_LOCK = 0x6167656E74736967
#: How long a migration's statements (and the wait for another collector's) may take.
_MIGRATION_SECONDS = 24 * 3600.0


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("agentsight.server") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match is not None:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = max(version for version, _ in _migrations())


async def migrate(connection: Any) -> int:
    """Create or upgrade the database of *connection* (asyncpg); return the schema version.

    Raises:
        RuntimeError: the database was written by a newer version of AgentSight.
    """
    wait = _MIGRATION_SECONDS
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK, timeout=wait)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", timeout=wait
        )
        version = int(
            await connection.fetchval(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version", timeout=wait
            )
        )
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"schema version {version} is newer than this collector's "
                f"{SCHEMA_VERSION}; upgrade agentsight"
            )
        for number, script in _migrations():
            if number > version:
                async with connection.transaction():
                    await connection.execute(script, timeout=wait)
                    await connection.execute(
                        "INSERT INTO schema_version (version) VALUES ($1)", number, timeout=wait
                    )
                version = number
        return version
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK, timeout=wait)
