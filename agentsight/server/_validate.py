"""Server-side validation of a batch, event by event.

A problem with the batch as a whole (not an object, wrong ``schema``, no
``events`` list, too many events) refuses the batch.  A problem with one
event rejects that event alone, with its index, its id when it has a usable
one, and a message naming the field; the other events are stored.
"""

from __future__ import annotations

from typing import Any, cast

import attrs

from . import _fields as f
from ._options import ServerOptions
from ._quick import quick_check
from ._time import parse_ts
from .storage import NewEvent

__all__ = ["BatchRefused", "Checked", "Validator"]


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


def _kinds(options: ServerOptions) -> dict[str, dict[str, f.Check]]:
    """Per event type, the checks of its own fields, in wire order."""
    content = f.text(options.max_content_chars)
    meta = f.json_value(options.max_json_chars, options.max_depth, kind=dict)
    attributes: dict[str, f.Check] = {
        "customer_id": f.text(f.SHORT),
        "customer_ip_address": f.text(f.SHORT),
        "device": f.enum(("desktop", "mobile"), nullable=True),
        "source": f.text(f.SHORT),
        "language": f.text(f.SHORT),
        "name": f.text(f.LONG),
        "environment": f.enum(("production", "development"), nullable=False),
        "metadata": meta,
        "is_used": f.flag,
    }
    return {
        "conversation": attributes,
        "interaction": attributes,
        "message": {
            "sender": f.enum(("end_user", "agent"), nullable=False),
            "content": f.text(options.max_content_chars, nullable=False),
            "metadata": meta,
            "attachments": f.json_value(options.max_json_chars, options.max_depth, kind=list),
            "truncated": f.flag,
        },
        "action": {
            "action_name": f.text(f.SHORT, nullable=False, min_chars=1),
            "started_at": f.timestamp_text,
            "ended_at": f.timestamp_text,
            "duration_ms": f.number,
            "tools_used": f.json_value(options.max_json_chars, options.max_depth),
            "response": content,
            "error_msg": content,
            "metadata": meta,
        },
        "button": {
            "button_event": f.text(f.LONG, nullable=False),
            "label": f.text(f.LONG, nullable=False),
            "value": f.text(f.LONG, nullable=False),
            "metadata": meta,
        },
        "token_usage": {name: f.whole(f.MAX_TOKENS) for name in _TOKEN_FIELDS},
    }


_TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens")
# What a field missing from the event means; a field not listed here is required.
_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(
        ("customer_id", "customer_ip_address", "device", "source", "language", "name"), None
    ),
    **dict.fromkeys(("metadata", "attachments", "started_at", "ended_at", "duration_ms"), None),
    **dict.fromkeys(("tools_used", "response", "error_msg"), None),
    **dict.fromkeys(_TOKEN_FIELDS, 0),
    "truncated": False,
}
_MISSING = object()


class Validator:
    """Validates batches against the limits of *options*."""

    def __init__(self, options: ServerOptions) -> None:
        self._options = options
        self._kinds = _kinds(options)
        self._conversation_id = f.text(f.SHORT, nullable=False, min_chars=1)
        self._seq = f.whole()
        self._quick = quick_check(options)

    def check_batch(self, body: Any, *, unicode_suspect: bool = False) -> Checked:
        """Validate a decoded body; *unicode_suspect* asks for a lone-surrogate check.

        Raises:
            BatchRefused: the batch as a whole is not acceptable.
        """
        if type(body) is not dict:
            raise BatchRefused(400, "body: expected a JSON object")
        if type(body.get("schema")) is not int or body["schema"] != 1:
            raise BatchRefused(400, "schema: expected 1")
        events = body.get("events")
        if type(events) is not list:
            raise BatchRefused(400, "events: expected an array")
        if len(events) > self._options.max_events:
            limit = self._options.max_events
            raise BatchRefused(413, f"events: more than {limit} in one batch")
        quick = self._quick
        firsts = [quick(raw) for raw in events]
        if all(firsts) and not unicode_suspect:  # the common case: all well-formed
            return Checked(cast("list[NewEvent]", firsts), [])
        accepted, rejected = [], []
        for index, (raw, first) in enumerate(zip(events, firsts, strict=True)):
            try:
                event = self.check_fields(raw) if first is None else first
                if unicode_suspect:
                    _check_unicode(event)
            except f.Invalid as exc:
                rejected.append({"index": index, "id": _usable_id(raw), "error": str(exc)})
            else:
                accepted.append(event)
        return Checked(accepted, rejected)

    def check_event(self, raw: Any) -> NewEvent:
        """One event, or ``Invalid`` naming the first bad field.

        The quick path takes well-formed events; for any other, the field by
        field path decides, so that the outcome is the same either way.
        """
        event = self._quick(raw)
        return self.check_fields(raw) if event is None else event

    def check_fields(self, raw: Any) -> NewEvent:
        """``check_event`` without the quick path: field by field, the reference."""
        if type(raw) is not dict:
            raise f.Invalid("event: expected a JSON object")
        event_id = raw.get("id")
        if type(event_id) is not str or f.EVENT_ID.fullmatch(event_id) is None:
            raise f.Invalid("id: expected 32 lowercase hex digits")
        kind = raw.get("type")
        checks = self._kinds.get(kind) if type(kind) is str else None
        if checks is None or type(kind) is not str:
            raise f.Invalid(f"type: expected one of {', '.join(sorted(self._kinds))}")
        conversation_id = self._conversation_id("conversation_id", raw.get("conversation_id"))
        seq = self._seq("seq", raw.get("seq"))
        stamp = raw.get("timestamp")
        micros = parse_ts(stamp) if type(stamp) is str and len(stamp) <= 64 else None
        if micros is None:
            raise f.Invalid("timestamp: expected an RFC 3339 UTC timestamp")
        payload = {}
        for name, check in checks.items():
            value = raw.get(name, _MISSING)
            if value is _MISSING:
                if name not in _DEFAULTS and name != "is_used":
                    raise f.Invalid(f"{name}: required")
                value = _DEFAULTS.get(name, kind == "conversation")
            payload[name] = check(name, value)
        if "is_used" in payload and payload["is_used"] != (kind == "conversation"):
            raise f.Invalid(f"is_used: expected {str(kind == 'conversation').lower()} for {kind}")
        return NewEvent(event_id, kind, conversation_id, seq, micros, payload)


def _usable_id(raw: Any) -> str | None:
    """The id to echo in a rejection: only a short string is worth sending back."""
    event_id = raw.get("id") if type(raw) is dict else None
    return event_id if type(event_id) is str and len(event_id) <= f.SHORT else None


def _check_unicode(event: NewEvent) -> None:
    """Refuse lone surrogates (``"\\ud800"``): valid JSON, but not storable as UTF-8."""
    for name, value in (("conversation_id", event.conversation_id), *event.payload.items()):
        if not f.storable(value):
            raise f.Invalid(f"{name}: contains a lone surrogate (invalid Unicode)")
