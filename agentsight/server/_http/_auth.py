"""API key authentication: the ``Authorization`` header to a live key (project and scope)."""

from __future__ import annotations

import logging

from aiohttp import web

from ..._keys import hash_key, problem, redact
from .._state import STORAGE
from ..storage import LiveKey
from ._errors import ApiError
from ._ratelimit import KNOWN_KEYS, RATE_LIMITER, too_many

__all__ = ["CHALLENGE", "authenticate"]

log = logging.getLogger("agentsight.server")
_SCHEMES = ("bearer", "api-key")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="agentsight"'}


def _key_from(header: str) -> str | None:
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() not in _SCHEMES:
        return None
    return key.strip()


def _key(request: web.Request) -> str:
    """The well-formed key of the request, or a 401."""
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "Authorization: expected 'Bearer <key>' or 'Api-Key <key>'", CHALLENGE)
    key = _key_from(header)
    wrong = "expected 'Bearer <key>' or 'Api-Key <key>'" if key is None else problem(key)
    if wrong is not None:
        raise ApiError(401, f"Authorization: {wrong}", CHALLENGE)
    assert key is not None
    return key


async def _live(request: web.Request, key: str, hashed: str) -> LiveKey:
    """The live key *key* (hashed: *hashed*), or a 401."""
    found = await request.app[STORAGE].find_key(hashed)
    if found is None:
        log.debug("refused key %s from %s: unknown or revoked", redact(key), request.remote)
        raise ApiError(401, "Authorization: unknown or revoked API key", CHALLENGE)
    return found


async def authenticate(request: web.Request) -> LiveKey:
    """The live key of the request: its id, project and scope.

    A malformed key (bad format or checksum) is refused without a database
    look-up.  Keys are never logged, only their redacted form.  Under a rate
    limit, each key spends from its own bucket, and each failure from the
    bucket of the client address.  Once that one is empty, a key that is
    not among the live keys (``KnownKeys``) is refused with 429 before it
    is looked up; a live key goes on as from any other address.

    Raises:
        ApiError: 401 for a missing, malformed, unknown or revoked key; 429
            with ``Retry-After`` past the rate limit.
    """
    limiter = request.app.get(RATE_LIMITER)
    if limiter is None:
        key = _key(request)
        return await _live(request, key, hash_key(key))
    address = f"addr:{request.remote}"
    throttled = limiter.wait(address)
    try:
        key = _key(request)
        hashed = hash_key(key)
        if throttled > 0 and not await request.app[KNOWN_KEYS].holds(hashed):
            raise ApiError(401, "not a live key")  # refused below, without a look-up
        found = await _live(request, key, hashed)
    except ApiError:
        if throttled > 0:
            log.debug("refused %s: too many failed authentications", request.remote)
            raise too_many(throttled, "with a missing or wrong API key from this address") from None
        limiter.spend(address)
        raise
    if (wait := limiter.take(f"key:{hashed}")) > 0:
        log.debug("refused a request of key %d from %s: rate limit", found.id, request.remote)
        raise too_many(wait, "for this API key")
    return found
