"""The query and management API: ``/v1/conversations`` and below."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import attrs
from aiohttp import web

from .._http._access import Caller
from .._http._body import read_json
from .._http._errors import ApiError, json_response
from .._ingest import _fields as f
from .._state import OPTIONS, REDACTOR, STORAGE
from ..storage import ConversationChanges, Feedback
from ._params import encode_cursor, parse_query

__all__ = [
    "add_feedback",
    "checked",
    "object_body",
    "delete_conversation",
    "get_conversation",
    "list_conversations",
    "patch_conversation",
]

log = logging.getLogger("agentsight.server")
T = TypeVar("T")
_name = f.text(4096)
_comment = f.text(65536)


def _not_found(conversation_id: str) -> ApiError:
    return ApiError(
        404, f"conversation_id: no conversation {conversation_id[:256]!r} in this project"
    )


def _conversation_id(request: web.Request) -> str:
    """The id in the path; one that no event could have created is simply not found."""
    cid = request.match_info["conversation_id"]
    if len(cid) > 256 or not f.storable(cid):
        raise _not_found(cid.encode("utf-8", "replace").decode("utf-8"))
    return cid


async def object_body(request: web.Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    body, suspect = await read_json(request, request.app[OPTIONS])
    if type(body) is not dict:
        raise ApiError(400, "body: expected a JSON object")
    for name in body:
        if name not in allowed:
            raise ApiError(400, f"{name[:64]}: unknown field; expected {', '.join(allowed)}")
        if suspect and not f.storable(body[name]):
            raise ApiError(400, f"{name}: contains a lone surrogate (invalid Unicode)")
    return body


def checked(check: f.Check, name: str, value: Any) -> Any:
    try:
        return check(name, value)
    except f.Invalid as exc:
        raise ApiError(400, str(exc)) from exc


def _redacted(request: web.Request, value: Any) -> Any:
    """*value* (text or metadata) through ``--redact``, when the collector has it."""
    redactor = request.app.get(REDACTOR)
    return value if redactor is None or value is None else redactor.value(value)


async def list_conversations(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/conversations``: filtered, sorted (newest first by default), one page;
    the first page also says how many match (``total``) unless asked ``total=false``."""
    project_id = caller.project
    query = parse_query(request.query)
    counted = "total" not in request.query or query.count
    query = attrs.evolve(query, annotate=True, count=counted)
    storage = request.app[STORAGE]
    page = await storage.list_conversations(project_id, query)
    cursor = None
    if page.next_before is not None:
        value = None if query.sort == "created" else page.next_value
        cursor = encode_cursor(page.next_before, value)
    answer = {"conversations": page.conversations, "next_cursor": cursor, "total": page.total}
    return json_response(answer)


async def get_conversation(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/conversations/{id}``: the conversation and its events in order."""
    project_id = caller.project
    cid = _conversation_id(request)
    storage = request.app[STORAGE]
    conversation = await storage.get_conversation(project_id, cid)
    if conversation is None:
        raise _not_found(cid)
    events = await storage.list_events(project_id, cid)
    return json_response({"conversation": conversation, "events": events})


async def patch_conversation(request: web.Request, caller: Caller) -> web.Response:
    """``PATCH /v1/conversations/{id}``: rename, mark, merge metadata."""
    project_id = caller.project
    cid = _conversation_id(request)
    body = await object_body(request, ("name", "metadata", "is_marked"))
    options = request.app[OPTIONS]
    metadata_check = f.json_value(options.max_json_chars, options.max_depth, kind=dict)
    changes = ConversationChanges(
        name=_redacted(request, checked(_name, "name", body.get("name"))),
        metadata=_redacted(request, checked(metadata_check, "metadata", body.get("metadata"))),
        is_marked=None
        if body.get("is_marked") is None
        else checked(f.flag, "is_marked", body["is_marked"]),
    )
    storage = request.app[STORAGE]
    if not await storage.update_conversation(project_id, cid, changes):
        raise _not_found(cid)
    conversation = await storage.get_conversation(project_id, cid)
    if conversation is None:  # deleted in between
        raise _not_found(cid)
    return json_response({"conversation": conversation})


async def delete_conversation(request: web.Request, caller: Caller) -> web.Response:
    """``DELETE /v1/conversations/{id}``: the conversation, its events and feedback."""
    project_id = caller.project
    cid = _conversation_id(request)
    storage = request.app[STORAGE]
    if not await storage.delete_conversation(project_id, cid):
        raise _not_found(cid)
    await storage.add_audit(caller.entry("conversation.delete", cid))
    return json_response({"deleted": True, "conversation_id": cid})


async def add_feedback(request: web.Request, caller: Caller) -> web.Response:
    """``POST /v1/conversations/{id}/feedback``: sentiment, comment, metadata."""
    project_id = caller.project
    cid = _conversation_id(request)
    body = await object_body(request, ("sentiment", "comment", "metadata"))
    options = request.app[OPTIONS]
    sentiment_check = f.enum(("positive", "neutral", "negative"), nullable=False)
    metadata_check = f.json_value(options.max_json_chars, options.max_depth, kind=dict)
    feedback = Feedback(
        sentiment=checked(sentiment_check, "sentiment", body.get("sentiment")),
        comment=_redacted(request, checked(_comment, "comment", body.get("comment"))),
        metadata=_redacted(request, checked(metadata_check, "metadata", body.get("metadata"))),
    )
    storage = request.app[STORAGE]
    if not await storage.add_feedback(project_id, cid, feedback):
        raise _not_found(cid)
    answer = {
        "conversation_id": cid,
        **{k: getattr(feedback, k) for k in ("sentiment", "comment", "metadata")},
    }
    return json_response({"feedback": answer}, status=201)
