"""The collector's HTTP views and their routes."""

from __future__ import annotations

from aiohttp import web

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
from ._metrics import get_metrics

__all__ = ["add_routes"]

_ONE = "/v1/conversations/{conversation_id}"


def add_routes(app: web.Application) -> None:
    """Register every route of the API on *app*."""
    app.router.add_routes(
        [
            web.post("/v1/batch", post_batch),
            web.get("/v1/conversations", list_conversations, allow_head=False),
            web.get(_ONE, get_conversation, allow_head=False),
            web.patch(_ONE, patch_conversation),
            web.delete(_ONE, delete_conversation),
            web.post(_ONE + "/feedback", add_feedback),
            web.get("/v1/health", health, allow_head=False),
            web.get("/v1/openapi.json", openapi, allow_head=False),
            web.get("/v1/metrics", get_metrics, allow_head=False),
            web.get("/", dashboard_index, allow_head=False),
            web.get("/static/{name}", dashboard_file, allow_head=False),
        ]
    )
