"""Server-side validation of a batch, event by event.

A problem with the batch as a whole (not an object, a key other than
``schema``, ``sent_at`` and ``events``, wrong ``schema``, no ``events``
list, too many events) refuses the batch.  A problem with one
event rejects that event alone, with its index, its id when it has a usable
one, and a message naming the field; the other events are stored.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from ... import _wire as wire
from .._options import ServerOptions
from ..storage import NewEvent
from . import _fields as f
from ._time import EVENT_YEARS, parse_event_ts

__all__ = ["BATCH_FIELDS", "BatchRefused", "Checked", "Validator"]

_ID = re.compile(wire.EVENT_ID_PATTERN)
_SHORT = wire.SHORT
_MAX_SEQ = wire.MAX_INT  # f.whole()'s default
#: The keys of a batch; any other refuses it (see _split).
BATCH_FIELDS = wire.BATCH_FIELDS


class BatchRefused(Exception):
    """The batch as a whole cannot be taken; carries the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@attrs.frozen
class Checked:
    """The outcome of validating a batch."""

    events: list[NewEvent]
    rejected: list[dict[str, Any]]


def _check(field: wire.Field, options: ServerOptions) -> f.Check:
    """The check of one field of the wire schema, with the collector's limits."""
    nullable = field.nullable
    if field.choices:
        return f.enum(field.choices, nullable=nullable)
    if field.kind == "string":
        limit = options.max_content_chars if field.limit == wire.CONTENT else field.limit
        assert limit is not None
        return f.text(limit, nullable=nullable, min_chars=field.min_chars)
    if field.kind == "integer":
        return f.whole(field.limit or wire.MAX_INT)
    if field.kind == "number":
        assert field.limit is not None
        return f.number(field.limit)
    if field.kind == "boolean":
        return f.flag
    if field.kind == "scalar":
        assert field.limit is not None
        return f.scalar(field.limit)
    if field.kind == "timestamp":
        return f.timestamp_text
    kind = {"object": dict, "array": list, "any": None}[field.kind]
    return f.json_value(options.max_json_chars, options.max_depth, kind=kind)


def _kinds(options: ServerOptions) -> dict[str, dict[str, tuple[f.Check, Any]]]:
    """Per event type, its own fields in wire order: their check and what a missing one means."""
    return {
        kind: {field.name: (_check(field, options), field.default) for field in fields}
        for kind, fields in wire.SPECS.items()
    }


_MISSING = object()
# Version 1 batches are read with version 2's fields: every field 2 added may be left out.
_VERSIONS = " or ".join(map(str, wire.SCHEMA_VERSIONS))


