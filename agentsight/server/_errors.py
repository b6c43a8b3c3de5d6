"""JSON errors: one exception for the views, one middleware for everything else.

Every refusal is a JSON body ``{"error": "..."}``.  An unexpected exception
becomes a logged 500 with a generic message; the tests show that no input
reaches that path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

__all__ = ["ApiError", "error_middleware", "json_error"]

log = logging.getLogger("agentsight.server")


class ApiError(Exception):
    """Answer the request with *status* and a JSON error naming what was wrong."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON error response."""
    return web.json_response({"error": message}, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ``ApiError`` and aiohttp's HTTP errors into JSON, anything else into a logged 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.message, exc.headers)
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
