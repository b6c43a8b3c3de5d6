"""The official SDK 0.1.4: ``GET /api/me/`` and ``POST /api/ingest/`` (its spans).

An ingest body holds conversation blocks, each with its spans (not OTLP: ids
in hex, ISO times, dicts as JSON text).  Each block becomes one
``conversation`` event (``interaction`` when it only opened the
conversation), then per span: ``turn`` → a message per ``agentsight.message``
event (a turn never completed is kept, its messages marked
``_turn_incomplete``), ``tool``/``task`` → an action (its stack traces
dropped), ``llm`` → token usage with its model and provider (each a step of
the wire schema, under the tool or task that made it), ``button`` → a button, ``attachment``
without upload → an attachment event of descriptors.  A
``metadata_updated`` span replaces the conversation's metadata with the
block's (0.1.4 expects the last write to win).  Event ids come from
(trace id, span id, index): a resent batch is all duplicates.  The answer is
200 even when some events are rejected (0.1.4 would drop the whole batch on
a 4xx): they are listed, final.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ... import _wire as wire
from .._http._access import Caller
from .._http._auth import authenticate
from .._http._body import OFFLOAD_BYTES, read_json
from .._http._errors import ApiError, json_response
from .._state import OPTIONS, REDACTOR, STORAGE
from ..storage import ConversationChanges, NewEvent
from ._common import check, event_id, flat_object, patiently, short, store, text, utc_text
from ._writes import conversation_event

__all__ = ["get_me", "post_ingest"]

_ROLES = {"ingest": "write", "read": "read", "admin": "admin"}
_BLOCK_FIELDS = ("customer_id", "customer_ip_address", "device", "source", "language", "name")


async def get_me(request: web.Request) -> web.Response:
    """``GET /api/me/``: who the key is, for 0.1.4's preflight (any scope)."""
    key = await authenticate(request)
    answer = {
        "agent_id": key.project_id,
        "agent_name": f"project {key.project_id}",
        "role": _ROLES.get(key.scope, key.scope),
        "environments": [{"slug": slug} for slug in wire.ENVIRONMENTS],
        "capabilities": ["gzip-ingest"],
    }
    return json_response(answer)


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    attributes = span.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def _duration(value: Any) -> float | int | None:
    """A duration in milliseconds as the wire takes it; anything else is absent."""
    if type(value) in (int, float) and 0 <= value <= wire.MAX_DURATION_MS:
        return value  # type: ignore[no-any-return]
    return None


def _loads(value: Any) -> Any:
    """A dict that travelled as JSON text; the text itself when it is not JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class _Block:
    """The events of one conversation block, in order."""

    def __init__(self, block: dict[str, Any], limit: int) -> None:
        self.block = block
        self.cid = short(block.get("conversation_id"))
        self.limit = limit
        self.events: list[dict[str, Any]] = []
        self.replace_metadata = False
        self.steps: set[Any] = set()

    def add(self, kind: str, key: tuple[Any, ...], stamp: Any, **fields: Any) -> None:
        self.events.append(
            {
                "id": event_id("0.1.4", *key),
                "type": kind,
                "conversation_id": self.cid,
                "seq": len(self.events),
                "timestamp": utc_text(stamp),
                **fields,
            }
        )

    def build(self) -> list[dict[str, Any]]:
        spans = [s for s in self.block.get("spans") or () if isinstance(s, dict)]
        spans.sort(key=lambda s: str(s.get("started_at", "")))
        self.steps = {s.get("span_id") for s in spans if s.get("kind") in ("tool", "task")}
        used = any(s.get("kind") != "conversation" for s in spans)
        first = spans[0] if spans else {}
        body = {k: self.block.get(k) for k in (*_BLOCK_FIELDS, "environment", "metadata")}
        body["conversation_id"] = self.cid
        stamp = utc_text(first.get("started_at")) or ""
        start = conversation_event(body, stamp, used)
        start["id"] = event_id("0.1.4", first.get("trace_id"), first.get("span_id"), "block")
        self.events.append(start)
        for span in spans:
            self.span(span)
        return self.events

    def span(self, span: dict[str, Any]) -> None:
        kind, attributes = span.get("kind"), _attributes(span)
        key = (span.get("trace_id"), span.get("span_id"))
        if kind == "turn":
            self.turn(span, attributes, key)
        elif kind in ("tool", "task"):
            self.action(span, attributes, key)
        elif kind == "llm":
            self.llm(span, attributes, key)
        elif kind == "button":
            self.add(
                "button",
                key,
                span.get("started_at"),
                button_event=text(attributes.get("agentsight.button.event"), wire.LONG) or "",
                label=text(attributes.get("agentsight.button.label"), wire.LONG) or "",
                value=text(attributes.get("agentsight.button.value"), wire.LONG) or "",
                metadata=flat_object(attributes.get("agentsight.metadata")),
            )
        elif kind == "attachment" and not attributes.get("agentsight.attachment.mode"):
            files = _loads(attributes.get("agentsight.attachment.files"))
            sender = attributes.get("agentsight.attachment.sender")
            self.add(
                "attachment",
                key,
                span.get("started_at"),
                sender=sender if sender in wire.SENDERS else None,
                files=files if isinstance(files, list) else [],
                metadata=flat_object(attributes.get("agentsight.metadata")),
            )
        elif kind == "conversation" and span.get("name") == "metadata_updated":
            self.replace_metadata = True

    def turn(self, span: dict[str, Any], attributes: dict[str, Any], key: tuple[Any, ...]) -> None:
        incomplete = attributes.get("agentsight.turn.complete") is False
        for index, item in enumerate(span.get("events") or ()):
            if not isinstance(item, dict) or item.get("name") != "agentsight.message":
                continue
            fields = _attributes(item)
            content = fields.get("agentsight.message.content")
            content = "" if content is None else str(content)
            metadata = flat_object(_loads(fields.get("agentsight.message.metadata")))
            if incomplete:
                metadata = {**(metadata or {}), "_turn_incomplete": True}
            self.add(
                "message",
                (*key, index),
                item.get("timestamp") or span.get("started_at"),
                sender=fields.get("agentsight.message.sender"),
                content=content[: self.limit],
                metadata=metadata,
                truncated=len(content) > self.limit,
            )

    def action(
        self, span: dict[str, Any], attributes: dict[str, Any], key: tuple[Any, ...]
    ) -> None:
        duration = span.get("duration_ms")
        error = attributes.get("agentsight.tool.error")
        if error is None and span.get("status") == "error":
            error = "error"
        self.add(
            "action",
            key,
            span.get("started_at"),
            action_name=short(attributes.get("agentsight.tool.name") or span.get("name")),
            started_at=utc_text(span.get("started_at")),
            ended_at=utc_text(span.get("ended_at")),
            duration_ms=_duration(duration),
            tools_used=_loads(attributes.get("agentsight.tool.arguments")),
            response=text(attributes.get("agentsight.tool.response"), self.limit),
            error_msg=text(error, self.limit),  # never the stack traces of its events
            **self.step(span),
        )

    def llm(self, span: dict[str, Any], attributes: dict[str, Any], key: tuple[Any, ...]) -> None:
        def count(name: str) -> int:
            value = attributes.get(name)
            return min(value, wire.MAX_TOKENS) if type(value) is int and value > 0 else 0

        # Their input count leaves out the cache; their output count has the reasoning in it.
        prompt = sum(
            count(f"agentsight.llm.{n}") for n in ("cache_read_tokens", "cache_write_tokens")
        ) + count("gen_ai.usage.input_tokens")
        completion = count("gen_ai.usage.output_tokens")
        model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model")
        self.add(
            "token_usage",
            key,
            span.get("started_at"),
            prompt_tokens=min(prompt, wire.MAX_TOKENS),
            completion_tokens=completion,
            total_tokens=min(prompt + completion, wire.MAX_TOKENS),
            embedding_tokens=count("agentsight.llm.embedding_tokens"),
            model=short(model or span.get("name")),
            provider=short(attributes.get("gen_ai.system")),
            cached_input_tokens=count("agentsight.llm.cache_read_tokens"),
            reasoning_tokens=min(count("agentsight.llm.reasoning_tokens"), completion),
            started_at=utc_text(span.get("started_at")),
            duration_ms=_duration(span.get("duration_ms")),
            **self.step(span),
        )

    def step(self, span: dict[str, Any]) -> dict[str, Any]:
        """Its step id, and its parent's when that is a tool or a task (a step too)."""
        parent = span.get("parent_span_id")
        return {
            "step_id": short(span.get("span_id")),
            "parent_id": short(parent) if parent in self.steps else None,
        }


