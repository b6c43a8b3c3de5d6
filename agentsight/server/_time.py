"""Timestamps: RFC 3339 strings on the wire, integer microseconds in storage.

Integers sort, compare and index the same way in SQLite and PostgreSQL, and
keep the full microsecond precision the SDK sends.
"""

from __future__ import annotations

import datetime as dt
import re
import time

__all__ = ["format_ts", "now_micros", "parse_ts"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_ONE_MICRO = dt.timedelta(microseconds=1)
_MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
# RFC 3339 date-time; fromisoformat alone would also take week dates and bare dates.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
# The SDK's exact form, parsed without datetime on the hot path.
_EXACT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z")


def parse_ts(value: str) -> int | None:
    """Microseconds since the epoch for an RFC 3339 string, or ``None`` when it is not one."""
    match = _EXACT.fullmatch(value)
    if match is not None:
        return _parse_exact(match)
    if _RFC3339.fullmatch(value) is None:
        return None
    text = value.upper()
    head, dot, tail = text.partition(".")
    if dot:  # fromisoformat takes at most 6 fraction digits
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = f"{head}.{tail[:digits][:6].ljust(6, '0')}{tail[digits:]}"
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _in_range((parsed - _EPOCH) // _ONE_MICRO)


def _in_range(micros: int) -> int | None:
    # Before 1970 or after 9999 is a client bug, and could not be formatted back.
    return micros if 0 <= micros <= _MAX_MICROS else None


def _parse_exact(match: re.Match[str]) -> int | None:
    year, month, day, hour, minute, second, micro = map(int, match.groups())
    try:
        parsed = dt.datetime(year, month, day, hour, minute, second, micro, dt.timezone.utc)
    except ValueError:
        return None
    return _in_range((parsed - _EPOCH) // _ONE_MICRO)


def format_ts(micros: int) -> str:
    """RFC 3339 UTC with microseconds and ``Z``, e.g. ``2026-11-26T22:14:05.123456Z``."""
    t = _EPOCH + micros * _ONE_MICRO
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T"
        f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}Z"
    )


def now_micros() -> int:
    """The current time in microseconds since the epoch."""
    return time.time_ns() // 1000