class Validator:
    """Validates batches against the limits of *options*."""

    def __init__(self, options: ServerOptions) -> None:
        self._options = options
        self._kinds = _kinds(options)
        self._conversation_id = f.text(_SHORT, nullable=False, min_chars=1)
        self._seq = f.whole()

    def check_batch(self, body: Any, *, unicode_suspect: bool = False) -> Checked:
        """Validate a decoded body; *unicode_suspect* asks for a lone-surrogate check.

        Raises:
            BatchRefused: the batch as a whole is not acceptable.
        """
        if type(body) is not dict:
            raise BatchRefused(400, "body: expected a JSON object")
        for name in body:  # a batch builds nothing it does not use (see _split)
            if name not in BATCH_FIELDS:
                expected = ", ".join(BATCH_FIELDS)
                raise BatchRefused(400, f"{name[:64]}: unknown field; expected {expected}")
        if type(body.get("schema")) is not int or body["schema"] not in wire.SCHEMA_VERSIONS:
            raise BatchRefused(400, f"schema: expected {_VERSIONS}")
        sent_at = body.get("sent_at")
        if sent_at is not None and (type(sent_at) is not str or len(sent_at) > 64):
            raise BatchRefused(400, "sent_at: expected a string of up to 64 characters or null")
        events = body.get("events")
        if type(events) is not list:
            raise BatchRefused(400, "events: expected an array")
        if len(events) > self._options.max_events:
            limit = self._options.max_events
            raise BatchRefused(413, f"events: more than {limit} in one batch")
        accepted, rejected = [], []
        for index, raw in enumerate(events):
            try:
                if isinstance(raw, f.Invalid):  # an event too big to parse (see _split)
                    raise raw
                event = self.check_event(raw)
                if unicode_suspect:
                    _check_unicode(event)
            except f.Invalid as exc:
                rejected.append({"index": index, "id": _usable_id(raw), "error": str(exc)})
            else:
                accepted.append(event)
        return Checked(accepted, rejected)

    def check_event(self, raw: Any) -> NewEvent:
        """One event, or ``Invalid`` naming the first bad field."""
        if type(raw) is dict and raw.get("type") == "message":
            event = self._plain_message(raw)
            if event is not None:
                return event
        return self.check_fields(raw)

    def check_fields(self, raw: Any) -> NewEvent:
        """``check_event`` without the shortcut for plain messages: field by field."""
        if type(raw) is not dict:
            raise f.Invalid("event: expected a JSON object")
        event_id = raw.get("id")
        if type(event_id) is not str or _ID.fullmatch(event_id) is None:
            raise f.Invalid("id: expected 32 lowercase hex digits")
        kind = raw.get("type")
        checks = self._kinds.get(kind) if type(kind) is str else None
        if checks is None or type(kind) is not str:
            raise f.Invalid(f"type: expected one of {', '.join(sorted(self._kinds))}")
        conversation_id = self._conversation_id("conversation_id", raw.get("conversation_id"))
        seq = self._seq("seq", raw.get("seq"))
        stamp = raw.get("timestamp")
        micros = parse_event_ts(stamp) if type(stamp) is str and len(stamp) <= 64 else None
        if micros is None:
            first, last = EVENT_YEARS
            raise f.Invalid(f"timestamp: expected an RFC 3339 UTC timestamp from {first} to {last}")
        payload = {}
        for name, (check, default) in checks.items():
            value = raw.get(name, _MISSING)
            if value is _MISSING:
                if default is wire.REQUIRED:
                    raise f.Invalid(f"{name}: required")
                value = default
            payload[name] = check(name, value)
        if "is_used" in payload and payload["is_used"] != checks["is_used"][1]:
            raise f.Invalid(f"is_used: expected {str(kind == 'conversation').lower()} for {kind}")
        return NewEvent(event_id, kind, conversation_id, seq, micros, payload)

    def _plain_message(self, raw: dict[str, Any]) -> NewEvent | None:
        """The most common event, a message without attachments, checked in one go.

        ``None`` when anything is unusual: the full check then decides, and
        names the first bad field, so the outcome is the same either way.
        """
        event_id, cid, seq = raw.get("id"), raw.get("conversation_id"), raw.get("seq")
        stamp, sender, content = raw.get("timestamp"), raw.get("sender"), raw.get("content")
        metadata, truncated = raw.get("metadata"), raw.get("truncated", False)
        options = self._options
        if (
            type(event_id) is not str
            or _ID.fullmatch(event_id) is None
            or type(cid) is not str
            or not 0 < len(cid) <= _SHORT
            or type(seq) is not int
            or not 0 <= seq <= _MAX_SEQ
            or type(stamp) is not str
            or len(stamp) > 64
            or sender not in wire.SENDERS
            or type(content) is not str
            or len(content) > options.max_content_chars
            or raw.get("attachments") is not None
            or type(truncated) is not bool
        ):
            return None
        if metadata is not None and (
            type(metadata) is not dict
            or not f.flat_within(metadata, options.max_json_chars, options.max_depth)
        ):
            return None
        micros = parse_event_ts(stamp)
        if micros is None:
            return None
        payload = {
            "sender": sender,
            "content": content,
            "metadata": metadata,
            "attachments": None,
            "truncated": truncated,
        }
        return NewEvent(event_id, "message", cid, seq, micros, payload)


def _usable_id(raw: Any) -> str | None:
    """The id to echo in a rejection: only a short string is worth sending back."""
    event_id = raw.get("id") if type(raw) is dict else None
    return event_id if type(event_id) is str and len(event_id) <= _SHORT else None


def _check_unicode(event: NewEvent) -> None:
    """Refuse lone surrogates (``"\\ud800"``): valid JSON, but not storable as UTF-8."""
    for name, value in (("conversation_id", event.conversation_id), *event.payload.items()):
        if not f.storable(value):
            raise f.Invalid(f"{name}: contains a lone surrogate (invalid Unicode)")
