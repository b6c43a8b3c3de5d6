"""Turning events into the wire format: ids, JSON, gzip.  Runs in the background only.

User metadata may hold anything.  Common odd values (datetime, UUID, Decimal,
Enum, bytes, sets, attrs/dataclass/pydantic objects, paths) get a faithful
JSON form; anything else is kept as its ``repr``.  No value makes encoding
fail: a value ``json`` cannot take even so (a dict with tuple keys, a cycle,
NaN) is cleaned by a slower walk that never raises.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import json
import os
import re
import time
import uuid
import zlib
from pathlib import PurePath
from typing import Any

import attrs

from ._events import Event, mapping
from ._wire import FIELDS, SCHEMA_VERSION

__all__ = [
    "batch_pieces",
    "encode_chunk",
    "encode_event",
    "encode_events",
    "gzip_body",
    "gzip_pieces",
    "iso_timestamp",
    "new_ids",
    "utf8",
    "wrap_batch",
]

_MAX_DEPTH = 32


_second_cache: tuple[int, str] = (-1, "")


def _second_prefix(seconds: int) -> str:
    """``2026-11-26T22:14:05`` for a second since the epoch (the last one is cached)."""
    global _second_cache
    cached_second, prefix = _second_cache
    if seconds != cached_second:  # events come in bursts: format each second once
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache = (seconds, prefix)
    return prefix


def iso_timestamp(micros: int) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-26T22:14:05.123456Z``."""
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_second_prefix(seconds)}.{str(fraction + 1_000_000)[1:]}Z"


def new_ids(count: int) -> list[str]:
    """*count* UUIDv7s as 32 hex digits, in increasing order, with one system call.

    48 bits of Unix milliseconds, the version, a 12-bit counter (RFC 9562's
    "fixed-length dedicated counter"), the variant and 62 random bits.  Time
    first, so that the ids of a batch sit next to each other in the
    collector's unique index: a batch then dirties a few neighbouring pages
    of it instead of pages at random, which grows costly with the table.

    Successive calls go on increasing: millisecond and counter together are
    one position that never goes back (a call in the same millisecond
    continues the counter; a full counter borrows the next millisecond).
    Two threads racing here may take the same positions: their ids still
    differ by the random bits, only their order is not guaranteed.
    """
    global _next_position
    first = max((time.time_ns() // 1_000_000) << 12, _next_position)
    end = first + count
    _next_position = end
    tails = os.urandom(8 * count).hex()  # 16 random hex digits an id, 62 bits of them kept
    ids = []
    position = first
    while position < end:  # one millisecond's positions at a time
        block_end = min(end, ((position >> 12) + 1) << 12)
        prefix = f"{position >> 12:012x}"
        for i in range(position - first, block_end - first):
            tail = tails[16 * i : 16 * i + 16]
            ids.append(
                prefix + _VERSION_COUNTER[(first + i) & 0xFFF] + _VARIANT[tail[0]] + tail[1:]
            )
        position = block_end
    return ids


#: Millisecond << 12 | counter of the next id (see ``new_ids``).
_next_position = 0
#: "7" (the version) and the 12-bit counter, as hex.
_VERSION_COUNTER = [f"7{i:03x}" for i in range(4096)]
#: A random hex digit's two low bits under the RFC 9562 variant (binary 10xx).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def _default(value: Any) -> Any:
    """JSON form of the odd values metadata may hold."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID | decimal.Decimal | PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(value, set | frozenset):
        items = list(value)
        try:
            items.sort()
        except TypeError:
            items.sort(key=repr)
        return items
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    model_dump = getattr(value, "model_dump", None)  # pydantic v2
    if callable(model_dump):
        try:
            return model_dump(mode="json")
        except Exception:
            return repr(value)
    return repr(value)


def _clean(value: Any, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
    """The slow path: a JSON-safe copy of *value* built without ever raising."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if depth >= _MAX_DEPTH or id(value) in seen:
        return repr(value)[:1000]
    seen = seen | {id(value)}
    if isinstance(value, dict):
        return {_key(k): _clean(v, depth + 1, seen) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1, seen) for v in value]
    try:
        converted = _default(value)
    except Exception:
        return _safe_repr(value)
    if isinstance(converted, str):
        return converted
    return _clean(converted, depth + 1, seen)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    return str(key) if isinstance(key, int) else _safe_repr(key)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)[:1000]
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def wire_events(events: list[Event], ids: list[str]) -> list[dict[str, Any]]:
    """Events as wire dicts, with their ids and their timestamps in RFC 3339.

    Messages (most events) are built by a dict literal in this loop, which
    also formats each second of the timestamps once: a call per event would
    cost as much as the building.
    """
    wires: list[dict[str, Any]] = []
    append = wires.append
    second, prefix = -1, ""
    for event, event_id in zip(events, ids, strict=True):
        if event[0] != "message":
            append(_wire_other(event, event_id))
            continue
        _, cid, seq, stamp, sender, content, flat, attachments, truncated = event
        seconds, fraction = divmod(stamp, 1_000_000_000)
        if seconds != second:
            second, prefix = seconds, _second_prefix(seconds)
        append(
            {
                "id": event_id,
                "type": "message",
                "conversation_id": cid,
                "seq": seq,
                # Six digits by str(): a third cheaper than the format spec {:06d}.
                "timestamp": f"{prefix}.{str(fraction // 1000 + 1_000_000)[1:]}Z",
                "sender": sender,
                "content": content,
                "metadata": None if flat is None else mapping(flat),
                "attachments": attachments,
                "truncated": truncated,
            }
        )
    return wires


