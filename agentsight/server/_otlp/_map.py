"""OTLP spans onto AgentSight events (wire schema 2), as ``/v1/batch`` would receive them.

Which spans count, and as what (see docs/opentelemetry.md):

- a model call: ``gen_ai.operation.name`` ``chat``, ``text_completion``,
  ``generate_content`` or ``embeddings``, OpenInference's span kind ``LLM``
  or ``EMBEDDING``, OpenLLMetry's ``llm.request.type``, or any span naming a
  ``gen_ai.request.model``: a ``token_usage`` event, the user's message when
  the call's input ends with one, and the model's text answers;
- a tool call: ``execute_tool`` (``gen_ai.tool.name``), OpenInference
  ``TOOL``, OpenLLMetry ``tool``: an ``action``;
- any other GenAI or OpenInference span (``invoke_agent``, ``CHAIN``,
  ``AGENT``, ``RETRIEVER``...): an ``action`` too, so the tree of a turn
  keeps its inner nodes;
- anything else (HTTP, database spans): skipped.  A step whose parent was
  skipped hangs from the nearest ancestor kept, where the request holds it.

Each step's ``step_id`` is its span id and ``parent_id`` its parent's, both
16 hex digits.  Event ids are hashes of the trace id, the span id and what
the event is, so a resent request is counted as duplicates.  A span's
conversation is ``gen_ai.conversation.id``, else ``session.id``, on the span,
else on its nearest ancestor, else on any span of its trace in the request,
else on the resource; else the trace id.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

import attrs

from ... import _wire as wire
from .._ingest._time import format_ts
from ._messages import input_messages, output_messages
from ._tree import CONVERSATION_KEYS, Span, ancestor, kept_parent
from ._tree import spans as span_tree
from ._values import Attributes

__all__ = ["Group", "Limits", "Mapped", "map_request"]

_USER_KEYS = ("user.id", "enduser.id")
_STATUS_ERROR = 2
_MAX_METADATA_TEXT = 4096
_ARGUMENTS_KEYS = ("gen_ai.tool.call.arguments", "input.value", "traceloop.entity.input")
_RESULT_KEYS = ("gen_ai.tool.call.result", "output.value", "traceloop.entity.output")
_OPERATION_KEYS = ("gen_ai.operation.name", "openinference.span.kind", "traceloop.span.kind")
_PROMPT_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
_COMPLETION_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
_CACHED_KEYS = (
    "gen_ai.usage.cache_read.input_tokens",
    "llm.token_count.prompt_details.cache_read",
    "gen_ai.usage.cache_read_input_tokens",
)
_REASONING_KEYS = (
    "gen_ai.usage.reasoning.output_tokens",
    "llm.token_count.completion_details.reasoning",
)
_MODEL_KEYS = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.model_name",
    "llm.response.model_name",
    "llm.request.model_name",
    "embedding.model_name",
)
_PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")


@attrs.frozen
class Limits:
    """What the collector's limits ask of the events: the longest content kept."""

    max_content_chars: int


@attrs.frozen
class Group:
    """Events stored or rejected together: one span's, or one conversation's attributes.

    ``span`` names the span (``trace_id/span_id``) for messages, ``None`` for
    a conversation's own event; ``error`` refuses a span before validation.
    """

    span: str | None
    events: list[dict[str, Any]]
    error: str | None = None


@attrs.frozen
class Mapped:
    """A request's spans as event groups; ``skipped`` spans carried no GenAI data."""

    spans: int
    skipped: int
    groups: list[Group]


