"""``GET /v1/metrics/summary`` is the headline of ``GET /v1/metrics`` wherever the plan
takes another path: starts before 1970, St. John's turning its clocks back at 00:01
(before 2011), a span too wide for the cohorts' week masks, zones off the quarter
hour, customer and attribute filters, with and without the rollups; it reads the
feedback entries where the full answer does, and refuses what it refuses."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from typing import Any

import attrs
import pytest

from agentsight.server import open_storage
from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import ConversationQuery, Feedback, NewEvent
from tests.server.pg_helpers import Database
from tests.server.test_openapi_metrics import headline

pytestmark = pytest.mark.anyio

MINUTE = 60_000_000
DAY = 86_400_000_000
YEAR = 365 * DAY


def _micros(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    moment = dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone.utc)
    return int(moment.timestamp()) * 1_000_000


# Starts: before 1970, around St. John's 00:01 changes (before 2011), far apart (a span
# too wide for the week masks: more than 8 * 62 weeks), and recent.
ANCHORS = [
    -3 * YEAR,
    -DAY // 2,
    _micros(1971, 5, 1),
    _micros(2009, 11, 1, 2, 0),  # St_Johns turned back at 00:01 local (02:31 UTC)
    _micros(2010, 3, 14, 3, 0),
    _micros(2010, 11, 7, 2, 30),
    _micros(2026, 10, 20),
    _micros(2026, 10, 25, 0, 50),
]
TOOLS = ["kb_search", "fallback_to_human", "open_ticket"]


def _event(kind: str, cid: str, at: int, payload: dict[str, Any], **extra: Any) -> NewEvent:
    return NewEvent(uuid.uuid4().hex, kind, cid, at, at, payload, **extra)


def _conversations(rng: random.Random) -> list[NewEvent]:
    events = []
    for n in range(120):
        cid = f"c{n}"
        at = rng.choice(ANCHORS) + rng.randrange(-2 * DAY, 2 * DAY)
        attributes = {
            "customer_id": rng.choice(["ann", "bob", "cy", "dee", None]),
            "customer_ip_address": None,
            "device": rng.choice(["desktop", None]),
            "source": rng.choice(["web", None]),
            "language": None,
            "name": None,
            "metadata": None,
            "environment": rng.choice(["production", None]),
        }
        events.append(_event("conversation", cid, at, attributes, country=None))
        t = at
        for _ in range(rng.randrange(3)):
            t += rng.randrange(1, 20 * MINUTE)
            events.append(_event("message", cid, t, {"sender": "end_user", "content": "hi"}))
            if rng.random() < 0.6:
                t += rng.randrange(1, MINUTE)
                rare = (
                    0.5 if at < ANCHORS[-2] else 0
                )  # open_ticket: none lately (one escalation action)
                name = rng.choices(TOOLS, weights=[5, 3, rare])[0]
                tool = {"action_name": name, "duration_ms": 12.5, "error_msg": None}
                events.append(_event("action", cid, t, tool))
            if rng.random() < 0.3:
                t += 1
                button = {"button_event": "rate", "label": "👍", "value": "up"}
                events.append(_event("button", cid, t, button))
            t += rng.randrange(1, 5 * MINUTE)
            events.append(_event("message", cid, t, {"sender": "agent", "content": "ok"}))
    for event in events:
        if event.type == "message":
            event.payload["metadata"] = None
    return events


ZONES = ["UTC", "America/St_Johns", "Africa/Monrovia", "Asia/Kathmandu", "Europe/Amsterdam"]


def _queries() -> list[MetricsQuery]:
    found = []
    ranges: list[dict[str, Any]] = [
        {},
        {"since": -4 * YEAR, "until": 0},
        {"since": _micros(2009, 1, 1), "until": _micros(2011, 1, 1)},
        {"since": _micros(2026, 10, 1)},
        {"since": _micros(2026, 10, 19, 7, 7), "until": _micros(2026, 10, 27, 3, 3)},
    ]
    filters: list[dict[str, Any]] = [{}, {"customer_id": "ann"}, {"source": "web"}]
    for chosen, extra, tz in itertools.product(ranges, filters, ZONES):
        found.append(MetricsQuery(ConversationQuery(**chosen, **extra), tz))
    return found


async def test_the_summary_is_the_headline_at_the_edges(database: Database) -> None:
    """75 requests, each with and without the rollups: the summary is the full answer's
    headline (feedback given to some conversations)."""
    rng = random.Random(7)
    storage = await open_storage(database("summary"))
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        project = next(p.id for p in await storage.list_projects() if p.name == "A")
        events = _conversations(rng)
        for start in range(0, len(events), 200):
            await storage.write_batch(project, events[start : start + 200])
        for n in range(40):
            sentiment = rng.choice(["positive", "neutral", "negative"])
            await storage.add_feedback(project, f"c{n}", Feedback(sentiment, None, None))
        mismatches = []
        for query in _queries():
            for rollups in (True, False):
                asked = attrs.evolve(query, rollups=rollups)
                full = await storage.metrics(project, asked)
                summary = await storage.metrics(project, attrs.evolve(asked, summary=True))
                if summary != headline(full):
                    mismatches.append(asked)
        assert not mismatches, mismatches
    finally:
        await storage.aclose()


async def test_a_summary_without_rollups_counts_feedback_as_the_full_answer(tmp_path: Any) -> None:
    """SQLite: ``rollups=False`` reads every figure from the stored rows, the feedback
    from its entries; when the conversations' counts drift from them (what that path
    exists to reveal), the summary shows what the full answer shows."""
    import sqlite3

    path = tmp_path / "drift.db"
    storage = await open_storage(path)
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        project = next(p.id for p in await storage.list_projects() if p.name == "A")
        attributes = {"customer_id": None, "customer_ip_address": None, "device": None,
                      "source": None, "language": None, "name": None, "metadata": None,
                      "environment": None}  # fmt: skip
        await storage.write_batch(project, [_event("conversation", "c1", DAY, attributes)])
        assert await storage.add_feedback(project, "c1", Feedback("positive", None, None))
        with sqlite3.connect(path) as connection:  # a drifted count: the entry says 1
            connection.execute("UPDATE conversations SET feedback_positive = 3")
        query = MetricsQuery(rollups=False)
        full = await storage.metrics(project, query)
        summary = await storage.metrics(project, attrs.evolve(query, summary=True))
        assert full["feedback"]["by_sentiment"]["positive"] == 1
        assert summary["feedback"] == full["feedback"]
    finally:
        await storage.aclose()


async def test_the_summary_refuses_what_the_full_answer_refuses(collector: Any) -> None:
    """Bad parameters get the same answer from both routes, and so does no credential."""
    from multidict import MultiDict

    bad: list[Any] = [
        {"tz": "Mars/Olympus"},
        {"since": "yesterday"},
        {"until": "2026-13-01"},
        {"limit": "5"},
        {"escalation_actions": ",".join("a" * 2 for _ in range(51))},
        {"rating_events": ""},
        {"customer_id": "x" * 2000},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        MultiDict([("tz", "UTC"), ("tz", "UTC")]),
    ]
    for params in bad:
        full = await collector.call("GET", "/v1/metrics", "A", params=params)
        summary = await collector.call("GET", "/v1/metrics/summary", "A", params=params)
        if full[0] == 200:  # an empty range is no error
            assert summary == (200, headline(full[1])), params
        else:
            assert summary == full, params
    assert await collector.call("GET", "/v1/metrics/summary", None) == await collector.call(
        "GET", "/v1/metrics", None
    )
