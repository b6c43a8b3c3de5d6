"""Dashboard sessions: the cookie, CSRF, signing out, expiry, and the sign-in limits."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from agentsight.server import RateLimit, ServerOptions
from agentsight.server._http._access import token_hash
from agentsight.server._http._passwords import hash_password
from agentsight.server._retention import RETENTION
from tests.server.access_helpers import PASSWORD, Credentials, add_user, sign_in
from tests.server.collector_helpers import conversation
from tests.server.old_schema import execute

from .helpers import Secured, run_secured

pytestmark = pytest.mark.anyio
VIEWER, ADMIN = "viewer@example.com", "admin@example.com"


@contextlib.asynccontextmanager
async def _signed_in(
    db: Path | str, options: ServerOptions | None = None
) -> AsyncIterator[tuple[Secured, Credentials]]:
    """A collector with a viewer of A and an admin, the admin signed in."""
    async with run_secured(db, options) as secured:  # type: ignore[arg-type]
        await add_user(secured.collector.storage, VIEWER, "viewer", ("A",))
        await add_user(secured.collector.storage, ADMIN, "admin")
        status, answer, admin = await sign_in(secured.collector.session, ADMIN)
        assert status == 200 and admin is not None, answer
        await secured.collector.send(conversation("c1", 0, 0.0))
        yield secured, admin


def _set_cookie(headers: list[str]) -> dict[str, str]:
    """The attributes of the session's Set-Cookie header, lower-cased names."""
    [header] = [h for h in headers if h.startswith("agentsight_session=")]
    parts = [p.strip() for p in header.split(";")]
    found = {"value": parts[0].partition("=")[2]}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        found[name.lower()] = value
    return found


async def test_the_cookie_is_httponly_strict_and_holds_no_api_key(tmp_path: Path) -> None:
    """Signing in sets an HttpOnly SameSite=Strict cookie (not Secure over plain HTTP)."""
    async with _signed_in(tmp_path / "c.db") as (secured, _):
        body = {"email": ADMIN, "password": PASSWORD}
        async with secured.collector.session.post("/v1/session", json=body) as response:
            assert response.status == 200
            cookie = _set_cookie(response.headers.getall("Set-Cookie"))
            text = await response.text()
        assert "httponly" in cookie and cookie["samesite"] == "Strict"
        assert cookie["path"] == "/" and cookie["max-age"] == str(12 * 3600)
        assert "secure" not in cookie
        assert len(cookie["value"]) >= 40  # 256 random bits
        for key in secured.collector.keys.values():
            assert key not in text
        # The database keeps only the token's hash.
        assert await secured.collector.storage.find_session(cookie["value"]) is None
        assert await secured.collector.storage.find_session(token_hash(cookie["value"]))


@pytest.mark.parametrize(
    ("trusted", "proto", "secure"),
    [(("127.0.0.1",), "https", True), ((), "https", False), (("127.0.0.1",), "http", False)],
)
async def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(
    tmp_path: Path, trusted: tuple[str, ...], proto: str, secure: bool
) -> None:
    """X-Forwarded-Proto: https from a trusted proxy makes the cookie Secure; from others not."""
    options = ServerOptions(trusted_proxies=trusted)
    async with _signed_in(tmp_path / "c.db", options) as (secured, _):
        body = {"email": ADMIN, "password": PASSWORD}
        headers = {"X-Forwarded-Proto": proto}
        async with secured.collector.session.post(
            "/v1/session", json=body, headers=headers
        ) as response:
            assert response.status == 200
            cookie = _set_cookie(response.headers.getall("Set-Cookie"))
        assert ("secure" in cookie) is secure


