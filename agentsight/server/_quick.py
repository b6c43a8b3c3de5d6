"""The quick path of event validation: well-formed events checked in one go.

``quick_check(options)`` returns one function that, for an event exactly as
the field-by-field path (``Validator.check_fields``) would accept it, builds
the same ``NewEvent`` with a few comparisons per field: the SDK's plain
message (most events) inline, any other kind in one function of its own, no
call per field.  For anything unusual (a wrong type, a
limit reached, a field missing that has no default, nested JSON too large...)
it returns ``None`` and never says why: the field-by-field path then decides
and names the first bad field.  So a quick check only has to be at least as
strict as its precise counterpart, never the same, and the rejection messages
have one source.

Inputs are what ``json.loads`` produces (dicts with string keys, lists,
strings, ints, floats, booleans, ``None``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from . import _fields as f
from ._options import ServerOptions
from ._time import parse_ts
from .storage import NewEvent

__all__ = ["QuickCheck", "quick_check"]

QuickCheck = Callable[[Any], NewEvent | None]
Payload = Callable[[dict[str, Any]], dict[str, Any] | None]

_HEAD = itemgetter("id", "type", "conversation_id", "seq", "timestamp")
# A message as the SDK sends it, every field present (else: the general way).
_MESSAGE = itemgetter(
    "id",
    "conversation_id",
    "seq",
    "timestamp",
    "sender",
    "content",
    "metadata",
    "attachments",
    "truncated",
)
_ID = f.EVENT_ID.fullmatch
# The SDK's own timestamp form, whose second is then cached (see _timestamp).
_EXACT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII).fullmatch
_FLOAT_MAX = sys.float_info.max  # 0 <= x <= _FLOAT_MAX: a finite number >= 0
_MAX_SECONDS = 10_000
# "123" -> 123_000 and "456Z" -> 456: a fraction in two look-ups, which also
# check that it is six ASCII digits and a final "Z".
_MILLIS = {f"{n:03d}": n * 1000 for n in range(1000)}
_MICROS = {f"{n:03d}Z": n for n in range(1000)}


def quick_check(options: ServerOptions) -> QuickCheck:
    """The quick check of one event under the limits of *options*.

    Returns:
        A function of a decoded event giving its ``NewEvent``, or ``None``
        when the field-by-field path is to decide.
    """
    payloads = _payloads(options)
    seconds: dict[str, int] = {}
    max_content, max_json, max_depth = (
        options.max_content_chars,
        options.max_json_chars,
        options.max_depth,
    )

    def check(raw: Any) -> NewEvent | None:
        """The SDK's plain message inline (most events are); any other event kind by kind."""
        if type(raw) is not dict:
            return None
        if raw.get("type") != "message":
            return other(raw)
        try:
            event_id, cid, seq, stamp, sender, content, metadata, attachments, truncated = _MESSAGE(
                raw
            )
        except KeyError:  # an optional field left out
            return other(raw)
        if (
            type(event_id) is not str
            or _ID(event_id) is None
            or type(cid) is not str
            or not 0 < len(cid) <= f.SHORT
            or type(seq) is not int
            or not 0 <= seq <= f.MAX_INT
            or type(stamp) is not str
            or (sender != "end_user" and sender != "agent")
            or type(content) is not str
            or len(content) > max_content
            or attachments is not None
            or type(truncated) is not bool
            or (
                metadata is not None
                and (type(metadata) is not dict or not f.flat_within(metadata, max_json, max_depth))
            )
        ):
            return other(raw)
        try:  # a second seen before, in the SDK's form: no parsing (see _timestamp)
            micros = seconds[stamp[:20]] + _MILLIS[stamp[20:23]] + _MICROS[stamp[23:]]
        except KeyError:
            parsed = _timestamp(stamp, seconds)
            if parsed is None:
                return None
            micros = parsed
        payload = {
            "sender": sender,
            "content": content,
            "metadata": metadata,
            "attachments": None,
            "truncated": truncated,
        }
        return NewEvent(event_id, "message", cid, seq, micros, payload)

    def other(raw: dict[str, Any]) -> NewEvent | None:
        """Any kind: the fields every event has, then the kind's own."""
        try:
            event_id, kind, cid, seq, stamp = _HEAD(raw)
        except KeyError:
            return None
        if (
            type(event_id) is not str
            or _ID(event_id) is None
            or type(cid) is not str
            or not 0 < len(cid) <= f.SHORT
            or type(seq) is not int
            or not 0 <= seq <= f.MAX_INT
            or type(stamp) is not str
            or type(kind) is not str
        ):
            return None
        try:  # as for messages above
            micros: int | None = seconds[stamp[:20]] + _MILLIS[stamp[20:23]] + _MICROS[stamp[23:]]
        except KeyError:
            micros = _timestamp(stamp, seconds)
        payload_of = payloads.get(kind)
        if micros is None or payload_of is None:
            return None
        payload = payload_of(raw)
        if payload is None:
            return None
        return NewEvent(event_id, kind, cid, seq, micros, payload)

    return check


def _timestamp(stamp: str, seconds: dict[str, int]) -> int | None:
    """``parse_ts`` of an event's timestamp; remembers the second of the SDK's form.

    For ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``parse_ts`` gives the microseconds
    of the second plus the fraction: *seconds* keeps the former under the
    first 20 characters, and the fraction is read from two small tables (no
    ``int()``, which costs more), so that the next timestamp of that second
    needs neither regex nor parsing.  Bounded: hostile input must not grow it
    without end.
    """
    micros = parse_ts(stamp) if len(stamp) <= 64 else None
    if micros is not None and _EXACT(stamp) is not None:
        if len(seconds) >= _MAX_SECONDS:
            seconds.clear()
        seconds[stamp[:20]] = micros - _MILLIS[stamp[20:23]] - _MICROS[stamp[23:]]
    return micros


