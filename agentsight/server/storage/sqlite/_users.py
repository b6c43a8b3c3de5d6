"""Dashboard users, their grants and sessions in the SQLite storage.

Writes run on the writer thread, reads on a reader thread (see ``_sqlite``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..._ingest._time import format_ts, now_micros
from .._base import LoginRecord, SessionRecord, UserInfo
from ._write import transaction

__all__ = [
    "create_session",
    "create_user",
    "delete_session",
    "delete_stale_sessions",
    "delete_user",
    "find_session",
    "list_users",
    "login_record",
    "set_grants",
    "set_password",
]


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
