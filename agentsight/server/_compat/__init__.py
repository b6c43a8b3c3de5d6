"""The routes of the official AgentSight SDKs (0.0.44 and 0.1.4), under ``/api/``.

Teams already on the official SDKs point them at the collector unchanged
(``AGENTSIGHT_API_ENDPOINT``, one of our keys): their requests are mapped
onto the wire schema and stored as ``/v1/batch`` stores, with the same key
scopes, limits, validation and redaction.  What they send and expect is
described in ``docs/coming-from-agentsight.md``.  Each path is also served
with a doubled leading slash: 0.0.44 builds ``{endpoint}/api/...``, so an
endpoint ending in ``/`` gives ``//api/...``, and a redirect would turn its
POST into a GET.  Any other ``/api/`` path is a JSON 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from .._http._access import Need
from . import _manage as manage
from . import _reads as reads
from . import _writes as writes
from ._common import Handler, compat_route, detail
from ._ingest import get_me, post_ingest

__all__ = ["COMPAT_ROUTES", "add_compat_routes"]

_ONE = "/api/conversations/{pk:[0-9]+}/"

#: (method, path, handler, need, patient): patient routes are 0.0.44's, which
#: never retries a 429 or a 503 (see ``_common``).
COMPAT_ROUTES: tuple[tuple[str, str, Handler, Need, bool], ...] = (
    ("POST", "/api/conversations/", writes.post_conversation, Need.INGEST, True),
    ("POST", "/api/track/", writes.post_message, Need.INGEST, True),
    ("POST", "/api/action_logs/", writes.post_action, Need.INGEST, True),
    ("POST", "/api/buttons/", writes.post_button, Need.INGEST, True),
    ("POST", "/api/attachments/", writes.post_attachments, Need.INGEST, True),
    ("POST", "/api/ingest/", post_ingest, Need.INGEST, False),
    ("POST", "/api/conversation-feedbacks/", manage.post_feedback, Need.MANAGE, True),
    ("POST", "/api/feedbacks/", manage.post_feedback, Need.MANAGE, False),
    ("GET", "/api/conversations/lookup/", manage.lookup, Need.READ, True),
    ("PATCH", _ONE + "rename/", manage.rename, Need.MANAGE, True),
    ("POST", _ONE + "mark/", manage.mark, Need.MANAGE, True),
    ("PATCH", _ONE + "update/", manage.update, Need.MANAGE, True),
    ("DELETE", _ONE + "delete/", manage.delete_conversation, Need.MANAGE, True),
    ("GET", "/api/conversations/", reads.list_conversations, Need.READ, True),
    ("GET", _ONE, reads.get_conversation, Need.READ, True),
    ("GET", _ONE + "attachments/", reads.list_attachments, Need.READ, True),
)


async def _not_found(request: web.Request) -> web.Response:
    return detail(404, "Not found: this collector serves the official SDKs' tracking routes only")


async def _me(request: web.Request) -> web.StreamResponse:
    from .._http._errors import ApiError

    try:
        return await get_me(request)
    except ApiError as exc:
        return detail(exc.status, exc.message, exc.headers)


def add_compat_routes(app: web.Application) -> None:
    """Register ``COMPAT_ROUTES`` (and ``GET /api/me/``) on *app*, with and without ``//``."""
    routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
        (method, path, compat_route(handler, need, patient=patient))
        for method, path, handler, need, patient in COMPAT_ROUTES
    ]
    routes.append(("GET", "/api/me/", _me))
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, "/" + path, handler)
    for prefix in ("/api/", "//api/"):
        app.router.add_route("*", prefix + "{tail:.*}", _not_found)