@pytest.mark.parametrize(
    "extra",
    [
        {},  # no CSRF token
        {"X-CSRF-Token": "0" * 64},
        {"X-CSRF-Token": "RIGHT", "Origin": "http://evil.example"},
        {"X-CSRF-Token": "RIGHT", "Origin": "null"},
        {"X-CSRF-Token": "RIGHT", "Sec-Fetch-Site": "cross-site"},
        {"X-CSRF-Token": "RIGHT", "Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_change_by_session_needs_its_csrf_token_and_origin(
    tmp_path: Path, extra: dict[str, str]
) -> None:
    """Without the session's CSRF token, or from another origin, a change is 403 and not made."""
    async with _signed_in(tmp_path / "c.db") as (secured, admin):
        headers = {**admin.headers, **extra}
        if headers.get("X-CSRF-Token") == "RIGHT":
            assert admin.csrf is not None
            headers["X-CSRF-Token"] = admin.csrf
        session = secured.collector.session
        for method, path, body in [
            ("PATCH", "/v1/conversations/c1", {"name": "forged"}),
            ("DELETE", "/v1/conversations/c1", None),
            ("PUT", "/v1/retention", {"retention_days": 1}),
            ("DELETE", "/v1/session", None),
        ]:
            async with session.request(method, path, json=body, headers=headers) as response:
                answer = await response.json()
                assert response.status == 403, (method, path, answer)
        conv = (await secured.collector.conversation("c1"))["conversation"]
        assert conv["name"] is None
        assert [p.retention_days for p in await secured.collector.storage.list_projects()] == [
            None,
            None,
        ]
        async with session.get("/v1/session", headers=admin.headers) as response:
            assert response.status == 200  # still signed in
        # The right token from this origin works.
        async with session.patch(
            "/v1/conversations/c1", json={"name": "mine"}, headers=admin.for_change()
        ) as response:
            assert response.status == 200


async def test_signing_out_ends_the_session(tmp_path: Path) -> None:
    """DELETE /v1/session forgets the cookie and the session: the old cookie is refused."""
    async with _signed_in(tmp_path / "c.db") as (secured, admin):
        session = secured.collector.session
        async with session.delete("/v1/session", headers=admin.for_change()) as response:
            assert response.status == 200
            cookie = _set_cookie(response.headers.getall("Set-Cookie"))
            assert cookie["max-age"] == "0" and cookie["value"] == ""
        for path in ("/v1/session", "/v1/conversations"):
            async with session.get(path, headers=admin.headers) as response:
                assert response.status == 401
                assert "sign in again" in (await response.json())["error"]


@pytest.mark.parametrize("column", ["expires_at", "last_seen_at"])
async def test_a_session_past_its_end_or_idle_is_refused(
    database_url: Path | str, column: str
) -> None:
    """A session whose end has passed, or unused for session_idle, answers 401: sign in again."""
    async with _signed_in(database_url) as (secured, admin):
        cookie = admin.headers["Cookie"].partition("=")[2]
        # Time passes: the stored times move back (12 h, the lifetime and idle default).
        past = f"{column} - 43200000000"
        hashed = token_hash(cookie)
        await execute(
            database_url,
            [f"UPDATE sessions SET {column} = {past} WHERE token_hash = '{hashed}'"],
        )
        async with secured.collector.session.get("/v1/session", headers=admin.headers) as response:
            assert response.status == 401
            assert "expired" in (await response.json())["error"]
            assert "Max-Age=0" in response.headers["Set-Cookie"]
        # The next sweep deletes it.
        await secured.app[RETENTION].sweep()
        assert await secured.collector.storage.find_session(hashed) is None


async def test_a_new_password_or_deleting_the_user_ends_its_sessions(tmp_path: Path) -> None:
    """After a password reset (or the user's deletion) its sessions are refused."""
    async with _signed_in(tmp_path / "c.db") as (secured, admin):
        storage = secured.collector.storage
        session = secured.collector.session
        _, _, viewer = await sign_in(session, VIEWER)
        assert viewer is not None
        users = {u.email: u.id for u in await storage.list_users()}
        await storage.set_password(users[VIEWER], hash_password("another long password"))
        await storage.delete_user(users[ADMIN])
        for credentials in (viewer, admin):
            async with session.get("/v1/session", headers=credentials.headers) as response:
                assert response.status == 401
        status, _, _ = await sign_in(session, VIEWER)
        assert status == 401
        status, _, _ = await sign_in(session, VIEWER, password="another long password")
        assert status == 200


async def test_failed_sign_ins_are_limited_per_account_and_per_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the account's budget even the right password is 429; past the address's, any account."""
    options = ServerOptions(
        login_limit_account=RateLimit(1 / 600, burst=3),
        login_limit_address=RateLimit(1 / 600, burst=5),
    )
    caplog.set_level(logging.DEBUG, logger="agentsight")
    async with _signed_in(tmp_path / "c.db", options) as (secured, _):
        session = secured.collector.session
        wrong = "wrong password!"
        statuses = [(await sign_in(session, VIEWER, password=wrong))[0] for _ in range(3)]
        assert statuses == [401, 401, 401]
        status, answer, _ = await sign_in(session, VIEWER)  # the right one, too late
        assert status == 429 and "too many failures" in answer["error"]
        # Another account from this address: two failures left in the address's bucket.
        unknown = "nobody@example.com"
        first = [(await sign_in(session, unknown, password=wrong))[:2] for _ in range(2)]
        # An unknown address is answered exactly as a wrong password.
        assert first[0] == (401, {"error": "email or password: wrong (or no such user)"})
        status, _, _ = await sign_in(session, ADMIN)
        assert status == 429  # the address is spent: even the admin's right password waits
    assert "wrong password!" not in caplog.text
    assert PASSWORD not in caplog.text


async def test_a_bad_sign_in_body_names_the_field(tmp_path: Path) -> None:
    """A malformed address or a non-string password is a 400 naming it."""
    async with _signed_in(tmp_path / "c.db") as (secured, _):
        session = secured.collector.session
        for body, field in [
            ({"email": "not-an-address", "password": PASSWORD}, "email"),
            ({"email": ADMIN, "password": 12}, "password"),
            ({"email": ADMIN}, "password"),
            ({"email": ADMIN, "password": PASSWORD, "role": "admin"}, "role"),
        ]:
            async with session.post("/v1/session", json=body) as response:
                answer = await response.json()
                assert response.status == 400, body
                assert answer["error"].startswith(field), answer
        async with session.post(
            "/v1/session",
            json={"email": ADMIN, "password": PASSWORD},
            headers={"Origin": "http://evil.example"},
        ) as response:
            assert response.status == 403  # no signing a victim in from another site


async def test_sessions_and_cookies_parse_as_browsers_do(tmp_path: Path) -> None:
    """The Set-Cookie header is one a cookie parser reads back whole."""
    async with _signed_in(tmp_path / "c.db") as (secured, _):
        body = {"email": VIEWER, "password": PASSWORD}
        async with secured.collector.session.post("/v1/session", json=body) as response:
            parsed = SimpleCookie()
            parsed.load(response.headers["Set-Cookie"])
        morsel = parsed["agentsight_session"]
        assert morsel["httponly"] and morsel["samesite"] == "Strict"
