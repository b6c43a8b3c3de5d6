"""Timestamps: RFC 3339 strings on the wire, integer microseconds in storage.

Integers sort, compare and index the same way in SQLite and PostgreSQL, and
keep the full microsecond precision the SDK sends.
"""

from __future__ import annotations

import datetime as dt
import re
import time

from ... import _wire as wire

__all__ = ["EVENT_YEARS", "format_ts", "now_micros", "parse_event_ts", "parse_ts"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = _EPOCH.date()
_ONE_MICRO = dt.timedelta(microseconds=1)
_MICROS_PER_DAY = 86_400_000_000
_MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
#: The years an event's own times may fall in (first, last); a clock that far off
#: is a client's bug (see _wire).
EVENT_YEARS = wire.EVENT_YEARS
_EVENT_END = (dt.date(EVENT_YEARS[1] + 1, 1, 1) - _EPOCH_DATE).days * 86_400_000_000
# RFC 3339 date-time; fromisoformat alone would also take week dates and bare dates.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
# The SDK's exact form, parsed without datetime on the hot path.
_EXACT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
_DAYS: dict[str, int] = {}
# Microseconds of "YYYY-MM-DDTHH:MM:SS" prefixes already parsed: the events
# of a batch share a few seconds.  Emptied when full (hostile input must not
# grow it without end, and the clock moves on).
_SECONDS: dict[str, int] = {}
_MAX_SECONDS = 10_000


def parse_ts(value: str) -> int | None:
    """Microseconds since the epoch for an RFC 3339 string, or ``None`` when it is not one."""
    second = _SECONDS.get(value[:19])
    if second is not None and len(value) == 27 and value[19] == "." and value[26] == "Z":
        fraction = value[20:26]
        if fraction.isascii() and fraction.isdigit():
            return second + int(fraction)
    if _EXACT.fullmatch(value) is not None:
        return _parse_exact(value)
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


def parse_event_ts(value: str) -> int | None:
    """``parse_ts`` for the times of an event: ``None`` also outside ``EVENT_YEARS``."""
    micros = parse_ts(value)
    return micros if micros is not None and micros < _EVENT_END else None


def _in_range(micros: int) -> int | None:
    # Before 1970 or after 9999 is a client bug, and could not be formatted back.
    return micros if 0 <= micros <= _MAX_MICROS else None


def _day_micros(date: str) -> int | None:
    """Microseconds from the epoch to midnight UTC of ``YYYY-MM-DD``; ``None`` for no such day."""
    micros = _DAYS.get(date)
    if micros is None:
        try:
            day = dt.date(int(date[:4]), int(date[5:7]), int(date[8:10]))
        except ValueError:
            return None
        micros = (day - _EPOCH_DATE).days * _MICROS_PER_DAY
        if len(_DAYS) < 100_000:  # bounded: hostile input must not grow it without end
            _DAYS[date] = micros
    return micros


def _parse_exact(text: str) -> int | None:
    # Slices and a cached day: several times faster than datetime, on every event.
    midnight = _day_micros(text[:10])
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if midnight is None or hour > 23 or minute > 59 or second > 59:
        return None
    whole = midnight + ((hour * 60 + minute) * 60 + second) * 1_000_000
    micros = _in_range(whole + int(text[20:26]))
    if micros is not None and whole + 999_999 <= _MAX_MICROS:
        if len(_SECONDS) >= _MAX_SECONDS:
            _SECONDS.clear()
        _SECONDS[text[:19]] = whole
    return micros


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
