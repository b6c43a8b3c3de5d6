"""Returning customers and weekly cohorts over spans of years, on both backends.

``GET /v1/metrics`` reads each customer's active weeks as bitmasks of 62
weeks per column, in up to eight columns, and counts the cohorts of a wider
span with a statement of their own.  Here customers come on random days
(and on the weeks where one column ends and the next begins) over spans of
one, three and twelve years, and the figures must equal a computation in
Python, in zones with daylight saving time, a half-hour offset and +14 hours.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from typing import Any

import pytest

from tests.metrics.test_random import _project
from tests.server.collector_helpers import BASE_SECONDS, Collector, conversation, message

pytestmark = pytest.mark.anyio

EPOCH = dt.date(1970, 1, 1)
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"]
COHORTS = 26  # the most recent cohorts listed


def _monday_week(day: dt.date) -> int:
    """The statements' week of a local day: Monday to Sunday, week 0 holds 1970-01-01."""
    return ((day - EPOCH).days + 3) // 7


def _expected(starts: dict[str, list[int]], tz: str) -> dict[str, Any]:
    """Customers, returning customers and the last cohorts, from each customer's starts."""
    zone = zoneinfo.ZoneInfo(tz)
    days = {
        customer: {dt.datetime.fromtimestamp(s, zone).date() for s in seconds}
        for customer, seconds in starts.items()
    }
    cohorts: dict[int, dict[int, int]] = {}
    for found in days.values():
        weeks = {_monday_week(d) for d in found}
        first = min(weeks)
        for week in weeks:
            after = cohorts.setdefault(first, {})
            after[week - first] = after.get(week - first, 0) + 1
    last = max((f + max(w) for f, w in cohorts.items()), default=0)
    returning = sum(1 for found in days.values() if len(found) > 1)
    return {
        "customers": {
            "customers": len(days),
            "returning": returning,
            "returning_rate": round(returning / len(days), 6) if days else None,
        },
        "cohorts": [
            {
                "week": (EPOCH + dt.timedelta(days=7 * first - 3)).isoformat(),
                "customers": cohorts[first].get(0, 0),
                "active": [cohorts[first].get(n, 0) for n in range(last - first + 1)],
            }
            for first in sorted(cohorts)[-COHORTS:]
        ],
    }


def _starts(rng: random.Random, first: dt.date, years: int) -> list[int]:
    """Starts (seconds) spread over *years* from *first*, with some on the weeks 61-63
    and 123-125 after the first week (where one mask column ends, the next begins)."""
    origin = dt.datetime.combine(first, dt.time(), dt.timezone.utc).timestamp()
    span = years * 365 * 86_400
    found = [int(origin) + rng.randrange(span) for _ in range(120)]
    for weeks in (61, 62, 63, 123, 124, 125):
        if weeks * 7 * 86_400 < span:
            found += [
                int(origin) + weeks * 7 * 86_400 + rng.randrange(7 * 86_400) for _ in range(3)
            ]
    return found


@pytest.mark.parametrize("years", [1, 3, 12])
async def test_cohorts_over_years_equal_a_direct_computation(
    collector: Collector, years: int
) -> None:
    """The cohorts and returning customers of spans of 1, 3 and 12 years (one mask
    column, three, and too many for the masks), all time and over a range."""
    rng = random.Random(years)
    project = f"years-{years}"
    await _project(collector, project)
    customers = [f"k{n}" for n in range(9)]
    starts: dict[str, list[int]] = {}
    sources: dict[int, str] = {}
    events = []
    for n, at in enumerate(_starts(rng, dt.date(2014, 3, 3), years)):
        customer = rng.choice(customers)
        starts.setdefault(customer, []).append(at)
        sources[at] = rng.choice(["web", "whatsapp"])
        cid = f"c{n}"
        offset = at - BASE_SECONDS
        events += [
            conversation(cid, 0, offset, customer_id=customer, source=sources[at]),
            message(cid, 1, offset + 5),
        ]
    for first in range(0, len(events), 200):
        await collector.send(*events[first : first + 200], project=project)
    middle = min(min(s) for s in starts.values()) + years * 365 * 86_400 // 2
    since = dt.datetime.fromtimestamp(middle, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for tz in ZONES:
        asked: list[tuple[dict[str, str], dict[str, list[int]]]] = [
            ({}, starts),
            ({"since": since}, {k: [s for s in v if s >= middle] for k, v in starts.items()}),
            (
                {"source": "web"},
                {k: [s for s in v if sources[s] == "web"] for k, v in starts.items()},
            ),
        ]
        for params, chosen in asked:
            status, figures = await collector.call(
                "GET", "/v1/metrics", project, params={**params, "tz": tz}
            )
            assert status == 200, figures
            expected = _expected({k: v for k, v in chosen.items() if v}, tz)
            assert figures["customers"] == expected["customers"], (tz, params)
            assert figures["retention"]["cohorts"] == expected["cohorts"], (tz, params)


async def test_a_clock_turned_back_across_midnight_keeps_the_days(collector: Collector) -> None:
    """St. John's turned its clocks back at 00:01 until 2011: on 2010-11-07, 00:00:30
    local came before 23:05 of the 6th.  A customer seen at both times was there on two
    days (returning), though its later start has the earlier day; one seen on the 6th and
    the 7th returns too, and one seen twice on the 6th does not."""
    project = "st-johns"
    await _project(collector, project)
    change = int(dt.datetime(2010, 11, 7, 2, 31, tzinfo=dt.timezone.utc).timestamp())
    starts = {
        "twice-across": [change - 30, change + 240],  # 00:00:30 on the 7th, 23:05 on the 6th
        "next-days": [change + 240, change + 86_400],  # 23:05 on the 6th, then on the 7th
        "same-day": [change - 3_600, change + 300],  # 23:01 and 23:06 on the 6th
    }
    events = []
    for customer, seconds in starts.items():
        for n, at in enumerate(seconds):
            cid = f"{customer}-{n}"
            events += [
                conversation(cid, 0, at - BASE_SECONDS, customer_id=customer),
                message(cid, 1, at - BASE_SECONDS + 5),
            ]
    await collector.send(*events, project=project)
    for tz in ("America/St_Johns", "UTC"):
        status, figures = await collector.call("GET", "/v1/metrics", project, params={"tz": tz})
        assert status == 200, figures
        expected = _expected(starts, tz)
        assert figures["customers"] == expected["customers"], tz
        assert figures["retention"]["cohorts"] == expected["cohorts"], tz
    _, figures = await collector.call(
        "GET", "/v1/metrics", project, params={"tz": "America/St_Johns"}
    )
    assert figures["customers"]["returning"] == 2