async def _replace(
    request: web.Request, caller: Caller, cid: str, metadata: dict[str, Any]
) -> None:
    """Replace a conversation's metadata (``update_metadata``: the last write wins)."""
    redactor = request.app.get(REDACTOR)
    if redactor is not None:
        metadata = redactor.value(metadata)
    changes = ConversationChanges(metadata=metadata, replace_metadata=True)
    storage = request.app[STORAGE]
    await patiently(request, lambda: storage.update_conversation(caller.project, cid, changes))


def _map(
    request: web.Request, blocks: list[Any]
) -> tuple[list[NewEvent], list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """The checked events of *blocks*, the rejections per block, the metadata to replace."""
    limit = request.app[OPTIONS].max_content_chars
    checked: list[NewEvent] = []
    rejected: list[dict[str, Any]] = []
    replaced: list[tuple[str, dict[str, Any]]] = []
    for index, raw in enumerate(blocks):
        if not isinstance(raw, dict):
            rejected.append(
                {"index": index, "conversation_id": None, "errors": ["expected an object"]}
            )
            continue
        block = _Block(raw, limit)
        events = block.build()
        if len(checked) + len(events) > request.app[OPTIONS].max_events:
            raise ApiError(
                413, f"conversations: more than {request.app[OPTIONS].max_events} events"
            )
        errors = []
        for event in events:
            try:
                checked.append(check(request, event))
            except ApiError as exc:
                errors.append(f"{event['type']}: {exc.message}")
        if errors:
            rejected.append({"index": index, "conversation_id": block.cid, "errors": errors})
        if block.replace_metadata and block.cid:
            replaced.append((block.cid, flat_object(raw.get("metadata")) or {}))
    return checked, rejected, replaced


async def post_ingest(request: web.Request, caller: Caller) -> web.Response:
    """``POST /api/ingest/``: 0.1.4's batch of conversation blocks."""
    options = request.app[OPTIONS]
    body, _ = await read_json(request, options)
    blocks = body.get("conversations") if type(body) is dict else None
    if not isinstance(blocks, list):
        raise ApiError(400, "conversations: expected an array")
    # A big batch is mapped and checked on a worker thread, as /v1/batch is.
    if request.content_length is not None and request.content_length > OFFLOAD_BYTES:
        checked, rejected, replaced = await asyncio.to_thread(_map, request, blocks)
    else:
        checked, rejected, replaced = _map(request, blocks)
    result = await store(request, caller, checked)
    for cid, metadata in replaced:
        await _replace(request, caller, cid, metadata)
    answer = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "conversations": rejected,
    }
    return json_response(answer)
