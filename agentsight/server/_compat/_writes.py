"""The write routes of the official SDK 0.0.44 (and 0.1.4's upload pair).

Each request is one tracked item; it becomes one event of the wire schema,
checked and stored as ``/v1/batch`` does, with an id derived from what the
SDK resends byte for byte (so its resends are duplicates).  Answers are 201
with a JSON object and the integer ``id`` the SDK reads back: the
conversation's number, or the message's (see ``number_of``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.parser
import email.policy
import functools
import hashlib
import mimetypes
from typing import Any

from aiohttp import web

from ... import _wire as wire
from .._http._access import Caller
from .._http._body import OFFLOAD_BYTES, read_body, read_json
from .._http._errors import ApiError, json_response
from .._ingest._prices import price
from .._state import OPTIONS, PRICES, STORAGE
from ..storage import NewEvent
from ._common import (
    check,
    event_id,
    flat_object,
    now_text,
    number_of,
    patiently,
    prefix_of,
    short,
    store,
    store_one,
    text,
    utc_text,
)

__all__ = [
    "post_action",
    "post_attachments",
    "post_button",
    "post_conversation",
    "post_message",
]

_ENVIRONMENTS = {"prod": "production", "dev": "development"}


async def object_body(request: web.Request) -> dict[str, Any]:
    """The JSON object of the request, or a 400."""
    body, _ = await read_json(request, request.app[OPTIONS])
    if type(body) is not dict:
        raise ApiError(400, "body: expected a JSON object")
    return body


def environment(value: Any) -> str:
    """0.0.44 forwards ``AGENTSIGHT_ENVIRONMENT`` unchecked; 0.1.4 may send none."""
    if isinstance(value, str):
        value = _ENVIRONMENTS.get(value.strip().lower(), value.strip().lower())
    return value if value in wire.ENVIRONMENTS else "development"


def conversation_event(body: dict[str, Any], stamp: str, used: bool) -> dict[str, Any]:
    """A ``conversation`` or ``interaction`` event of an official conversation body."""
    cid = short(body.get("conversation_id"))
    kind = "conversation" if used else "interaction"
    device = body.get("device")
    return {
        "id": event_id(kind, cid, stamp, body.get("name")),
        "type": kind,
        "conversation_id": cid,
        "seq": 0,
        "timestamp": stamp,
        "customer_id": short(body.get("customer_id")),
        "customer_ip_address": short(body.get("customer_ip_address")),
        "device": device if device in wire.DEVICES else None,
        "source": short(body.get("source")),
        "language": short(body.get("language")),
        "name": text(body.get("name"), wire.LONG),
        "environment": environment(body.get("environment")),
        "metadata": flat_object(body.get("metadata")),
    }


async def _pk(request: web.Request, caller: Caller, cid: str) -> int:
    found = await request.app[STORAGE].find_conversation(caller.project, conversation_id=cid)
    if found is None:  # deleted in between
        raise _gone(cid)
    return found[0]


def _gone(cid: str) -> ApiError:
    return ApiError(404, f"conversation_id: no conversation {cid!r}")


def _stamp(body: dict[str, Any]) -> str:
    """The item's tracking time: what 0.0.44 resends unchanged (its ids depend on it)."""
    stamp = body.get("timestamp")
    return stamp if isinstance(stamp, str) and stamp else now_text()