def _wire_other(event: Event, event_id: str) -> dict[str, Any]:
    kind = event[0]
    wire: dict[str, Any] = {
        "id": event_id,
        "type": kind,
        "conversation_id": event[1],
        "seq": event[2],
        "timestamp": iso_timestamp(event[3] // 1000),
    }
    wire.update(zip(FIELDS[kind], event[4:], strict=True))
    if wire.get("metadata") is not None:
        wire["metadata"] = mapping(wire["metadata"])
    return wire


_ENCODER = json.JSONEncoder(
    default=_default, allow_nan=False, separators=(",", ":"), ensure_ascii=False
)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

try:  # the optional accelerator (agentsight[fast]): several times the stdlib's speed
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the extra
    _orjson = None  # type: ignore[assignment]


def encode_event(event: Event, event_id: str) -> str:
    """One event as a JSON object (never raises, whatever its metadata holds)."""
    wire = wire_events([event], [event_id])[0]
    try:
        return _ENCODER.encode(wire)
    except (TypeError, ValueError, RecursionError):
        return json.dumps(_clean(wire), allow_nan=False, separators=(",", ":"), ensure_ascii=False)


def encode_events(events: list[Event], ids: list[str]) -> str:
    """Events as comma-separated JSON objects.

    One call for the whole chunk (about half the cost of one call per event),
    with orjson when it is installed (``agentsight[fast]``), else the standard
    library; one by one through the never-failing path when a value is odd (a
    lone surrogate, a cycle, a key that is not a str).
    """
    wires = wire_events(events, ids)
    if _orjson is not None:
        try:
            return _orjson.dumps(wires, default=_default).decode()[1:-1]
        except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
            pass
    try:
        return _ENCODER.encode(wires)[1:-1]
    except (TypeError, ValueError, RecursionError):
        return ",".join(map(encode_event, events, ids))


def encode_chunk(events: list[Event], ids: list[str]) -> bytes:
    """``encode_events`` as UTF-8, the pieces a batch body is made of.

    orjson's bytes are kept as they come: decoding them to join a batch as
    text and encoding it back would hold the loop for nothing.
    """
    if _orjson is not None:
        try:
            return _orjson.dumps(wire_events(events, ids), default=_default)[1:-1]
        except (TypeError, ValueError):  # odd values: the never-failing path below
            pass
    return utf8(encode_events(events, ids))


def utf8(text: str) -> bytes:
    """*text* as UTF-8; a lone surrogate (half of a broken emoji, say) cannot be: it is
    replaced by U+FFFD rather than costing the whole event."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def batch_pieces(chunks: list[bytes]) -> list[bytes]:
    """The batch envelope around encoded chunks: pieces that joined make the body."""
    sent_at = iso_timestamp(time.time_ns() // 1000)
    head = f'{{"schema":{SCHEMA_VERSION},"sent_at":"{sent_at}","events":['.encode()
    pieces = [head]
    for chunk in chunks:
        pieces += (chunk, b",")
    if chunks:
        pieces.pop()  # the last comma
    pieces.append(b"]}")
    return pieces


def wrap_batch(encoded_events: list[str]) -> bytes:
    """The batch body around already-encoded events (JSON objects as text)."""
    return b"".join(batch_pieces([utf8(",".join(encoded_events))] if encoded_events else []))


def gzip_pieces(pieces: list[bytes]) -> bytes:
    """The pieces of a body, joined and gzipped at level 1 (zlib releases the GIL)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    out = [compressor.compress(piece) for piece in pieces]
    out.append(compressor.flush())
    return b"".join(out)


def gzip_body(body: bytes) -> bytes:
    """Gzip at level 1: on JSON it keeps most of the gain of level 6 at a fraction of the cost."""
    return gzip_pieces([body])
