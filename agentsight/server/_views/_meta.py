"""``GET /v1/health`` and ``GET /v1/openapi.json``: no authentication."""

from __future__ import annotations

from aiohttp import web

from .._http._errors import json_response
from .._openapi import openapi_document

__all__ = ["health", "openapi"]


async def health(request: web.Request) -> web.Response:
    """The collector is up and answering."""
    return json_response({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API."""
    return json_response(openapi_document())