def map_request(request: Any, limits: Limits) -> Mapped:
    """The event groups of an ``ExportTraceServiceRequest``."""
    spans = list(span_tree(request))
    by_id = {(s.span.trace_id, s.span.span_id): s for s in spans}
    kept = [s for s in spans if s.category is not None]
    walks: dict[str, dict[int, Any]] = {"conversation": {}, "turn": {}, "parent": {}}
    by_trace: dict[str, str] = {}
    for item in kept:
        if item.own is not None:
            by_trace.setdefault(item.trace, item.own)
    groups: list[Group] = []
    conversations: dict[tuple[str, str], list[Span]] = {}
    for item in kept:
        named = ancestor(item, by_id, lambda a: a.own is not None, walks["conversation"])
        item.conversation = (
            item.own
            or (named.own if named is not None else None)
            or by_trace.get(item.trace)
            or item.resource.text(*CONVERSATION_KEYS)
            or item.trace
        )
        error = _invalid(item.span)
        where = f"{item.span.trace_id.hex()}/{item.span.span_id.hex()}"
        if error is not None:
            groups.append(Group(where, [], error))
            continue
        parent = kept_parent(item, by_id, walks["parent"])
        turn = ancestor(item, by_id, lambda a: a.category == "step", walks["turn"])
        turn_start = None if turn is None else turn.span.start_time_unix_nano or None
        groups.append(Group(where, _events(item, parent, turn_start, limits)))
        conversations.setdefault((item.conversation, item.trace), []).append(item)
    for (cid, _), members in conversations.items():
        first = min(members, key=lambda s: s.span.start_time_unix_nano)
        groups.append(Group(None, [_conversation(cid, first, members)]))
    return Mapped(len(spans), len(spans) - len(kept), groups)


def _invalid(span: Any) -> str | None:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        return "traceId: expected 16 bytes, not all zero"
    if len(span.span_id) != 8 or not any(span.span_id):
        return "spanId: expected 8 bytes, not all zero"
    if span.parent_span_id and len(span.parent_span_id) != 8:
        return "parentSpanId: expected 8 bytes or none"
    if not span.start_time_unix_nano:
        return "startTimeUnixNano: required"
    return None


def _event_id(*parts: bytes | str) -> str:
    digest = hashlib.blake2b(digest_size=16, person=b"agentsight-otlp")
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(4, "big") + data)
    return digest.hexdigest()


