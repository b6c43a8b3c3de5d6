"""0.0.44's management routes (and 0.1.4's feedback): by the conversation's number.

They need what ``/v1``'s need: an admin key for changes, a read key for the
look-up.  ``update`` replaces the metadata (as the official endpoint does:
0.1.4's ``update_metadata`` reads, merges and writes back to remove keys);
its ``customer_id``, ``device`` and ``language``, which a conversation keeps
as first written, are ignored.  ``delete`` deletes (the official API hides).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ... import _wire as wire
from .._http._access import Caller
from .._http._errors import ApiError, json_response
from .._ingest import _fields as f
from .._state import OPTIONS, REDACTOR, STORAGE
from ..storage import ConversationChanges, Feedback
from ._common import flat_object, short, text
from ._writes import object_body

__all__ = [
    "delete_conversation",
    "lookup",
    "mark",
    "post_feedback",
    "rename",
    "update",
]

_SENTIMENTS = ("positive", "neutral", "negative")


async def conversation_of(request: web.Request, caller: Caller) -> tuple[int, str]:
    """The conversation numbered in the path, or a 404."""
    raw = request.match_info["pk"]
    pk = int(raw) if raw.isdigit() and len(raw) < 19 else None
    found = None
    if pk is not None:
        found = await request.app[STORAGE].find_conversation(caller.project, pk=pk)
    if found is None:
        raise ApiError(404, f"no conversation {raw[:40]!r} in this project")
    return found


async def _row(request: web.Request, caller: Caller, cid: str) -> dict[str, Any]:
    conversation = await request.app[STORAGE].get_conversation(caller.project, cid)
    if conversation is None:
        raise ApiError(404, f"no conversation {cid[:256]!r} in this project")
    found = await request.app[STORAGE].find_conversation(caller.project, conversation_id=cid)
    return {"id": found[0] if found else None, **conversation}


def _redacted(request: web.Request, value: Any) -> Any:
    redactor = request.app.get(REDACTOR)
    return value if redactor is None or value is None else redactor.value(value)


async def lookup(request: web.Request, caller: Caller) -> web.Response:
    """``GET /api/conversations/lookup/?conversation_id=``: the number of a conversation."""
    cid = request.query.get("conversation_id", "")
    found = None
    if 0 < len(cid) <= wire.SHORT and f.storable(cid):
        found = await request.app[STORAGE].find_conversation(caller.project, conversation_id=cid)
    if found is None:
        raise ApiError(404, f"conversation_id: no conversation {cid[:256]!r} in this project")
    return json_response({"id": found[0], "conversation_id": found[1]})


async def _change(
    request: web.Request, caller: Caller, changes: ConversationChanges
) -> web.Response:
    _, cid = await conversation_of(request, caller)
    if not await request.app[STORAGE].update_conversation(caller.project, cid, changes):
        raise ApiError(404, f"no conversation {cid[:256]!r} in this project")
    return json_response(await _row(request, caller, cid))


async def rename(request: web.Request, caller: Caller) -> web.Response:
    """``PATCH /api/conversations/{pk}/rename/`` ``{"name"}``."""
    body = await object_body(request)
    name = text(body.get("name"), wire.LONG)
    if not name:
        raise ApiError(400, "name: expected a non-empty string")
    return await _change(request, caller, ConversationChanges(name=_redacted(request, name)))


async def mark(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/conversations/{pk}/mark/`` ``{"is_marked"}``."""
    body = await object_body(request)
    marked = body.get("is_marked", True)
    if type(marked) is not bool:
        raise ApiError(400, "is_marked: expected true or false")
    return await _change(request, caller, ConversationChanges(is_marked=marked))


async def update(request: web.Request, caller: Caller) -> web.Response:
    """``PATCH /api/conversations/{pk}/update/``: name, marked, metadata (replaced)."""
    body = await object_body(request)
    _, cid = await conversation_of(request, caller)
    options = request.app[OPTIONS]
    metadata = flat_object(body.get("metadata"))
    if metadata is not None:
        try:
            f.json_value(options.max_json_chars, options.max_depth, kind=dict)("metadata", metadata)
        except f.Invalid as exc:
            raise ApiError(400, str(exc)) from exc
    name = text(body.get("name"), wire.LONG)
    marked = body.get("is_marked")
    # The official endpoint replaces the document (0.1.4's update_metadata reads,
    # merges and writes it back to remove keys): so does this one.
    given = "metadata" in body and isinstance(body["metadata"], dict)
    changes = ConversationChanges(
        name=_redacted(request, name) or None,
        metadata=_redacted(request, metadata or {}) if given else None,
        is_marked=marked if type(marked) is bool else None,
        replace_metadata=given,
    )
    if not await request.app[STORAGE].update_conversation(caller.project, cid, changes):
        raise ApiError(404, f"no conversation {cid[:256]!r} in this project")
    return json_response(await _row(request, caller, cid))


async def delete_conversation(request: web.Request, caller: Caller) -> web.Response:
    """``DELETE /api/conversations/{pk}/delete/``: deleted with its events (not hidden)."""
    pk, cid = await conversation_of(request, caller)
    storage = request.app[STORAGE]
    if not await storage.delete_conversation(caller.project, cid):
        raise ApiError(404, f"no conversation {cid[:256]!r} in this project")
    await storage.add_audit(caller.entry("conversation.delete", cid))
    return json_response({"id": pk, "conversation_id": cid, "deleted": True})


async def post_feedback(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/conversation-feedbacks/`` (0.0.44), ``POST /api/feedbacks/`` (0.1.4):
    by ``conversation_id`` or ``conversation`` (the number)."""
    body = await object_body(request)
    kind = body.get("kind", "conversation")
    if kind != "conversation":
        raise ApiError(400, f"kind: only 'conversation' feedback is kept here, not {kind!r:.40}")
    sentiment = body.get("sentiment")
    if sentiment not in _SENTIMENTS:
        raise ApiError(400, f"sentiment: expected one of {', '.join(_SENTIMENTS)}")
    storage = request.app[STORAGE]
    pk = body.get("conversation")
    if type(pk) is int or (isinstance(pk, str) and pk.isdigit() and len(pk) < 19):
        found = await storage.find_conversation(caller.project, pk=int(pk))
    else:
        cid = short(body.get("conversation_id")) or ""
        found = await storage.find_conversation(caller.project, conversation_id=cid)
    if found is None:
        raise ApiError(404, "conversation: no conversation of this project by that number or id")
    comment = text(body.get("comment"), 65536)
    feedback = Feedback(
        sentiment=sentiment,
        comment=_redacted(request, comment),
        metadata=_redacted(request, flat_object(body.get("metadata"))),
    )
    if not await storage.add_feedback(caller.project, found[1], feedback):
        raise ApiError(404, f"no conversation {found[1][:256]!r} in this project")
    answer = {
        "conversation": found[0],
        "conversation_id": found[1],
        "sentiment": sentiment,
        "comment": feedback.comment,
        "kind": "conversation",
    }
    return json_response(answer, status=201)
