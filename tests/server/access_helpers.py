"""Keys of each scope, dashboard users and their sessions, for the access tests.

Users are made through the storage with a real scrypt hash; sessions are
started by signing in over HTTP, as the dashboard does.  A ``Credentials``
holds the headers a client then sends: the key, or the session's cookie,
CSRF token and project.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import attrs

from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import Storage
from agentsight.server._http._passwords import hash_password

PASSWORD = "correct horse battery staple"
#: One hash for every test user: scrypt takes 0.4 s, and the cost is the same.
_HASHED: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    """scrypt of *password*, computed once per test session."""
    if password not in _HASHED:
        _HASHED[password] = hash_password(password)
    return _HASHED[password]


@attrs.define
class Credentials:
    """What one caller sends: headers for every request, and the session's CSRF token."""

    name: str
    headers: dict[str, str]
    csrf: str | None = None

    def for_change(self) -> dict[str, str]:
        """The headers of a request that changes something (the CSRF token for a session)."""
        return self.headers if self.csrf is None else {**self.headers, "X-CSRF-Token": self.csrf}


async def add_key(storage: Storage, project: str, scope: str) -> str:
    """A new key of *scope* for *project*."""
    key = generate_key()
    await storage.create_key(project, hash_key(key), redact(key), scope=scope)
    return key


def key_credentials(name: str, key: str) -> Credentials:
    """The headers of an API key."""
    return Credentials(name, {"Authorization": f"Bearer {key}"})


async def add_user(storage: Storage, email: str, role: str, projects: tuple[str, ...] = ()) -> int:
    """A user with the test password, granted *projects* (by name)."""
    user = await storage.create_user(email, role, password_hash())
    assert user is not None
    ids = {p.name: p.id for p in await storage.list_projects()}
    await storage.set_grants(user.id, [ids[name] for name in projects])
    return user.id


async def sign_in(
    session: aiohttp.ClientSession,
    email: str,
    project: str | None = "A",
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Credentials | None]:
    """POST /v1/session; the status, the answer, and the session's credentials when signed in."""
    body = {"email": email, "password": password}
    async with session.post("/v1/session", json=body, headers=headers) as response:
        answer = await response.json()
        morsel = response.cookies.get("agentsight_session")
        if response.status != 200 or morsel is None:
            return response.status, answer, None
        sent = {"Cookie": f"agentsight_session={morsel.value}"}
        if project is not None:
            sent["X-AgentSight-Project"] = project
        return response.status, answer, Credentials(email, sent, answer["csrf_token"])