def _stamp(nanos: int) -> str:
    return format_ts(nanos // 1000)


def _base(kind: str, event_id: str, cid: str, seq: int, nanos: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": kind,
        "conversation_id": cid,
        "seq": min(seq, wire.MAX_INT),
        "timestamp": _stamp(nanos),
    }


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _timing(span: Any) -> tuple[int, float | None]:
    """The span's end (its start when it has none) and its duration in ms."""
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if end < start:
        return start, None
    return end, round((end - start) / 1e6, 3)


def _events(
    item: Span, parent: str | None, turn_start: int | None, limits: Limits
) -> list[dict[str, Any]]:
    if item.category == "llm":
        out = _llm_events(item, parent, turn_start, limits)
    else:
        out = [_action(item, parent, limits)]
    answer = next((e["id"] for e in out if e.get("sender") == "agent"), None)
    return out + _scores(item, answer, limits)


def _scores(item: Span, answer: str | None, limits: Limits) -> list[dict[str, Any]]:
    """The span's ``gen_ai.evaluation.result`` events as scores (of its answer, if it has one)."""
    span, cid = item.span, item.conversation
    assert cid is not None
    out = []
    for index, event in enumerate(span.events):
        if event.name != "gen_ai.evaluation.result":
            continue
        a = Attributes(event.attributes)
        name = a.text("gen_ai.evaluation.name")
        number = a.get("gen_ai.evaluation.score.value")
        finite = type(number) in (int, float) and math.isfinite(number)
        value = number if finite else a.text("gen_ai.evaluation.score.label")
        if not name or value is None:
            continue  # nothing to score (the validator would say so, for a whole span)
        at = event.time_unix_nano or span.end_time_unix_nano or span.start_time_unix_nano
        out.append(
            {
                **_base(
                    "score",
                    _event_id(span.trace_id, span.span_id, f"score{index}"),
                    cid,
                    span.start_time_unix_nano + 16 + index,
                    at,
                ),
                "name": name[: wire.SHORT],
                "value": value[: wire.SHORT] if isinstance(value, str) else value,
                "comment": _clip(a.text("gen_ai.evaluation.explanation"), limits.max_content_chars),
                "message_id": answer,
                "source": "sdk",
                "metadata": {"source": "opentelemetry", "step_id": span.span_id.hex()},
            }
        )
    return out


def _llm_events(
    item: Span, parent: str | None, turn_start: int | None, limits: Limits
) -> list[dict[str, Any]]:
    """The call's token usage and messages; the user's message dated *turn_start*, the start
    of the enclosing agent or chain step (the turn began when the user asked)."""
    span, attributes, cid = item.span, item.attributes, item.conversation
    assert cid is not None
    start = span.start_time_unix_nano
    end, duration = _timing(span)
    events = [(e.name, Attributes(e.attributes)) for e in span.events]
    step = span.span_id.hex()
    out: list[dict[str, Any]] = []
    inputs = input_messages(attributes, events)
    if inputs and inputs[-1][0] == "user" and inputs[-1][1]:
        # Only a call whose input ends with the user's message answers it: the
        # next calls of an agent loop end with tool results, and the history
        # before that message was stored with the turns it belongs to.
        position = str(len(inputs) - 1)
        event_id = _event_id(span.trace_id, b"user", position, inputs[-1][1])
        asked = turn_start or start  # seq + 1: after the conversation's event of the same time
        out.append(
            _message(event_id, cid, asked + 1, asked, "end_user", inputs[-1][1], step, limits)
        )
    out.append(_token_usage(item, parent, end, duration))
    for index, (_, text) in enumerate(output_messages(attributes, events)):
        if text:
            event_id = _event_id(span.trace_id, span.span_id, f"output{index}")
            out.append(_message(event_id, cid, start + 2 + index, end, "agent", text, step, limits))
    return out


def _message(
    event_id: str,
    cid: str,
    seq: int,
    nanos: int,
    sender: str,
    text: str,
    step: str,
    limits: Limits,
) -> dict[str, Any]:
    """A message of the model call *step* (its span id, kept in the metadata)."""
    return {
        **_base("message", event_id, cid, seq, nanos),
        "sender": sender,
        "content": text[: limits.max_content_chars],
        "metadata": {"source": "opentelemetry", "step_id": step},
        "attachments": None,
        "truncated": len(text) > limits.max_content_chars,
    }


def _token_usage(
    item: Span, parent: str | None, end: int, duration: float | None
) -> dict[str, Any]:
    span, a, cid = item.span, item.attributes, item.conversation
    assert cid is not None
    prompt = a.count(*_PROMPT_KEYS) or 0
    completion = a.count(*_COMPLETION_KEYS) or 0
    total = a.count("llm.token_count.total", "llm.usage.total_tokens", "gen_ai.usage.total_tokens")
    cached = a.count(*_CACHED_KEYS) or 0
    reasoning = a.count(*_REASONING_KEYS) or 0
    counts = [min(n, wire.MAX_TOKENS) for n in (prompt, completion, total or prompt + completion)]
    embedding = 0
    if a.text("gen_ai.operation.name") == "embeddings" or (
        (a.text("openinference.span.kind") or "").upper() == "EMBEDDING"
    ):
        embedding, counts[0], counts[1] = counts[0], 0, 0
    model = a.text(*_MODEL_KEYS)
    provider = a.text(*_PROVIDER_KEYS)
    return {
        **_base(
            "token_usage",
            _event_id(span.trace_id, span.span_id, b"usage"),
            cid,
            span.start_time_unix_nano + 1,
            end,
        ),
        "prompt_tokens": counts[0],
        "completion_tokens": counts[1],
        "total_tokens": counts[2],
        "embedding_tokens": embedding,
        "model": _clip(model, wire.SHORT),
        "provider": _clip(provider, wire.SHORT),
        "cached_input_tokens": min(cached, counts[0], wire.MAX_TOKENS),
        "reasoning_tokens": min(reasoning, counts[1], wire.MAX_TOKENS),
        "started_at": _stamp(span.start_time_unix_nano),
        "duration_ms": duration,
        "step_id": span.span_id.hex(),
        "parent_id": parent,
    }


def _action(item: Span, parent: str | None, limits: Limits) -> dict[str, Any]:
    span, a, cid = item.span, item.attributes, item.conversation
    assert cid is not None
    end, duration = _timing(span)
    if item.category == "tool":
        name = a.text("gen_ai.tool.name", "tool.name", "traceloop.entity.name")
    else:
        name = a.text("gen_ai.agent.name", "agent.name", "traceloop.entity.name")
    response = a.text(*_RESULT_KEYS) or _structured_text(a, _RESULT_KEYS)
    metadata = {
        "trace_id": item.trace,
        "span_name": span.name[:_MAX_METADATA_TEXT] or None,
        "operation": a.text(*_OPERATION_KEYS),
        "tool_call_id": a.text("gen_ai.tool.call.id", "tool_call.id"),
        "arguments": _clip(
            a.text(*_ARGUMENTS_KEYS) or _structured_text(a, _ARGUMENTS_KEYS), _MAX_METADATA_TEXT
        ),
    }
    return {
        **_base(
            "action",
            _event_id(span.trace_id, span.span_id, b"action"),
            cid,
            # Dated at its start, after its turn's conversation event and user message:
            # a turn's steps then sit together between the question and the answer.
            span.start_time_unix_nano + 2,
            span.start_time_unix_nano,
        ),
        "action_name": (name or span.name or item.category or "step")[: wire.SHORT],
        "started_at": _stamp(span.start_time_unix_nano),
        "ended_at": _stamp(end) if duration is not None else None,
        "duration_ms": duration,
        "tools_used": None,
        "response": _clip(response, limits.max_content_chars),
        "error_msg": _clip(_error(span, a), limits.max_content_chars),
        "metadata": {k: v[:_MAX_METADATA_TEXT] for k, v in metadata.items() if v},
        "step_id": span.span_id.hex(),
        "parent_id": parent,
    }


def _structured_text(attributes: Attributes, keys: Sequence[str]) -> str | None:
    """A structured value (an array, a map) of the first of *keys* holding one, as JSON."""
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, (list, dict)):
            return json.dumps(value, default=repr)
    return None


