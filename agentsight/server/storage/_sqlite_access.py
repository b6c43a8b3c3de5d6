"""Keys, users, sessions, retention, erasure and the audit log of the SQLite storage.

The functions that write run on the writer thread, those that read on a
reader thread (see ``_sqlite``).  Retention and erasure delete in small
steps, each its own transaction, so a batch waiting for the writer waits for
one step at most (``benchmarks/retention.py`` measures it).
"""

from __future__ import annotations

import json
import sqlite3
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
from ._sqlite_write import transaction

__all__ = [
    "CONVERSATIONS_PER_STEP",
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

#: Conversations one retention or erasure step looks at, at most.
CONVERSATIONS_PER_STEP = 100
_KEY_COLUMNS = (
    "k.id, p.name, k.redacted, k.created_at, k.revoked_at, k.scope, k.last_used_at"
    " FROM api_keys k JOIN projects p ON p.id = k.project_id"
)


def _when(micros: int | None) -> str | None:
    return None if micros is None else format_ts(micros)


# --- keys ---------------------------------------------------------------------------


def key_info(row: Sequence[Any]) -> KeyInfo:
    """A ``KeyInfo`` from a row of ``_KEY_COLUMNS``."""
    key_id, name, redacted, created, revoked, scope, used = row
    return KeyInfo(
        int(key_id), name, redacted, format_ts(created), _when(revoked), scope, _when(used)
    )


def create_key(
    connection: sqlite3.Connection, project: str, key_hash: str, redacted: str, scope: str
) -> KeyInfo:
    """Insert a key of *scope* (and its project when new)."""
    now = now_micros()
    with transaction(connection):
        connection.execute(
            "INSERT INTO projects (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (project, now),
        )
        (project_id,) = connection.execute(
            "SELECT id FROM projects WHERE name = ?", (project,)
        ).fetchone()
        cursor = connection.execute(
            "INSERT INTO api_keys (project_id, key_hash, redacted, created_at, scope)"
            " VALUES (?, ?, ?, ?, ?)",
            (project_id, key_hash, redacted, now, scope),
        )
    assert cursor.lastrowid is not None
    return KeyInfo(cursor.lastrowid, project, redacted, format_ts(now), None, scope, None)


def find_key(connection: sqlite3.Connection, key_hash: str) -> LiveKey | None:
    """The live key with this hash."""
    row = connection.execute(
        "SELECT id, project_id, scope, redacted FROM api_keys"
        " WHERE key_hash = ? AND revoked_at IS NULL",
        (key_hash,),
    ).fetchone()
    return None if row is None else LiveKey(int(row[0]), int(row[1]), row[2], row[3])


def list_keys(connection: sqlite3.Connection) -> list[KeyInfo]:
    """Every key, oldest first."""
    return [key_info(row) for row in connection.execute(f"SELECT {_KEY_COLUMNS} ORDER BY k.id")]


def revoke_key_id(connection: sqlite3.Connection, key_id: int) -> bool:
    """Mark a live key revoked, by id."""
    with transaction(connection):
        cursor = connection.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now_micros(), key_id),
        )
    return cursor.rowcount > 0


def record_use(
    connection: sqlite3.Connection, keys: dict[int, int], sessions: dict[str, int]
) -> None:
    """Write last-use times (never moving one back: another collector may have written later)."""
    with transaction(connection):
        connection.executemany(
            "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?",
            [(at, key_id) for key_id, at in keys.items()],
        )
        connection.executemany(
            "UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE token_hash = ?",
            [(at, token_hash) for token_hash, at in sessions.items()],
        )


# --- projects, retention and erasure --------------------------------------------------


def list_projects(connection: sqlite3.Connection) -> list[ProjectInfo]:
    """Every project, oldest first."""
    rows = connection.execute("SELECT id, name, retention_days FROM projects ORDER BY id")
    return [ProjectInfo(int(i), name, days) for i, name, days in rows]


def set_retention(connection: sqlite3.Connection, project_id: int, days: int | None) -> bool:
    """Set a project's retention period."""
    with transaction(connection):
        cursor = connection.execute(
            "UPDATE projects SET retention_days = ? WHERE id = ?", (days, project_id)
        )
    return cursor.rowcount > 0


