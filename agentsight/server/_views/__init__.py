"""The collector's HTTP views and their routes, each with what it needs of its caller."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import attrs
from aiohttp import web

from .._http._access import Caller, Need, ProjectMode, authorize
from ._admin import get_audit, get_retention, list_users, post_erasure, put_grants, put_retention
from ._attachments import download
from ._conversations import (
    add_feedback,
    delete_conversation,
    get_conversation,
    list_conversations,
    patch_conversation,
)
from ._dashboard import dashboard_file, dashboard_index
from ._ingest import post_batch
from ._meta import health, openapi
from ._metrics import get_metrics, get_metrics_summary
from ._otlp import otlp_refusals, post_traces
from ._reports import get_customers, get_filter_values, get_metadata_values, get_unhandled
from ._scores import add_score
from ._session import get_session, sign_in, sign_out

__all__ = ["ROUTES", "Route", "add_routes"]

_ONE = "/v1/conversations/{conversation_id}"
Handler = Callable[..., Awaitable[web.StreamResponse]]


@attrs.frozen
class Route:
    """A route, and what its caller needs: a public handler takes the request alone,
    any other also the ``Caller`` that ``authorize`` found.
    """

    method: str
    path: str
    handler: Handler
    need: Need
    project: ProjectMode = "required"
    #: Wraps the guarded handler, for a route whose refusals take another form than
    #: ``{"error": ...}`` (OTLP's ``google.rpc.Status``).
    refusals: Callable[[Handler], Handler] | None = None


#: Every route of the API.  The security suite checks each against each kind of caller.
ROUTES = (
    Route("POST", "/v1/batch", post_batch, Need.INGEST),
    Route("POST", "/v1/traces", post_traces, Need.INGEST, refusals=otlp_refusals),
    Route("GET", "/v1/conversations", list_conversations, Need.READ),
    Route("GET", _ONE, get_conversation, Need.READ),
    Route("PATCH", _ONE, patch_conversation, Need.MANAGE),
    Route("DELETE", _ONE, delete_conversation, Need.MANAGE),
    Route("POST", _ONE + "/feedback", add_feedback, Need.MANAGE),
    Route("POST", _ONE + "/scores", add_score, Need.MANAGE),
    Route("GET", _ONE + "/attachments/{event_id}/{index}", download, Need.READ),
    Route("GET", "/v1/metrics", get_metrics, Need.READ),
    Route("GET", "/v1/metrics/summary", get_metrics_summary, Need.READ),
    Route("GET", "/v1/metrics/unhandled", get_unhandled, Need.READ),
    Route("GET", "/v1/metrics/metadata", get_metadata_values, Need.READ),
    Route("GET", "/v1/customers", get_customers, Need.READ),
    Route("GET", "/v1/filter-values", get_filter_values, Need.READ),
    Route("GET", "/v1/retention", get_retention, Need.READ),
    Route("PUT", "/v1/retention", put_retention, Need.MANAGE),
    Route("POST", "/v1/erasure", post_erasure, Need.MANAGE),
    Route("GET", "/v1/audit", get_audit, Need.MANAGE, "optional"),
    Route("GET", "/v1/users", list_users, Need.USERS, "none"),
    Route("PUT", "/v1/users/{user_id}/projects", put_grants, Need.USERS, "none"),
    Route("POST", "/v1/session", sign_in, Need.PUBLIC, "none"),
    Route("GET", "/v1/session", get_session, Need.SESSION, "none"),
    Route("DELETE", "/v1/session", sign_out, Need.SESSION, "none"),
    Route("GET", "/v1/health", health, Need.PUBLIC, "none"),
    Route("GET", "/v1/openapi.json", openapi, Need.PUBLIC, "none"),
    Route("GET", "/", dashboard_index, Need.PUBLIC, "none"),
    Route("GET", "/static/{name}", dashboard_file, Need.PUBLIC, "none"),
)


def _guarded(route: Route) -> Handler:
    """The handler of *route*, behind ``authorize`` unless the route is public."""
    if route.need is Need.PUBLIC:
        return route.handler

    @functools.wraps(route.handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        caller: Caller = await authorize(request, route.need, route.project)
        return await route.handler(request, caller)

    return guarded


def add_routes(app: web.Application) -> None:
    """Register every route of ``ROUTES`` on *app* (a GET route answers no HEAD)."""
    for route in ROUTES:
        handler = _guarded(route)
        if route.refusals is not None:
            handler = route.refusals(handler)
        app.router.add_route(route.method, route.path, handler)
