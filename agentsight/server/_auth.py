"""API key authentication: the ``Authorization`` header to a project id."""

from __future__ import annotations

import logging

from aiohttp import web

from .._keys import hash_key, is_well_formed, redact
from ._errors import ApiError
from ._ratelimit import RATE_LIMITER, too_many
from ._state import STORAGE

__all__ = ["authenticate"]

log = logging.getLogger("agentsight.server")
_SCHEMES = ("bearer", "api-key")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="agentsight"'}


def _key_from(header: str) -> str | None:
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() not in _SCHEMES:
        return None
    return key.strip()


async def _project(request: web.Request) -> tuple[int, str]:
    """The project and the hashed key of the request, or a 401."""
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "Authorization: expected 'Bearer <key>' or 'Api-Key <key>'", _CHALLENGE)
    key = _key_from(header)
    if key is None or not is_well_formed(key):
        raise ApiError(401, "Authorization: the API key is malformed", _CHALLENGE)
    hashed = hash_key(key)
    project_id = await request.app[STORAGE].project_for_key(hashed)
    if project_id is None:
        log.debug("refused key %s from %s: unknown or revoked", redact(key), request.remote)
        raise ApiError(401, "Authorization: unknown or revoked API key", _CHALLENGE)
    return project_id, hashed


async def authenticate(request: web.Request) -> int:
    """The project of the request's key.

    A malformed key (bad format or checksum) is refused without a database
    look-up.  Keys are never logged, only their redacted form.  Under a rate
    limit, each key spends from its own bucket, and each failure from the
    bucket of the client address, which once empty is refused before the
    key is even looked at.

    Raises:
        ApiError: 401 for a missing, malformed, unknown or revoked key; 429
            with ``Retry-After`` past the rate limit.
    """
    limiter = request.app.get(RATE_LIMITER)
    if limiter is None:
        return (await _project(request))[0]
    address = f"addr:{request.remote}"
    if (wait := limiter.wait(address)) > 0:
        log.debug("refused %s: too many failed authentications", request.remote)
        raise too_many(wait, "with a missing or wrong API key from this address")
    try:
        project_id, hashed = await _project(request)
    except ApiError:
        limiter.spend(address)
        raise
    if (wait := limiter.take(f"key:{hashed}")) > 0:
        log.debug("refused a request of project %d from %s: rate limit", project_id, request.remote)
        raise too_many(wait, "for this API key")
    return project_id
