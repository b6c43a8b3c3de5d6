"""The dashboard's sign-in: ``POST``, ``GET`` and ``DELETE /v1/session``.

Signing in checks the e-mail address and password (scrypt, on a worker
thread, at most two at once: each takes 128 MiB and about 0.4 s of a core),
then stores a new session (the SHA-256 of a 256-bit random token) and hands
the token to the browser in an ``HttpOnly``, ``SameSite=Strict`` cookie,
``Secure`` when the browser came over TLS.  The API key never reaches the
browser.  Failed sign-ins spend from a token bucket of the client address
and one of the e-mail address; once either is empty the answer is 429
before any password is checked.  An unknown address costs the same hash as
a known one, so the answers tell nothing about who has an account.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from aiohttp import web

from .._http._access import SESSION_COOKIE, Caller, csrf_for, ended_cookie, is_https, same_origin
from .._http._access import token_hash as hash_token
from .._http._errors import ApiError, json_response
from .._http._passwords import DUMMY_HASH, MAX_PASSWORD, check_email, verify_password
from .._http._ratelimit import RateLimiter, too_many
from .._ingest._time import format_ts, now_micros
from .._options import ServerOptions
from .._state import OPTIONS, STORAGE
from ..storage import AuditEntry, SessionRecord
from ._conversations import object_body

__all__ = ["LOGINS", "Logins", "get_session", "sign_in", "sign_out"]

log = logging.getLogger("agentsight.server")


class Logins:
    """What signing in shares: the failure buckets and the bound on hashes at once."""

    def __init__(self, options: ServerOptions) -> None:
        self.by_address = RateLimiter(options.login_limit_address)
        self.by_account = RateLimiter(options.login_limit_account)
        # Two at once: as many as the cores of a small machine, 256 MiB at most.
        self.hashing = asyncio.Semaphore(2)


def session_body(record: SessionRecord, csrf_token: str) -> dict[str, Any]:
    """What ``GET /v1/session`` answers: the user, its projects, the CSRF token."""
    return {
        "user": {"email": record.email, "role": record.role},
        "projects": list(record.projects),
        "csrf_token": csrf_token,
        "expires_at": format_ts(record.expires_at),
    }


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if type(value) is not str:
        raise ApiError(400, f"{name}: expected a string")
    return value


async def sign_in(request: web.Request) -> web.Response:
    """``POST /v1/session``: check ``{"email", "password"}``, start a session, set its cookie."""
    same_origin(request)  # no signing a victim's browser in to the attacker's account
    body = await object_body(request, ("email", "password"))
    try:
        email = check_email(_text(body, "email"))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    password = _text(body, "password")
    if len(password) > MAX_PASSWORD:
        raise ApiError(400, f"password: expected at most {MAX_PASSWORD} characters")
    logins = request.app[LOGINS]
    address, account = f"addr:{request.remote}", f"account:{email}"
    wait = max(logins.by_address.wait(address), logins.by_account.wait(account))
    if wait > 0:
        log.warning("refused a sign-in as %s from %s: too many failures", email, request.remote)
        raise too_many(wait, "signing in: too many failures for this account or address")
    storage = request.app[STORAGE]
    record = await storage.login_record(email)
    async with logins.hashing:
        stored = DUMMY_HASH if record is None else record.password_hash
        right = await asyncio.to_thread(verify_password, password, stored)
    if record is None or not right:
        logins.by_address.spend(address)
        logins.by_account.spend(account)
        log.info("failed sign-in as %s from %s", email, request.remote)
        raise ApiError(401, "email or password: wrong (or no such user)")
    return await _start(request, record.id, record.email)


async def _start(request: web.Request, user_id: int, email: str) -> web.Response:
    options = request.app[OPTIONS]
    storage = request.app[STORAGE]
    token = secrets.token_urlsafe(32)
    hashed = hash_token(token)
    expires = now_micros() + round(options.session_lifetime * 1_000_000)
    await storage.create_session(hashed, user_id, expires, request.remote)
    entry = AuditEntry(email, "session.start", address=request.remote)
    await storage.add_audit(entry)
    record = await storage.find_session(hashed)
    if record is None:  # deleted in between (the user, by an admin)
        raise ApiError(401, "email or password: wrong (or no such user)")
    response = json_response(session_body(record, csrf_for(token)))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=round(options.session_lifetime),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
    )
    return response


async def get_session(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/session``: who is signed in, the projects it may open, the CSRF token."""
    assert caller.session is not None and caller.csrf_token is not None
    return json_response(session_body(caller.session, caller.csrf_token))


async def sign_out(request: web.Request, caller: Caller) -> web.Response:
    """``DELETE /v1/session``: end the session and forget its cookie."""
    assert caller.token_hash is not None
    hashed = caller.token_hash
    storage = request.app[STORAGE]
    await storage.delete_session(hashed)
    return json_response({"signed_out": True}, headers={"Set-Cookie": ended_cookie()})


#: Where ``create_app`` keeps the sign-in state.
LOGINS = web.AppKey("agentsight.logins", Logins)
