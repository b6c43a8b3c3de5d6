"""Big batch bodies, parsed event by event.

orjson (or the stdlib) parses a body in one call that holds the GIL to its
end: for the largest body the limits let in, tens of milliseconds in which
no other request is answered, ``/v1/health`` included.  A batch past
``WHOLE_VALUES`` values or ``WHOLE_BYTES`` bytes is therefore cut into its
events first, by msgspec, which checks the JSON and finds where each value
ends without building anything (``msgspec.Raw``); each event is then parsed
on its own with ``parse_json``, and the GIL changes hands between events.

The result is what ``parse_json`` gives for the whole body, for the
validator to check as usual, except that:

- values the validator refuses without reading further are not parsed: a
  key other than ``schema``, ``sent_at`` and ``events`` stands with
  ``None``; a ``schema`` or ``sent_at`` too long to be valid, with ``[]``;
  and after any of these, the events are left unparsed;
- an event of more than ``MAX_EVENT_VALUES`` values is not parsed either: an
  ``Invalid`` stands in its place, which rejects that event alone;
- JSON errors are worded by msgspec, and nesting deeper than Python's
  recursion limit (about 1,000 levels) refuses the body, where a small body
  would reject the event.

msgspec refuses lone surrogate escapes (``"\\ud800"``), which JSON allows
and the validator rejects event by event.  For the cut, ``\\ud``/``\\uD``
are masked as ``\\/d``/``\\/D`` (the same length, still valid JSON) and put
back in each event; a body that already holds ``\\/d`` or ``\\/D`` cannot be
unmasked, and is parsed whole.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..._wire import SCHEMA_VERSIONS
from .._ingest import _fields as f
from .._ingest._validate import BATCH_FIELDS
from ._body import count_values, parse_json
from ._errors import ApiError

__all__ = ["MAX_EVENT_VALUES", "WHOLE_BYTES", "WHOLE_VALUES", "parse_batch"]

#: Bodies up to both of these are parsed in one go (a few milliseconds at most).
WHOLE_VALUES = 100_000
WHOLE_BYTES = 4 * 1024 * 1024
#: The most values one event may hold (a body of ``WHOLE_VALUES`` cannot hold more).
MAX_EVENT_VALUES = WHOLE_VALUES
_SCHEMA_BYTES = 32  # the valid schemas are 1 and 2
_SENT_AT_BYTES = 2 + 6 * 64  # a JSON string of 64 characters, each at most 6 bytes
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder(msgspec.Raw)
_MASKS = ((b"\\ud", b"\\/d"), (b"\\uD", b"\\/D"))


def parse_batch(raw: bytes, values: int, max_events: int) -> tuple[Any, bool]:
    """The decoded batch body *raw* (of *values* values), and whether it may hold a lone surrogate.

    Small bodies go to ``parse_json`` whole; see the module docstring for big ones.

    Raises:
        ApiError: 400 for a body that is not valid JSON.
    """
    if values <= WHOLE_VALUES and len(raw) <= WHOLE_BYTES:
        return parse_json(raw)
    masked = _mask(raw)
    if masked is None:
        return parse_json(raw)
    try:
        top = _TOP.decode(masked)
    except msgspec.ValidationError:  # valid JSON, perhaps, but no object
        _cut(_ANY, masked)
        return None, False
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _not_json(exc) from exc
    return _batch(top, masked is not raw, max_events)


def _holds(raw: bytes, needle: bytes) -> bool:
    """``needle in raw``, a slice at a time: between slices the GIL can go to the
    threads answering other requests, which one search of a whole body would hold up."""
    step, overlap = 1 << 20, len(needle) - 1
    return any(needle in raw[at : at + step + overlap] for at in range(0, len(raw), step))


def _mask(raw: bytes) -> bytes | None:
    """*raw* with surrogate escapes masked; ``None`` when they could not be put back."""
    if b"\\" not in raw:  # one byte: found by memchr, far faster than a longer needle
        return raw
    if not any(_holds(raw, escape) for escape, _ in _MASKS):
        return raw
    if any(_holds(raw, mask) for _, mask in _MASKS):
        return None
    for escape, mask in _MASKS:
        raw = raw.replace(escape, mask)
    return raw


def _unmask(piece: Any, masked: bool) -> bytes:
    data = bytes(piece)
    if masked:
        for escape, mask in _MASKS:
            data = data.replace(mask, escape)
    return data


def _not_json(exc: BaseException) -> ApiError:
    reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    return ApiError(400, f"body: not valid JSON ({reason[:200]})")


def _cut(decoder: Any, data: Any) -> Any:
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise _not_json(exc) from exc


def _batch(top: dict[str, Any], masked: bool, max_events: int) -> tuple[dict[str, Any], bool]:
    body: dict[str, Any] = {}
    suspect = False
    refused = any(name not in BATCH_FIELDS for name in top)
    for name, piece in top.items():
        too_long = {"schema": _SCHEMA_BYTES, "sent_at": _SENT_AT_BYTES}.get(name)
        if refused or too_long is None:
            body[name] = None
        elif len(piece) > too_long:
            body[name], refused = [], True
        else:
            body[name], more = parse_json(_unmask(piece, masked))
            suspect |= more
    schema = body.get("schema")
    refused = refused or type(schema) is not int or schema not in SCHEMA_VERSIONS
    sent_at = body.get("sent_at")
    refused = refused or not (sent_at is None or (type(sent_at) is str and len(sent_at) <= 64))
    events = top.get("events")
    if refused or events is None or bytes(memoryview(events)[:1]) != b"[":
        return body, suspect
    pieces = _cut(_ARRAY, events)
    if len(pieces) > max_events:
        body["events"] = [None] * len(pieces)
        return body, suspect
    body["events"] = parsed = []
    for piece in pieces:
        data = _unmask(piece, masked)
        if count_values(data, MAX_EVENT_VALUES) > MAX_EVENT_VALUES:
            parsed.append(f.Invalid(f"event: more than {MAX_EVENT_VALUES} JSON values"))
            continue
        event, more = parse_json(data)
        parsed.append(event)
        suspect |= more
    return body, suspect
