"""Dashboard users, their grants and sessions in the PostgreSQL storage (as SQLite's).

Deleting a user deletes its grants and sessions by ``ON DELETE CASCADE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..._ingest._time import format_ts, now_micros
from .._base import LoginRecord, SessionRecord, UserInfo
from ._access import rowcount
from ._write import clean

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
    return rowcount(await connection.execute("DELETE FROM users WHERE id = $1", user_id)) > 0


async def set_password(connection: Any, user_id: int, password_hash: str) -> bool:
    """A new password; every session of the user ends."""
    async with connection.transaction():
        status = await connection.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2", password_hash, user_id
        )
        await connection.execute("DELETE FROM sessions WHERE user_id = $1", user_id)
    return rowcount(status) > 0


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
    return rowcount(status) > 0


async def delete_stale_sessions(connection: Any, now: int, idle: int) -> int:
    """Sessions past their end or idle too long."""
    status = await connection.execute(
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2", now, now - idle
    )
    return rowcount(status)
