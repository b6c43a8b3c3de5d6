"""The dashboard: ``/`` and its files under ``/static/``, served from the package.

Everything the page loads comes from here (no CDN, no build step), so it
works offline.  The page asks for an API key and calls the same ``/v1`` API
as any client; these routes need no key and hold no data.  A strict Content
Security Policy allows only this origin's scripts and styles, so even a
mistake that put message text into HTML could not run a script.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from aiohttp import web

from .._http._errors import ApiError

__all__ = ["dashboard_file", "dashboard_index"]

_NAME = re.compile(r"[a-z0-9_-]{1,64}\.(html|js|css|svg|png)")
_TYPES = {
    "html": "text/html",
    "js": "text/javascript",
    "css": "text/css",
    "svg": "image/svg+xml",
    "png": "image/png",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@functools.cache
def _read(name: str) -> bytes | None:
    """The bytes of a file of ``agentsight/server/static``, or ``None``."""
    entry = resources.files("agentsight.server") / "static" / name
    try:
        return entry.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _serve(name: str) -> web.Response:
    match = _NAME.fullmatch(name)
    body = None if match is None else _read(name)
    if match is None or body is None:
        raise ApiError(404, f"{name[:64]}: no such dashboard file")
    headers = {**_HEADERS, "Cache-Control": "no-cache"}
    charset = None if match.group(1) == "png" else "utf-8"
    return web.Response(
        body=body, content_type=_TYPES[match.group(1)], charset=charset, headers=headers
    )


async def dashboard_index(request: web.Request) -> web.Response:
    """``GET /``: the dashboard page."""
    return _serve("index.html")


async def dashboard_file(request: web.Request) -> web.Response:
    """``GET /static/{name}``: a script, style sheet or image of the dashboard."""
    return _serve(request.match_info["name"])
