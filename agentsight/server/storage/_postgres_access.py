"""Keys, users, sessions, retention, erasure and the audit log of the PostgreSQL storage.

The same answers as ``_sqlite_access``.  Retention and erasure delete in
small steps, each its own transaction; the conversations of a step are
locked with ``FOR UPDATE SKIP LOCKED``, so several collectors sweeping at
once share the work instead of waiting for each other, and a batch adding
events to a conversation being deleted waits for that step only (its new
events then start the conversation afresh).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._time import format_ts, now_micros
from ._base import (
    AuditEntry,
    Deleted,
    KeyInfo,
    LiveKey,
    LoginRecord,
    ProjectInfo,
    SessionRecord,
    UserInfo,
)
from ._postgres_write import clean, dumps_clean
from ._sqlite_access import CONVERSATIONS_PER_STEP, audit_row, key_info

__all__ = [
    "add_audit",
    "create_key",
    "create_session",
    "create_user",
    "delete_session",
    "delete_stale_sessions",
    "delete_step",
    "delete_user",
    "find_key",
    "find_session",
    "list_audit",
    "list_keys",
    "list_projects",
    "list_users",
    "login_record",
    "record_use",
    "revoke_key_id",
    "set_grants",
    "set_password",
    "set_retention",
]

_KEY_COLUMNS = (
    "k.id, p.name, k.redacted, k.created_at, k.revoked_at, k.scope, k.last_used_at"
    " FROM api_keys k JOIN projects p ON p.id = k.project_id"
)


def _count(status: str) -> int:
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
    return _count(status) > 0


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
    return _count(status) > 0


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
    events = _count(status)
    if events == budget:
        left = await connection.fetchval(
            "SELECT 1 FROM events WHERE project_id = $1 AND conversation_id = $2 LIMIT 1",
            project_id,
            cid,
        )
        if left is not None:
            return Deleted(events=events), False
    feedback = _count(
        await connection.execute(
            "DELETE FROM feedback WHERE project_id = $1 AND conversation_id = $2",
            project_id,
            cid,
        )
    )
    conversations = _count(
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


# --- users and sessions -----------------------------------------------------------------


async def _grants(connection: Any) -> dict[int, tuple[str, ...]]:
    rows = await connection.fetch(
        "SELECT g.user_id, p.name FROM user_projects g JOIN projects p ON p.id = g.project_id"
        " ORDER BY p.id"
    )
    found: dict[int, list[str]] = {}
    for user_id, name in rows:
        found.setdefault(int(user_id), []).append(name)
    return {user_id: tuple(names) for user_id, names in found.items()}


async def create_user(
    connection: Any, email: str, role: str, password_hash: str
) -> UserInfo | None:
    """Insert a user; ``None`` when the address is taken."""
    now = now_micros()
    user_id = await connection.fetchval(
        "INSERT INTO users (email, role, password_hash, created_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (email) DO NOTHING RETURNING id",
        email,
        role,
        password_hash,
        now,
    )
    return None if user_id is None else UserInfo(int(user_id), email, role, format_ts(now), ())


async def list_users(connection: Any) -> list[UserInfo]:
    """Every user, oldest first, with its grants."""
    grants = await _grants(connection)
    rows = await connection.fetch("SELECT id, email, role, created_at FROM users ORDER BY id")
    return [
        UserInfo(int(i), email, role, format_ts(created), grants.get(int(i), ()))
        for i, email, role, created in rows
    ]


async def login_record(connection: Any, email: str) -> LoginRecord | None:
    """The user of an address, with its password hash."""
    row = await connection.fetchrow(
        "SELECT id, email, role, password_hash FROM users WHERE email = $1", clean(email)
    )
    return None if row is None else LoginRecord(int(row[0]), row[1], row[2], row[3])


async def delete_user(connection: Any, user_id: int) -> bool:
    """A user, its grants and its sessions (by ``ON DELETE CASCADE``)."""
    return _count(await connection.execute("DELETE FROM users WHERE id = $1", user_id)) > 0


async def set_password(connection: Any, user_id: int, password_hash: str) -> bool:
    """A new password; every session of the user ends."""
    async with connection.transaction():
        status = await connection.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2", password_hash, user_id
        )
        await connection.execute("DELETE FROM sessions WHERE user_id = $1", user_id)
    return _count(status) > 0


async def set_grants(connection: Any, user_id: int, project_ids: Sequence[int]) -> bool:
    """Replace a user's grants."""
    async with connection.transaction():
        found = await connection.fetchval("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
        if found is None:
            return False
        await connection.execute("DELETE FROM user_projects WHERE user_id = $1", user_id)
        await connection.executemany(
            "INSERT INTO user_projects (user_id, project_id) VALUES ($1, $2)",
            [(user_id, project_id) for project_id in sorted(set(project_ids))],
        )
    return True


async def create_session(
    connection: Any, token_hash: str, user_id: int, expires_at: int, address: str | None
) -> None:
    """Insert a session."""
    now = now_micros()
    await connection.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at,"
        " address) VALUES ($1, $2, $3, $4, $5, $6)",
        token_hash,
        user_id,
        now,
        expires_at,
        now,
        address,
    )


async def find_session(connection: Any, token_hash: str) -> SessionRecord | None:
    """A session with its user and the projects it may open."""
    row = await connection.fetchrow(
        "SELECT s.user_id, u.email, u.role, s.created_at, s.expires_at, s.last_seen_at"
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        token_hash,
    )
    if row is None:
        return None
    user_id, email, role, created, expires, seen = row
    if role == "admin":
        projects = await connection.fetch("SELECT name, id FROM projects ORDER BY id")
    else:
        projects = await connection.fetch(
            "SELECT p.name, p.id FROM user_projects g JOIN projects p ON p.id = g.project_id"
            " WHERE g.user_id = $1 ORDER BY p.id",
            user_id,
        )
    names = {name: int(project_id) for name, project_id in projects}
    return SessionRecord(int(user_id), email, role, names, created, expires, seen)


async def delete_session(connection: Any, token_hash: str) -> bool:
    """End a session."""
    status = await connection.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)
    return _count(status) > 0


async def delete_stale_sessions(connection: Any, now: int, idle: int) -> int:
    """Sessions past their end or idle too long."""
    status = await connection.execute(
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2", now, now - idle
    )
    return _count(status)


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
