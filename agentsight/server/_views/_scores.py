"""``POST /v1/conversations/{id}/scores``: scores from people and evaluation jobs.

A score is stored as a ``score`` event of the conversation, as the SDK's
``track_score`` sends it (so both are listed, filtered and counted alike),
with the source the caller names: ``api`` (an evaluation job, the default)
or ``human`` (a reviewer).  Evaluation jobs holding an ingest key send
``score`` events in ``/v1/batch`` instead.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from .._http._access import Caller
from .._http._errors import ApiError, json_response
from .._ingest import _fields as f
from .._ingest._time import format_ts, now_micros
from .._state import STORAGE, VALIDATOR
from ._conversations import _conversation_id, _not_found, _redacted, object_body

__all__ = ["add_score"]

_FIELDS = ("name", "value", "comment", "message_id", "source", "metadata")


async def add_score(request: web.Request, caller: Caller) -> web.Response:
    """Store one score of the conversation (or of one of its messages); 201 with it."""
    project_id = caller.project
    cid = _conversation_id(request)
    body = await object_body(request, _FIELDS)
    source = body.get("source", "api")
    if source not in ("api", "human"):
        raise ApiError(400, "source: expected 'api' or 'human' ('sdk' is the SDK's own)")
    raw: dict[str, Any] = {
        **body,
        "source": source,
        "id": uuid.uuid4().hex,
        "type": "score",
        "conversation_id": cid,
        "seq": 0,
        "timestamp": format_ts(now_micros()),
    }
    try:
        event = request.app[VALIDATOR].check_fields(raw)
    except f.Invalid as exc:
        raise ApiError(400, str(exc)) from exc
    for name in ("comment", "metadata"):
        event.payload[name] = _redacted(request, event.payload[name])
    storage = request.app[STORAGE]
    if await storage.get_conversation(project_id, cid) is None:
        raise _not_found(cid)
    await storage.write_batch(project_id, [event])
    answer = {"id": event.id, "conversation_id": cid, "timestamp": raw["timestamp"]}
    return json_response({"score": {**answer, **event.payload}}, status=201)