def _delete_conversation(
    connection: sqlite3.Connection, project_id: int, cid: str, budget: int
) -> tuple[Deleted, bool]:
    """Up to *budget* events of one conversation; the rest of it once its events are gone.

    Returns what went and whether the conversation is gone.
    """
    key = (project_id, cid)
    events = connection.execute(
        "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events"
        " WHERE project_id = ? AND conversation_id = ? LIMIT ?)",
        (*key, budget),
    ).rowcount
    if events == budget:
        left = connection.execute(
            "SELECT 1 FROM events WHERE project_id = ? AND conversation_id = ? LIMIT 1", key
        ).fetchone()
        if left is not None:
            return Deleted(events=events), False
    feedback = connection.execute(
        "DELETE FROM feedback WHERE project_id = ? AND conversation_id = ?", key
    ).rowcount
    conversations = connection.execute(
        "DELETE FROM conversations WHERE project_id = ? AND conversation_id = ?", key
    ).rowcount
    return Deleted(conversations, events, feedback), True


def delete_step(
    connection: sqlite3.Connection,
    project_id: int,
    where: str,
    params: tuple[Any, ...],
    max_events: int,
) -> Deleted:
    """One transaction: the conversations matching *where* (oldest last event first), their
    events (about *max_events* at most) and their feedback.
    """
    done = Deleted()
    with transaction(connection):
        rows = connection.execute(
            f"SELECT conversation_id FROM conversations WHERE project_id = ? AND {where}"
            " ORDER BY ended_at LIMIT ?",
            (project_id, *params, CONVERSATIONS_PER_STEP),
        ).fetchall()
        for (cid,) in rows:
            budget = max(1, max_events - done.events)
            deleted, gone = _delete_conversation(connection, project_id, cid, budget)
            done += deleted
            if not gone or done.events >= max_events:
                break
    return done


# --- users and sessions -----------------------------------------------------------------


def _grants(connection: sqlite3.Connection) -> dict[int, tuple[str, ...]]:
    rows = connection.execute(
        "SELECT g.user_id, p.name FROM user_projects g JOIN projects p ON p.id = g.project_id"
        " ORDER BY p.id"
    )
    found: dict[int, list[str]] = {}
    for user_id, name in rows:
        found.setdefault(int(user_id), []).append(name)
    return {user_id: tuple(names) for user_id, names in found.items()}


def create_user(
    connection: sqlite3.Connection, email: str, role: str, password_hash: str
) -> UserInfo | None:
    """Insert a user; ``None`` when the address is taken."""
    now = now_micros()
    with transaction(connection):
        cursor = connection.execute(
            "INSERT INTO users (email, role, password_hash, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (email) DO NOTHING",
            (email, role, password_hash, now),
        )
    if cursor.rowcount == 0 or cursor.lastrowid is None:
        return None
    return UserInfo(cursor.lastrowid, email, role, format_ts(now), ())


def list_users(connection: sqlite3.Connection) -> list[UserInfo]:
    """Every user, oldest first, with its grants."""
    grants = _grants(connection)
    rows = connection.execute("SELECT id, email, role, created_at FROM users ORDER BY id")
    return [
        UserInfo(int(i), email, role, format_ts(created), grants.get(int(i), ()))
        for i, email, role, created in rows
    ]


def login_record(connection: sqlite3.Connection, email: str) -> LoginRecord | None:
    """The user of an address, with its password hash."""
    row = connection.execute(
        "SELECT id, email, role, password_hash FROM users WHERE email = ?", (email,)
    ).fetchone()
    return None if row is None else LoginRecord(int(row[0]), row[1], row[2], row[3])


def delete_user(connection: sqlite3.Connection, user_id: int) -> bool:
    """A user, its grants and its sessions."""
    with transaction(connection):
        connection.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        connection.execute("DELETE FROM user_projects WHERE user_id = ?", (user_id,))
        cursor = connection.execute("DELETE FROM users WHERE id = ?", (user_id,))
    return cursor.rowcount > 0


