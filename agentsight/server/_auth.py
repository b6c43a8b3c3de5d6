"""API key authentication: the ``Authorization`` header to a project id."""

from __future__ import annotations

import logging

from aiohttp import web

from .._keys import hash_key, is_well_formed, redact
from ._errors import ApiError
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


async def authenticate(request: web.Request) -> int:
    """The project of the request's key.

    A malformed key (bad format or checksum) is refused without a database
    look-up.  Keys are never logged, only their redacted form.

    Raises:
        ApiError: 401 for a missing, malformed, unknown or revoked key.
    """
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "Authorization: expected 'Bearer <key>' or 'Api-Key <key>'", _CHALLENGE)
    key = _key_from(header)
    if key is None or not is_well_formed(key):
        raise ApiError(401, "Authorization: the API key is malformed", _CHALLENGE)
    project_id = await request.app[STORAGE].project_for_key(hash_key(key))
    if project_id is None:
        log.debug("refused key %s: unknown or revoked", redact(key))
        raise ApiError(401, "Authorization: unknown or revoked API key", _CHALLENGE)
    return project_id
