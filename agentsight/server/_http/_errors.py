"""JSON answers and errors: one exception for the views, one middleware for everything else.

Every refusal is a JSON body ``{"error": "..."}``.  An unexpected exception
becomes a logged 500 with a generic message; the tests show that no input
reaches that path.

Every JSON answer goes through ``json_response``, which writes strict RFC
8259 JSON: a NaN or an infinity is an error of ours (a 500), never the
``NaN``/``Infinity`` that ``json.dumps`` writes by default and browsers'
``JSON.parse`` refuses.  ``nosniff`` is added to every answer of the
application, so no browser takes a JSON answer for HTML or script.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .._state import OPTIONS
from ..storage import StorageUnavailable

__all__ = ["ApiError", "add_nosniff", "error_middleware", "json_error", "json_response"]

log = logging.getLogger("agentsight.server")
_dumps = functools.partial(json.dumps, allow_nan=False)


class ApiError(Exception):
    """Answer the request with *status* and a JSON error naming what was wrong."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """*data* as a strict JSON answer (``ValueError`` for a NaN or an infinity)."""
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON error response."""
    return json_response({"error": message}, status=status, headers=headers)


async def add_nosniff(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: ``X-Content-Type-Options: nosniff`` on every answer."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ``ApiError`` and aiohttp's HTTP errors into JSON, anything else into a logged 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.message, exc.headers)
    except StorageUnavailable as exc:
        # The one place an unavailable database becomes an answer: 503, worth retrying.
        log.warning("%s %s: storage unavailable: %s", request.method, request.path, exc)
        retry = str(request.app[OPTIONS].retry_after)
        return json_error(503, "storage unavailable: retry later", {"Retry-After": retry})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(
            exc.status,
            exc.reason,
            {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None,
        )
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return json_error(500, "internal error")