async def post_conversation(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/conversations/``: 0.0.44's conversation (``is_used``) or
    ``initialize_conversation``, 0.1.4's upload step one; answers the number."""
    body = await object_body(request)
    used = body.get("is_used") is True  # 0.1.4's upload sends only the id: an interaction
    event = await store_one(request, caller, conversation_event(body, _stamp(body), used))
    pk = await _pk(request, caller, event.conversation_id)
    answer = {"id": pk, "conversation_id": event.conversation_id, "is_used": used}
    return json_response(answer, status=201)


async def post_message(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/track/``: one message; answers its number (for its attachments)."""
    body = await object_body(request)
    stamp = _stamp(body)
    cid = short(body.get("conversation_id"))
    content = body.get("content")
    content = "" if content is None else content if isinstance(content, str) else str(content)
    limit = request.app[OPTIONS].max_content_chars
    sender = body.get("sender")
    raw = {
        "id": event_id("message", cid, stamp, sender, content),
        "type": "message",
        "conversation_id": cid,
        "seq": 0,
        "timestamp": stamp,
        "sender": sender,
        "content": content[:limit],
        "metadata": flat_object(body.get("metadata")),
        "truncated": len(content) > limit,
    }
    event = await store_one(request, caller, raw)
    answer = {
        "id": number_of(event.id),
        "conversation": await _pk(request, caller, event.conversation_id),
        "conversation_id": event.conversation_id,
        "sender": sender,
    }
    return json_response(answer, status=201)


def _duration(value: Any) -> Any:
    """A duration in milliseconds as the wire takes it; anything else is absent."""
    if type(value) in (int, float) and 0 <= value <= wire.MAX_DURATION_MS:
        return value
    return None


def _count(metadata: dict[str, Any], name: str) -> int:
    value = metadata.get(name)
    if type(value) is not int or value < 0:
        return 0
    return min(value, wire.MAX_TOKENS)


async def _token_usage(
    request: web.Request, caller: Caller, body: dict[str, Any], cid: str | None, stamp: str
) -> NewEvent:
    """0.0.44's ``token_usage`` item: running totals of the process, resent at every send.

    Stored as what they add to the conversation's sums, so that those follow
    the highest totals the conversation reported (a resend adds nothing).
    The storage reads the sums and stores the increase in one transaction:
    reports sent at once (two workers, a retry while the first try is in
    flight, another collector) would otherwise each add to the same old sums.
    """
    metadata = flat_object(body.get("metadata")) or {}
    reported = [_count(metadata, name) for name in wire.TOKEN_FIELDS]
    raw: dict[str, Any] = {
        "id": event_id("token_usage", cid, *reported),
        "type": "token_usage",
        "conversation_id": cid,
        "seq": 0,
        "timestamp": stamp,
        **dict(zip(wire.TOKEN_FIELDS, reported, strict=True)),
    }
    event = check(request, raw)
    storage = request.app[STORAGE]
    pricer = functools.partial(price, request.app[PRICES])
    await patiently(request, lambda: storage.write_running_totals(caller.project, event, pricer))
    return event


async def post_action(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/action_logs/``: an action, or the ``token_usage`` item."""
    body = await object_body(request)
    stamp = _stamp(body)
    cid = short(body.get("conversation_id"))
    name = body.get("action_name")
    if name == "token_usage":
        event = await _token_usage(request, caller, body, cid, stamp)
    else:
        limit = request.app[OPTIONS].max_content_chars
        duration = body.get("duration_ms")
        raw = {
            "id": event_id("action", cid, stamp, name),
            "type": "action",
            "conversation_id": cid,
            "seq": 0,
            "timestamp": stamp,
            "action_name": short(name),
            "started_at": utc_text(body.get("started_at")),
            "ended_at": utc_text(body.get("ended_at")),
            "duration_ms": _duration(duration),
            "tools_used": body.get("tools_used"),
            "response": text(body.get("response"), limit),
            "error_msg": text(body.get("error_msg"), limit),
            "metadata": flat_object(body.get("metadata")),
        }
        event = await store_one(request, caller, raw)
    answer = {
        "id": number_of(event.id),
        "conversation": await _pk(request, caller, event.conversation_id),
        "action_name": name,
    }
    return json_response(answer, status=201)


async def post_button(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/buttons/``: a pressed button."""
    body = await object_body(request)
    stamp = _stamp(body)
    cid = short(body.get("conversation_id"))
    fields = {
        name: text(body.get(name), wire.LONG) or "" for name in ("button_event", "label", "value")
    }
    raw = {
        "id": event_id("button", cid, stamp, fields["button_event"], fields["label"]),
        "type": "button",
        "conversation_id": cid,
        "seq": 0,
        "timestamp": stamp,
        **fields,
        "metadata": flat_object(body.get("metadata")),
    }
    event = await store_one(request, caller, raw)
    answer = {
        "id": number_of(event.id),
        "conversation": await _pk(request, caller, event.conversation_id),
        **fields,
    }
    return json_response(answer, status=201)


# --- attachments ------------------------------------------------------------------------


async def _multipart(
    request: web.Request,
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """The fields and files of a multipart body, read within the body limits."""
    raw = await read_body(request, request.app[OPTIONS])
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n"
    document = head.encode("latin-1", "replace") + raw
    parse = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes
    if len(raw) > OFFLOAD_BYTES:  # megabytes of files: parsed on a worker thread
        message = await asyncio.to_thread(parse, document)
    else:
        message = parse(document)
    if not message.is_multipart():
        raise ApiError(400, "body: expected multipart/form-data")
    fields: dict[str, Any] = {}
    files = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if (isinstance(name, str) and name.startswith("attachment_")) or filename:
            mime = part.get_content_type()
            files.append(({"filename": filename or name, "mime_type": mime}, data))
        elif isinstance(name, str):
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


def _decoded(body: dict[str, Any]) -> list[tuple[dict[str, Any], bytes]]:
    """The base64 files of a JSON attachments body."""
    items = body.get("attachments")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "attachments: expected a non-empty array")
    files = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApiError(400, f"attachments[{index}]: expected an object")
        data = item.get("data")
        try:
            content = base64.b64decode(data if isinstance(data, str) else "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ApiError(400, f"attachments[{index}].data: expected base64") from exc
        filename = item.get("filename") or item.get("name")
        files.append(({"filename": filename, "mime_type": item.get("mime_type")}, content))
    return files


def _descriptor(index: int, meta: dict[str, Any], data: bytes) -> dict[str, Any]:
    mime = text(meta.get("mime_type"), wire.SHORT)
    name = text(meta.get("filename"), wire.SHORT)
    if not name:
        name = f"attachment_{index}{mimetypes.guess_extension(mime or '') or ''}"
    return {
        "filename": name,
        "mime_type": mime or mimetypes.guess_type(name)[0] or "application/octet-stream",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _describe(files: list[tuple[dict[str, Any], bytes]]) -> list[dict[str, Any]]:
    return [_descriptor(i, meta, data) for i, (meta, data) in enumerate(files)]


async def _owner(
    request: web.Request, caller: Caller, body: dict[str, Any]
) -> tuple[str, str | None]:
    """The conversation (and message) of an attachments body.

    From ``message`` (a number we answered), ``conversation`` (a number, as
    text or not), and only then ``conversation_id``: 0.0.44 sends the text
    ``"None"`` there for an agent's message.
    """
    storage = request.app[STORAGE]
    message = _integer(body.get("message"))
    if message is not None and (prefix := prefix_of(message)) is not None:
        found = await storage.find_event(caller.project, "message", prefix)
        if found is not None:
            return found[1], found[0]
    pk = _integer(body.get("conversation"))
    if pk is not None and (ref := await storage.find_conversation(caller.project, pk=pk)):
        return ref[1], None
    cid = short(body.get("conversation_id"))
    if cid and cid != "None":
        return cid, None
    raise ApiError(404, "conversation: no conversation of this project by that number or id")


def _integer(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        return int(value)
    return None


async def post_attachments(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/attachments/``: files of a message, or of the conversation.

    JSON (base64 ``data``) or multipart (``attachment_<i>`` parts).  One
    ``attachment`` event describes them; their bytes are kept beside it,
    unless the conversation was deleted after the event's write: then none
    are, and the answer is the 404 of a conversation that is not there.
    """
    if request.content_type.startswith("multipart/"):
        body, files = await _multipart(request)
    else:
        body = await object_body(request)
        if request.content_length is not None and request.content_length > OFFLOAD_BYTES:
            files = await asyncio.to_thread(_decoded, body)
        else:
            files = _decoded(body)
    if not files:
        raise ApiError(400, "attachments: expected at least one file")
    cid, message_id = await _owner(request, caller, body)
    stamp = _stamp(body)
    if request.content_length is not None and request.content_length > OFFLOAD_BYTES:
        described = await asyncio.to_thread(_describe, files)  # hashing megabytes
    else:
        described = _describe(files)
    sender = body.get("sender")
    raw = {
        "id": event_id("attachment", cid, stamp, message_id, [d["sha256"] for d in described]),
        "type": "attachment",
        "conversation_id": cid,
        "seq": 0,
        "timestamp": stamp,
        "sender": sender if sender in wire.SENDERS else None,
        "message_id": message_id,
        "files": described,
        "metadata": flat_object(body.get("metadata")),
    }
    event = check(request, raw)
    await store(request, caller, [event])
    storage = request.app[STORAGE]
    data = [content for _, content in files]
    if not await patiently(request, lambda: storage.put_files(caller.project, cid, event.id, data)):
        raise _gone(cid)  # deleted since the event's write: its files are not kept either
    answer = {
        "id": number_of(event.id),
        "conversation": await _pk(request, caller, cid),
        "message": None if message_id is None else number_of(message_id),
        "attachments": [
            {"id": i, "filename": d["filename"], "mime_type": d["mime_type"], "size": d["size"]}
            for i, d in enumerate(described)
        ],
    }
    return json_response(answer, status=201)
