"""Keys, retention, erasure and the audit log of the SQLite storage.

Users and sessions are in ``_users``.  The functions that write run
on the writer thread, those that read on a reader thread (see ``_sqlite``).
Retention and erasure delete in small steps, each its own transaction, so a
batch waiting for the writer waits for one step at most
(``benchmarks/retention.py`` measures it).
"""

from __future__ import annotations

import json
import sqlite3
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
from ._write import transaction

__all__ = [
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


# --- keys ---------------------------------------------------------------------------


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