def set_password(connection: sqlite3.Connection, user_id: int, password_hash: str) -> bool:
    """A new password; every session of the user ends."""
    with transaction(connection):
        cursor = connection.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
        )
        connection.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    return cursor.rowcount > 0


def set_grants(connection: sqlite3.Connection, user_id: int, project_ids: Sequence[int]) -> bool:
    """Replace a user's grants."""
    with transaction(connection):
        if connection.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
            return False
        connection.execute("DELETE FROM user_projects WHERE user_id = ?", (user_id,))
        connection.executemany(
            "INSERT INTO user_projects (user_id, project_id) VALUES (?, ?)",
            [(user_id, project_id) for project_id in sorted(set(project_ids))],
        )
    return True


def create_session(
    connection: sqlite3.Connection,
    token_hash: str,
    user_id: int,
    expires_at: int,
    address: str | None,
) -> None:
    """Insert a session."""
    now = now_micros()
    with transaction(connection):
        connection.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at,"
            " address) VALUES (?, ?, ?, ?, ?, ?)",
            (token_hash, user_id, now, expires_at, now, address),
        )


def find_session(connection: sqlite3.Connection, token_hash: str) -> SessionRecord | None:
    """A session with its user and the projects it may open."""
    row = connection.execute(
        "SELECT s.user_id, u.email, u.role, s.created_at, s.expires_at, s.last_seen_at"
        " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
        (token_hash,),
    ).fetchone()
    if row is None:
        return None
    user_id, email, role, created, expires, seen = row
    if role == "admin":
        projects = connection.execute("SELECT name, id FROM projects ORDER BY id")
    else:
        projects = connection.execute(
            "SELECT p.name, p.id FROM user_projects g JOIN projects p ON p.id = g.project_id"
            " WHERE g.user_id = ? ORDER BY p.id",
            (user_id,),
        )
    names = {name: int(project_id) for name, project_id in projects}
    return SessionRecord(int(user_id), email, role, names, created, expires, seen)


def delete_session(connection: sqlite3.Connection, token_hash: str) -> bool:
    """End a session."""
    with transaction(connection):
        cursor = connection.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
    return cursor.rowcount > 0


def delete_stale_sessions(connection: sqlite3.Connection, now: int, idle: int) -> int:
    """Sessions past their end or idle too long."""
    with transaction(connection):
        cursor = connection.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?", (now, now - idle)
        )
    return cursor.rowcount


# --- the audit log ------------------------------------------------------------------


def add_audit(connection: sqlite3.Connection, entry: AuditEntry) -> None:
    """Append one entry."""
    details = None if entry.details is None else json.dumps(entry.details, ensure_ascii=False)
    with transaction(connection):
        connection.execute(
            "INSERT INTO audit_log (at, actor, action, project_id, target, details, address)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                now_micros(),
                entry.actor,
                entry.action,
                entry.project_id,
                entry.target,
                details,
                entry.address,
            ),
        )


def audit_row(row: Sequence[Any]) -> dict[str, Any]:
    """An audit entry as the API answers it."""
    entry_id, at, actor, action, project, target, details, address = row
    return {
        "id": int(entry_id),
        "at": format_ts(at),
        "actor": actor,
        "action": action,
        "project": project,
        "target": target,
        "details": None if details is None else json.loads(details),
        "address": address,
    }


AUDIT_SELECT = (
    "SELECT a.id, a.at, a.actor, a.action, p.name, a.target, a.details, a.address"
    " FROM audit_log a LEFT JOIN projects p ON p.id = a.project_id"
)


def list_audit(
    connection: sqlite3.Connection,
    project_id: int | None,
    limit: int,
    before: int | None,
    collector_wide: bool = False,
) -> list[dict[str, Any]]:
    """Entries newest first."""
    clauses, params = [], []
    if project_id is not None:
        wide = " OR a.project_id IS NULL" if collector_wide else ""
        clauses.append(f"(a.project_id = ?{wide})")
        params.append(project_id)
    if before is not None:
        clauses.append("a.id < ?")
        params.append(before)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = connection.execute(
        f"{AUDIT_SELECT}{where} ORDER BY a.id DESC LIMIT ?", (*params, limit)
    ).fetchall()
    return [audit_row(row) for row in rows]