def _payloads(options: ServerOptions) -> dict[str, Payload]:
    """Per kind, the quick check of its own fields, giving the payload or ``None``."""
    max_content, max_json, max_depth = (
        options.max_content_chars,
        options.max_json_chars,
        options.max_depth,
    )
    metadata_check = f.json_value(max_json, max_depth, kind=dict)
    attachments_check = f.json_value(max_json, max_depth, kind=list)
    any_json_check = f.json_value(max_json, max_depth)

    def metadata_ok(value: Any) -> bool:
        return value is None or (
            type(value) is dict
            and (f.flat_within(value, max_json, max_depth) or _passes(metadata_check, value))
        )

    def message(raw: dict[str, Any]) -> dict[str, Any] | None:
        get = raw.get
        sender, content, metadata = get("sender"), get("content"), get("metadata")
        attachments, truncated = get("attachments"), get("truncated", False)
        if (
            (sender != "end_user" and sender != "agent")
            or type(content) is not str
            or len(content) > max_content
            or type(truncated) is not bool
            or (attachments is not None and not _passes(attachments_check, attachments))
            or not metadata_ok(metadata)
        ):
            return None
        return {
            "sender": sender,
            "content": content,
            "metadata": metadata,
            "attachments": attachments,
            "truncated": truncated,
        }

    def action(raw: dict[str, Any]) -> dict[str, Any] | None:
        get = raw.get
        name, started, ended = get("action_name"), get("started_at"), get("ended_at")
        duration, tools, response = get("duration_ms"), get("tools_used"), get("response")
        error, metadata = get("error_msg"), get("metadata")
        if (
            type(name) is not str
            or not 0 < len(name) <= f.SHORT
            or not (_stamp_ok(started) and _stamp_ok(ended))
            or not (duration is None or _number_ok(duration))
            or not (response is None or (type(response) is str and len(response) <= max_content))
            or not (error is None or (type(error) is str and len(error) <= max_content))
            or (tools is not None and not _passes(any_json_check, tools))
            or not metadata_ok(metadata)
        ):
            return None
        return {
            "action_name": name,
            "started_at": started,
            "ended_at": ended,
            "duration_ms": duration,
            "tools_used": tools,
            "response": response,
            "error_msg": error,
            "metadata": metadata,
        }

    def button(raw: dict[str, Any]) -> dict[str, Any] | None:
        get = raw.get
        event, label, value = get("button_event"), get("label"), get("value")
        metadata = get("metadata")
        if (
            type(event) is not str
            or len(event) > f.LONG
            or type(label) is not str
            or len(label) > f.LONG
            or type(value) is not str
            or len(value) > f.LONG
            or not metadata_ok(metadata)
        ):
            return None
        return {"button_event": event, "label": label, "value": value, "metadata": metadata}

    def attributes(raw: dict[str, Any], conversation: bool) -> dict[str, Any] | None:
        get = raw.get
        customer_id, ip, source, language = (
            get("customer_id"),
            get("customer_ip_address"),
            get("source"),
            get("language"),
        )
        name, device, environment = get("name"), get("device"), get("environment")
        metadata, is_used = get("metadata"), get("is_used", conversation)
        if (
            not (
                _short_ok(customer_id)
                and _short_ok(ip)
                and _short_ok(source)
                and _short_ok(language)
            )
            or not (name is None or (type(name) is str and len(name) <= f.LONG))
            or not (device is None or device == "desktop" or device == "mobile")
            or (environment != "production" and environment != "development")
            or is_used is not conversation
            or not metadata_ok(metadata)
        ):
            return None
        return {
            "customer_id": customer_id,
            "customer_ip_address": ip,
            "device": device,
            "source": source,
            "language": language,
            "name": name,
            "environment": environment,
            "metadata": metadata,
            "is_used": is_used,
        }

    def token_usage(raw: dict[str, Any]) -> dict[str, Any] | None:
        get = raw.get
        prompt, completion = get("prompt_tokens", 0), get("completion_tokens", 0)
        total, embedding = get("total_tokens", 0), get("embedding_tokens", 0)
        counts_ok = _count_ok(prompt) and _count_ok(completion) and _count_ok(total)
        if not (counts_ok and _count_ok(embedding)):
            return None
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": total,
            "embedding_tokens": embedding,
        }

    return {
        "message": message,
        "action": action,
        "button": button,
        "conversation": lambda raw: attributes(raw, True),
        "interaction": lambda raw: attributes(raw, False),
        "token_usage": token_usage,
    }


def _count_ok(value: Any) -> bool:
    """``f.whole(f.MAX_TOKENS)`` takes *value* (``true`` is not a count)."""
    return type(value) is int and 0 <= value <= f.MAX_TOKENS


def _short_ok(value: Any) -> bool:
    """``f.text(f.SHORT)`` takes *value*."""
    return value is None or (type(value) is str and len(value) <= f.SHORT)


def _passes(check: f.Check, value: Any) -> bool:
    """Whether the precise *check* takes *value*: for JSON values, rare and varied."""
    try:
        check("", value)
    except f.Invalid:
        return False
    return True


def _stamp_ok(value: Any) -> bool:
    """``f.timestamp_text`` takes *value*."""
    return value is None or (
        type(value) is str and len(value) <= 64 and parse_ts(value) is not None
    )


def _number_ok(value: Any) -> bool:
    """``f.number`` takes *value* (not null): for an int, no float conversion is needed."""
    return (type(value) is int or type(value) is float) and 0 <= value <= _FLOAT_MAX
