"""Keys, retention, erasure and the audit log of the PostgreSQL storage.

The same answers as ``storage.sqlite._access`` (users and sessions: ``_users``).
Retention and erasure delete in small steps, each its own transaction; the
conversations of a step are locked with ``FOR UPDATE SKIP LOCKED``, so
several collectors sweeping at once share the work instead of waiting for
each other, and a batch adding events to a conversation being deleted waits
for that step only (its new events then start the conversation afresh).
"""

from __future__ import annotations

from typing import Any

from ..._ingest._time import format_ts, now_micros
from .._base import (
    AuditEntry,
    Deleted,
    KeyInfo,
    LiveKey,
    ProjectInfo,
)
from .._columns import CONVERSATIONS_PER_STEP, audit_row, key_info
from ._write import clean, dumps_clean, lock_rollups

__all__ = [
    "rowcount",
    "add_audit",
    "create_key",
    "delete_step",
    "find_key",
    "list_audit",
    "list_keys",
    "list_projects",
    "record_use",
    "revoke_key_id",
    "set_retention",
]

_KEY_COLUMNS = (
    "k.id, p.name, k.redacted, k.created_at, k.revoked_at, k.scope, k.last_used_at"
    " FROM api_keys k JOIN projects p ON p.id = k.project_id"
)


def rowcount(status: str) -> int:
    """The row count of a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


# --- keys ---------------------------------------------------------------------------


async def create_key(
    connection: Any, project: str, key_hash: str, redacted: str, scope: str
) -> KeyInfo:
    """Insert a key of *scope* (and its project when new)."""
    now = now_micros()
    async with connection.transaction():
        await connection.execute(
            "INSERT INTO projects (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            clean(project),
            now,
        )
        project_id = await connection.fetchval(
            "SELECT id FROM projects WHERE name = $1", clean(project)
        )
        key_id = await connection.fetchval(
            "INSERT INTO api_keys (project_id, key_hash, redacted, created_at, scope)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            project_id,
            key_hash,
            redacted,
            now,
            scope,
        )
    return KeyInfo(int(key_id), project, redacted, format_ts(now), None, scope, None)


async def find_key(connection: Any, key_hash: str) -> LiveKey | None:
    """The live key with this hash."""
    row = await connection.fetchrow(
        "SELECT id, project_id, scope, redacted FROM api_keys"
        " WHERE key_hash = $1 AND revoked_at IS NULL",
        key_hash,
    )
    return None if row is None else LiveKey(int(row[0]), int(row[1]), row[2], row[3])


async def list_keys(connection: Any) -> list[KeyInfo]:
    """Every key, oldest first."""
    return [key_info(row) for row in await connection.fetch(f"SELECT {_KEY_COLUMNS} ORDER BY k.id")]


async def revoke_key_id(connection: Any, key_id: int) -> bool:
    """Mark a live key revoked, by id."""
    status = await connection.execute(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        now_micros(),
        key_id,
    )
    return rowcount(status) > 0


async def record_use(connection: Any, keys: dict[int, int], sessions: dict[str, int]) -> None:
    """Write last-use times (never moving one back: another collector may have written later)."""
    async with connection.transaction():
        if keys:
            await connection.executemany(
                "UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $1) WHERE id = $2",
                [(at, key_id) for key_id, at in sorted(keys.items())],
            )
        if sessions:
            await connection.executemany(
                "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1)"
                " WHERE token_hash = $2",
                [(at, token_hash) for token_hash, at in sorted(sessions.items())],
            )


# --- projects, retention and erasure --------------------------------------------------


async def list_projects(connection: Any) -> list[ProjectInfo]:
    """Every project, oldest first."""
    rows = await connection.fetch("SELECT id, name, retention_days FROM projects ORDER BY id")
    return [ProjectInfo(int(i), name, days) for i, name, days in rows]


async def set_retention(connection: Any, project_id: int, days: int | None) -> bool:
    """Set a project's retention period."""
    status = await connection.execute(
        "UPDATE projects SET retention_days = $1 WHERE id = $2", days, project_id
    )
    return rowcount(status) > 0


async def _delete_conversation(
    connection: Any, project_id: int, cid: str, budget: int
) -> tuple[Deleted, bool]:
    """Up to *budget* events of one conversation; the rest of it once its events are gone."""
    status = await connection.execute(
        "DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events"
        " WHERE project_id = $1 AND conversation_id = $2 LIMIT $3))",
        project_id,
        cid,
        budget,
    )
    events = rowcount(status)
    if events == budget:
        left = await connection.fetchval(
            "SELECT 1 FROM events WHERE project_id = $1 AND conversation_id = $2 LIMIT 1",
            project_id,
            cid,
        )
        if left is not None:
            return Deleted(events=events), False
    feedback = rowcount(
        await connection.execute(
            "DELETE FROM feedback WHERE project_id = $1 AND conversation_id = $2",
            project_id,
            cid,
        )
    )
    conversations = rowcount(
        await connection.execute(
            "DELETE FROM conversations WHERE project_id = $1 AND conversation_id = $2",
            project_id,
            cid,
        )
    )
    return Deleted(conversations, events, feedback), True


async def delete_step(
    connection: Any, project_id: int, where: str, value: Any, max_events: int
) -> Deleted:
    """One transaction: the conversations matching *where* (``$2`` is *value*), oldest last
    event first, their events (about *max_events* at most) and their feedback.
    """
    done = Deleted()
    async with connection.transaction():
        await lock_rollups(connection, project_id)
        rows = await connection.fetch(
            f"SELECT conversation_id FROM conversations WHERE project_id = $1 AND {where}"
            " ORDER BY ended_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            project_id,
            value,
            CONVERSATIONS_PER_STEP,
        )
        for row in rows:
            budget = max(1, max_events - done.events)
            deleted, gone = await _delete_conversation(connection, project_id, row[0], budget)
            done += deleted
            if not gone or done.events >= max_events:
                break
    return done


# --- the audit log ------------------------------------------------------------------


async def add_audit(connection: Any, entry: AuditEntry) -> None:
    """Append one entry."""
    await connection.execute(
        "INSERT INTO audit_log (at, actor, action, project_id, target, details, address)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        now_micros(),
        clean(entry.actor),
        entry.action,
        entry.project_id,
        clean(entry.target),
        dumps_clean(entry.details),
        entry.address,
    )


async def list_audit(
    connection: Any,
    project_id: int | None,
    limit: int,
    before: int | None,
    collector_wide: bool = False,
) -> list[dict[str, Any]]:
    """Entries newest first."""
    clauses: list[str] = []
    params: list[Any] = []
    if project_id is not None:
        params.append(project_id)
        wide = " OR a.project_id IS NULL" if collector_wide else ""
        clauses.append(f"(a.project_id = ${len(params)}{wide})")
    if before is not None:
        params.append(before)
        clauses.append(f"a.id < ${len(params)}")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    params.append(limit)
    rows = await connection.fetch(
        "SELECT a.id, a.at, a.actor, a.action, p.name, a.target, a.details, a.address"
        f" FROM audit_log a LEFT JOIN projects p ON p.id = a.project_id{where}"
        f" ORDER BY a.id DESC LIMIT ${len(params)}",
        *params,
    )
    return [audit_row(tuple(row)) for row in rows]
