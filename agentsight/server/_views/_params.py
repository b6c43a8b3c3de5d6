"""Query-string parameters of ``GET /v1/conversations``, checked one by one.

A bad or unknown parameter is a 400 whose message names it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from multidict import MultiMapping

from .._http._errors import ApiError
from .._ingest._fields import storable
from .._ingest._time import parse_ts
from ..storage import ConversationQuery
from ..storage._listing import SORTS

__all__ = ["decode_cursor", "decode_position", "encode_cursor", "parse_query"]

MAX_LIMIT = 500
# ASCII digits only: str.isdigit() also takes "²" and "¹⁰", which int() refuses,
# and any length, where int() refuses past 4,300 digits.
_LIMIT = re.compile(r"[0-9]{1,3}")
# What encode_cursor writes, and nothing else: a position that fits a 64-bit
# column.  A forged cursor is never handed to json.loads (nesting) or to the
# database (a number past 2**63 - 1 overflows SQLite's integers).
_CURSOR = re.compile(rb'\{"b": (0|[1-9][0-9]{0,18})\}')
# Under a sort other than creation, the cursor also holds the last row's sort value.
_SORTED_CURSOR = re.compile(rb'\{"b": (0|[1-9][0-9]{0,18}), "v": (-?(?:0|[1-9][0-9]{0,18}))\}')
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]{1,96}")
_MAX_POSITION = 2**63 - 1


def _bad(name: str, expected: str) -> ApiError:
    return ApiError(400, f"{name}: expected {expected}")


def _text(name: str, value: str) -> str:
    # No U+0000: SQLite's LIKE stops at it (q=%00 would match everything) and
    # PostgreSQL text cannot hold it, so it is refused on both alike.
    if not 1 <= len(value) <= 256 or "\x00" in value or not storable(value):
        raise _bad(name, "1 to 256 characters of valid Unicode, without U+0000")
    return value


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, value: str) -> str:
        if value not in choices:
            raise _bad(name, " or ".join(choices))
        return value

    return parse


def _flag(name: str, value: str) -> bool:
    if value.lower() not in ("true", "false", "1", "0"):
        raise _bad(name, "true or false")
    return value.lower() in ("true", "1")


def _time(name: str, value: str) -> int:
    micros = parse_ts(value)
    if micros is None:
        raise _bad(name, "an RFC 3339 timestamp such as 2026-11-26T22:14:05Z")
    return micros


def _limit(name: str, value: str) -> int:
    if _LIMIT.fullmatch(value) is None or not 1 <= int(value) <= MAX_LIMIT:
        raise _bad(name, f"an integer from 1 to {MAX_LIMIT} in ASCII digits")
    return int(value)


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _bad(name, "a finite number such as 0.5")
    return number


def encode_cursor(before: int, value: int | None = None) -> str:
    """The opaque cursor for the page that starts after conversation *before* (whose
    sort value is *value*, under a sort other than creation)."""
    position = {"b": before} if value is None else {"b": before, "v": value}
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decoded(value: str) -> bytes | None:
    if _CURSOR_CHARS.fullmatch(value) is None:
        return None
    with contextlib.suppress(ValueError, binascii.Error):
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return None


def decode_cursor(name: str, value: str) -> int:
    """The position an ``encode_cursor(before)`` string stands for; anything else is a 400."""
    text = _decoded(value) if len(value) <= 64 else None
    match = None if text is None else _CURSOR.fullmatch(text)
    if match is None or int(match.group(1)) > _MAX_POSITION:
        raise _bad(name, "a next_cursor value from a previous page")
    return int(match.group(1))


def decode_position(name: str, value: str) -> tuple[int, int | None]:
    """``(before, value)`` of any ``encode_cursor`` string; anything else is a 400."""
    text = _decoded(value)
    match = None if text is None else _SORTED_CURSOR.fullmatch(text)
    if match is None:
        return decode_cursor(name, value), None
    before, after = int(match.group(1)), int(match.group(2))
    if before > _MAX_POSITION or abs(after) > _MAX_POSITION:
        raise _bad(name, "a next_cursor value from a previous page")
    return before, after


_PARSERS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "limit": ("limit", _limit),
    "cursor": ("before", decode_position),
    "customer_id": ("customer_id", _text),
    "source": ("source", _text),
    "device": ("device", _choice("desktop", "mobile")),
    "language": ("language", _text),
    "environment": ("environment", _choice("production", "development")),
    "country": ("country", _text),
    "is_used": ("is_used", _flag),
    "is_marked": ("is_marked", _flag),
    "sentiment": ("sentiment", _choice("positive", "neutral", "negative")),
    "since": ("since", _time),
    "until": ("until", _time),
    "q": ("q", _text),
    "sort": ("sort", _choice(*SORTS)),
    "total": ("count", _flag),
    "order": ("ascending", lambda name, value: _choice("desc", "asc")(name, value) == "asc"),
    "score": ("score", _text),
    "score_min": ("score_min", _number),
    "score_max": ("score_max", _number),
    "score_value": ("score_value", _text),
}
FILTERS = tuple(_PARSERS)


def parse_query(params: MultiMapping[str]) -> ConversationQuery:
    """A ``ConversationQuery`` from a request's query (a ``MultiDict``)."""
    values: dict[str, Any] = {}
    for name in params:
        if name not in _PARSERS:
            raise ApiError(
                400, f"{name[:64]}: unknown parameter; expected one of {', '.join(FILTERS)}"
            )
        if len(params.getall(name)) > 1:
            raise ApiError(400, f"{name}: given more than once")
        field, parse = _PARSERS[name]
        values[field] = parse(name, params[name])
    if "before" in values:
        values["before"], values["after"] = values["before"]
    if "score" not in values and values.keys() & {"score_min", "score_max", "score_value"}:
        raise ApiError(
            400, "score: expected the score's name with score_min, score_max or score_value"
        )
    return ConversationQuery(**values)
