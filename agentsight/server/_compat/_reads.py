"""0.0.44's read routes: page-number listing, the detail shape, attachments.

The listing walks the keyset pages of ``/v1`` to number its pages and
count: ``count`` is exact up to ``COUNT_LIMIT`` conversations (a scan of
that many rows), and says that many beyond.  Filters it has no equivalent
for (``action_name``, ``has_messages``, ``name``, ``metadata``,
``include_deleted``, ``has_feedback``, ``feedback_source``...) are ignored.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import attrs
from aiohttp import web
from multidict import MultiDict

from .._http._access import Caller
from .._http._errors import ApiError, json_response
from .._state import STORAGE
from .._views._params import parse_query
from ..storage import ConversationQuery
from ._common import number_of
from ._manage import conversation_of

__all__ = ["COUNT_LIMIT", "get_conversation", "list_attachments", "list_conversations"]

#: The most conversations the listing counts.
COUNT_LIMIT = 10_000
_MAX_PAGE = 100
# Their filter names, as ours (GET /v1/conversations).
_FILTERS = {
    "customer_id": "customer_id",
    "device": "device",
    "language": "language",
    "source": "source",
    "environment": "environment",
    "is_marked": "is_marked",
    "started_at_after": "since",
    "started_at_before": "until",
    "message_contains": "q",
    "feedback_sentiment": "sentiment",
}


def _number(request: web.Request, name: str, default: int, most: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw[:9]) <= most:
        raise ApiError(400, f"{name}: expected a whole number from 1 to {most}")
    return int(raw)


def _summary(pk: int, conversation: dict[str, Any]) -> dict[str, Any]:
    return {"id": pk, **conversation}


async def list_conversations(request: web.Request, caller: Caller) -> web.Response:
    """``GET /api/conversations/``: ``{count, page_size, total_pages, current_page, next,
    previous, results}``; ``conversation_id=`` finds one."""
    page = _number(request, "page", 1, 10**6)
    size = _number(request, "page_size", 20, _MAX_PAGE)
    storage = request.app[STORAGE]
    cid = request.query.get("conversation_id")
    params = {_FILTERS[k]: v for k, v in request.query.items() if k in _FILTERS}
    params["limit"] = str(_MAX_PAGE)
    query = parse_query(MultiDict(params))
    rows: list[dict[str, Any]] = []
    if cid is not None:
        found = await storage.find_conversation(caller.project, conversation_id=cid[:256])
        row = await storage.get_conversation(caller.project, found[1]) if found else None
        if found and row is not None:
            rows.append(_summary(found[0], row))
    else:
        rows = await _walk(request, caller, query)
    count = len(rows)
    pages = max(1, -(-count // size))
    chosen = rows[(page - 1) * size : page * size]
    full = request.query.get("full", "true").lower() != "false"  # as the official API
    results = []
    for row in chosen:
        if "id" not in row:
            ref = await storage.find_conversation(
                caller.project, conversation_id=row["conversation_id"]
            )
            row = _summary(ref[0] if ref else 0, row)
        if full:
            row.setdefault("feedback", [])
            row = await _detail(request, caller, row.pop("id"), row)
        results.append(row)
    answer = {
        "count": count,
        "page_size": size,
        "total_pages": pages,
        "current_page": page,
        "next": page + 1 if page < pages else None,
        "previous": page - 1 if page > 1 else None,
        "results": results,
    }
    return json_response(answer)


async def _walk(
    request: web.Request, caller: Caller, query: ConversationQuery
) -> list[dict[str, Any]]:
    storage = request.app[STORAGE]
    rows: list[dict[str, Any]] = []
    before = None
    while len(rows) < COUNT_LIMIT:
        found = await storage.list_conversations(caller.project, attrs.evolve(query, before=before))
        rows.extend(found.conversations)
        if found.next_before is None:
            break
        before = found.next_before
    return rows[:COUNT_LIMIT]


def _file_entries(event: dict[str, Any], cid: str) -> list[dict[str, Any]]:
    # One path segment: an id may hold "/", "#", "?" or spaces.
    quoted = urllib.parse.quote(cid, safe="")
    return [
        {
            "id": f"{event['id']}/{index}",
            "filename": item.get("filename"),
            "mime_type": item.get("mime_type"),
            "size": item.get("size"),
            "sender": event.get("sender"),
            "message": None if not event.get("message_id") else number_of(event["message_id"]),
            "timestamp": event["timestamp"],
            "url": f"/v1/conversations/{quoted}/attachments/{event['id']}/{index}",
        }
        for index, item in enumerate(event.get("files") or ())
        if isinstance(item, dict)
    ]


async def get_conversation(request: web.Request, caller: Caller) -> web.Response:
    """``GET /api/conversations/{pk}/``: the official shape, actions and buttons on the
    message before them."""
    pk, cid = await conversation_of(request, caller)
    storage = request.app[STORAGE]
    conversation = await storage.get_conversation(caller.project, cid)
    if conversation is None:
        raise ApiError(404, f"no conversation {pk} in this project")
    return json_response(await _detail(request, caller, pk, conversation))


async def _detail(
    request: web.Request, caller: Caller, pk: int, conversation: dict[str, Any]
) -> dict[str, Any]:
    storage = request.app[STORAGE]
    cid = conversation["conversation_id"]
    events = await storage.list_events(caller.project, cid)
    messages: list[dict[str, Any]] = []
    by_id: dict[str, dict[str, Any]] = {}
    loose: dict[str, list[Any]] = {"action_logs": [], "buttons": [], "attachments": []}
    for event in events:
        kind = event["type"]
        last = messages[-1] if messages else None
        if kind == "message":
            message = {
                "id": number_of(event["id"]),
                "sender": event["sender"],
                "content": event["content"],
                "metadata": event.get("metadata"),
                "timestamp": event["timestamp"],
                "attachments": [],
                "action_logs": [],
                "button": None,
            }
            messages.append(message)
            by_id[event["id"]] = message
        elif kind == "action":
            entry = {k: v for k, v in event.items() if k not in ("type", "seq", "conversation_id")}
            entry["id"] = number_of(event["id"])
            (last["action_logs"] if last else loose["action_logs"]).append(entry)
        elif kind == "button":
            entry = {k: event.get(k) for k in ("button_event", "label", "value", "metadata")}
            entry.update(id=number_of(event["id"]), timestamp=event["timestamp"])
            if last is not None and last["button"] is None:
                last["button"] = entry
            else:
                loose["buttons"].append(entry)
        elif kind == "attachment":
            owner = by_id.get(event.get("message_id") or "")
            files = _file_entries(event, cid)
            (owner["attachments"] if owner else loose["attachments"]).extend(files)
    feedback = conversation.pop("feedback", [])
    return {"id": pk, **conversation, "messages": messages, **loose, "feedbacks": feedback}


async def list_attachments(request: web.Request, caller: Caller) -> web.Response:
    """``GET /api/conversations/{pk}/attachments/``: every file of the conversation."""
    _, cid = await conversation_of(request, caller)
    events = await request.app[STORAGE].list_events(caller.project, cid)
    files = [f for e in events if e["type"] == "attachment" for f in _file_entries(e, cid)]
    return json_response({"count": len(files), "results": files})
