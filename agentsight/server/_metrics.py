"""Shared definitions of the analytics: what ``GET /v1/metrics`` is asked and how time is bucketed.

The figures themselves are computed in the database (see
``storage/_metrics_sql.py``); this module holds what both backends and the
view agree on: the query, the default escalation actions, and the UTC offsets
of a time zone over a span of time, which turn stored UTC microseconds into
local days and hours with plain integer SQL that SQLite and PostgreSQL
evaluate identically.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs

from .storage._base import ConversationQuery

__all__ = [
    "ESCALATION_ACTIONS",
    "RATING_EVENTS",
    "MetricsQuery",
    "UnknownTimeZone",
    "check_time_zone",
    "utc_offsets",
]

#: Action names that hand a conversation to a human, by default.
ESCALATION_ACTIONS = ("fallback_to_human", "open_ticket", "ticket", "contact_human")
#: Button events whose values are ratings, by default (a trailing ``*`` matches a prefix).
RATING_EVENTS = ("rate", "rating", "rate_*", "rating_*")
MICROS_PER_DAY = 86_400_000_000
MICROS_PER_HOUR = 3_600_000_000
_STEP = dt.timedelta(days=7)
_FIRST_YEAR, _LAST_YEAR = 1971, 2100  # offsets are looked up within these years


class UnknownTimeZone(ValueError):
    """The ``tz`` is not an IANA time zone name this machine knows."""


@attrs.frozen
class MetricsQuery:
    """What ``GET /v1/metrics`` computes over.

    Args:
        filters: which conversations count (only the equality filters and the
            ``since``/``until`` range on their start are used).
        tz: IANA time zone of the day and hour buckets.
        escalation_actions: action names that count as a hand-over to a human.
        rating_events: button events whose values are ratings (their
            distribution is listed); a name ending in ``*`` matches every
            event that starts with the rest.
        rollups: read the conversation rollups where they answer (``False``:
            every figure from the stored rows, to compare the two).
        summary: only the headline figures (``GET /v1/metrics/summary``: what the
            overview compares with the previous period), without the statements of
            the series, breakdowns, cohorts, tools' percentiles and scores.
    """

    filters: ConversationQuery = attrs.Factory(ConversationQuery)
    tz: str = "UTC"
    escalation_actions: tuple[str, ...] = ESCALATION_ACTIONS
    rating_events: tuple[str, ...] = RATING_EVENTS
    rollups: bool = True
    summary: bool = False


def check_time_zone(name: str) -> dt.tzinfo:
    """The zone named *name* (``UTC`` needs no time zone database).

    Raises:
        UnknownTimeZone: naming what was expected.
    """
    if name == "UTC":
        return dt.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(
            f"tz: expected an IANA time zone name such as Europe/Berlin, got {name[:64]!r}"
        ) from None


def _offset_micros(zone: dt.tzinfo, at: dt.datetime) -> int:
    offset = at.astimezone(zone).utcoffset() or dt.timedelta(0)
    return offset // dt.timedelta(microseconds=1)


def _change_point(zone: dt.tzinfo, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    """The first instant after *low* (up to *high*) with *high*'s offset, to the second."""
    target = _offset_micros(zone, high)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _offset_micros(zone, middle) == target:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def utc_offsets(name: str, start: int, end: int) -> list[tuple[int, int]]:
    """The UTC offsets of zone *name* from *start* to *end* (microseconds since the epoch).

    Returns ``[(from, offset), ...]``: *offset* (microseconds) holds from
    *from* on, until the next entry's *from*; the first entry's *from* is
    ``0`` and stands for everything before the second.  Changes are looked
    for between 1971 and 2100 only: time zones are not predictable further.

    Raises:
        UnknownTimeZone: for a name that is not a time zone.
    """
    zone = check_time_zone(name)
    utc = dt.timezone.utc
    lower = dt.datetime(_FIRST_YEAR, 1, 1, tzinfo=utc)
    upper = dt.datetime(_LAST_YEAR, 1, 1, tzinfo=utc)
    epoch = dt.datetime(1970, 1, 1, tzinfo=utc)
    at = max(lower, min(upper, epoch + dt.timedelta(microseconds=start)))
    stop = max(lower, min(upper, epoch + dt.timedelta(microseconds=end)))
    offsets = [(0, _offset_micros(zone, at))]
    while at < stop:
        after = min(at + _STEP, stop)
        if _offset_micros(zone, after) != offsets[-1][1]:
            change = _change_point(zone, at, after)
            offsets.append(
                ((change - epoch) // dt.timedelta(microseconds=1), _offset_micros(zone, change))
            )
        at = after
    return offsets