def _error(span: Any, attributes: Attributes) -> str | None:
    """The span's error, when its status says it failed."""
    if span.status.code != _STATUS_ERROR:
        return None
    if span.status.message:
        return str(span.status.message)
    for event in span.events:
        if event.name == "exception":
            found = Attributes(event.attributes).text("exception.message", "exception.type")
            if found:
                return found
    return attributes.text("error.type") or "error"


def _conversation(cid: str, first: Span, spans: list[Span]) -> dict[str, Any]:
    """The conversation's attributes as one trace's spans give them."""
    resource = first.resource
    environment = resource.text("deployment.environment.name", "deployment.environment")
    customer = next(
        (found for s in spans if (found := s.attributes.text(*_USER_KEYS))), None
    ) or resource.text(*_USER_KEYS)
    service = resource.text("service.name")
    start = first.span.start_time_unix_nano
    return {
        **_base(
            "conversation",
            _event_id(first.span.trace_id, b"conversation", cid),
            cid,
            start,
            start,
        ),
        "customer_id": _clip(customer, wire.SHORT),
        "customer_ip_address": None,
        "device": None,
        "source": "opentelemetry",
        "language": None,
        "name": None,
        "environment": _environment(environment),
        "metadata": {"service.name": service[:_MAX_METADATA_TEXT]} if service else None,
        "is_used": True,
    }


def _environment(name: str | None) -> str:
    """OpenTelemetry's free-form ``deployment.environment`` as production or development."""
    if name is None:
        return "production"
    lowered = name.strip().lower()
    if lowered in ("prod", "production", "live") or lowered.startswith("prod"):
        return "production"
    return "development"
