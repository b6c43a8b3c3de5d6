"""``GET /v1/metrics`` against the hand-built data set of ``dataset.py``, on both backends.

Every expected number below is worked out by hand from the data set, in the
comments next to it: none is derived by running the same SQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from agentsight.server._metrics import utc_offsets
from tests.metrics import dataset
from tests.server.collector_helpers import Collector

pytestmark = pytest.mark.anyio
HOUR_MS = 3_600_000


async def _loaded(collector: Collector) -> Collector:
    await collector.send(*dataset.project_a())
    await collector.send(*dataset.project_b(), project="B")
    status, answer = await collector.call(
        "POST", "/v1/conversations/c2/feedback", json={"sentiment": "positive"}
    )
    assert status == 201, answer
    for cid, sentiment in (("c2", "negative"), ("c4", "neutral")):
        status, answer = await collector.call(
            "POST", f"/v1/conversations/{cid}/feedback", json={"sentiment": sentiment}
        )
        assert status == 201, answer
    return collector


async def _metrics(collector: Collector, project: str = "A", **params: str) -> dict[str, Any]:
    status, answer = await collector.call("GET", "/v1/metrics", project, params=params)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


def _grid(*cells: tuple[int, int, int]) -> list[list[int]]:
    grid = [[0] * 24 for _ in range(7)]
    for weekday, hour, count in cells:
        grid[weekday][hour] = count
    return grid


async def test_totals_and_engagement(collector: Collector) -> None:
    """Counts, users and engagement of project A only: B's busy conversation never shows."""
    figures = await _metrics(await _loaded(collector))
    assert figures["totals"] == {
        "conversations": 4,
        "messages": 12,  # c1 5, c2 3, c3 0, c4 4
        "end_user_messages": 6,  # c1 3, c2 2, c4 1
        "agent_messages": 6,  # c1 2, c2 1, c4 3
        "events": 26,  # c1 9, c2 7, c3 1, c4 9
        "actions": 6,  # c1 2, c2 2, c4 2
        "unique_users": 2,  # u1 (c1 and c3), u2; c4 has none
    }
    # c3 was only shown (initialize_conversation): 3 of 4 were used.
    assert figures["engagement"] == {
        "initialised": 4,
        "used": 3,
        "initialised_only": 1,
        "rate": 0.75,
    }


async def test_response_time_and_duration(collector: Collector) -> None:
    """Waits from each user message to the next agent message; first-to-last-event durations."""
    figures = await _metrics(await _loaded(collector))
    # c1: 09:00:10 -> 09:00:12 = 2 s; 09:01:00 -> 09:01:40 = 40 s; 09:01:30 -> 09:01:40 = 10 s
    # c2: 23:30:05 -> 23:30:06 = 1 s; 23:31:00 is never answered
    # c4: the agent's first message answers nobody; 15:00:05 -> 15:00:09 = 4 s
    # sorted 1, 2, 4, 10, 40: mean 57 / 5 = 11.4 s; p50 = rank ceil(2.5) = 3rd = 4 s;
    # p95 = rank ceil(4.75) = 5th = 40 s
    assert figures["response_time_ms"] == {
        "count": 5,
        "avg": 11_400.0,
        "p50": 4_000.0,
        "p95": 40_000.0,
    }
    # c1 09:00:00 -> 09:01:45 = 105 s, c2 23:30:00 -> 23:31:00 = 60 s, c4 15:00:00 -> 15:00:13
    # = 13 s; c3 has one event.  178 / 3 s = 59,333.333 ms
    assert figures["conversation_duration_ms"] == {"count": 3, "avg": 59_333.333}


async def test_response_percentiles_at_their_nearest_rank(collector: Collector) -> None:
    """Fifty waits of 1 to 50 s: the ranks are the 25th and the 48th, with and without a
    filter (the two paths read them differently)."""
    # Two conversations of 25 exchanges each: question at minute m, answer after m+1 s
    # (waits 1..25 s in w1, 26..50 s in w2); ranks ceil(0.5 * 50) = 25 and ceil(0.95 * 50)
    # = 48 (a p94 would be the 47th); mean (1 + 50) / 2 = 25.5 s.
    for cid, first in (("w1", 1), ("w2", 26)):
        b = dataset.Builder(cid).start("10T08:00:00", source="web")
        for n, wait in enumerate(range(first, first + 25)):
            b.user(f"10T{9 + n // 60:02d}:{n % 60:02d}:00")
            b.agent(f"10T{9 + n // 60:02d}:{n % 60:02d}:{wait:02d}")
        await collector.send(*b.events)
    expected = {"count": 50, "avg": 25_500.0, "p50": 25_000.0, "p95": 48_000.0}
    assert (await _metrics(collector))["response_time_ms"] == expected
    assert (await _metrics(collector, source="web"))["response_time_ms"] == expected
    narrowed = await _metrics(collector, source="web", since="2026-11-10T00:00:00Z")
    assert narrowed["response_time_ms"] == expected


async def test_tool_percentiles_at_their_nearest_rank(collector: Collector) -> None:
    """Fifty timed calls of 1 to 50 ms: p95 is the 48th, with and without a filter."""
    # ceil(0.95 * 50) = 48 (a p94 would be the 47th); mean (1 + 50) / 2 = 25.5 ms.
    b = dataset.Builder("t1").start("10T08:00:00", source="web")
    for n in range(50):
        b.action(f"10T09:{n:02d}:00", "kb_search", float(50 - n))
    await collector.send(*b.events)
    for params in ({}, {"source": "web"}, {"source": "web", "since": "2026-11-10T00:00:00Z"}):
        (tool,) = (await _metrics(collector, **params))["tools"]
        assert (tool["count"], tool["timed"], tool["avg_duration_ms"]) == (50, 50, 25.5)
        assert tool["p95_duration_ms"] == 48.0


async def test_tools_and_escalation(collector: Collector) -> None:
    """Per action name: count, errors, mean and p95 of the timed ones; escalated conversations."""
    figures = await _metrics(await _loaded(collector))
    assert figures["tools"] == [
        # 100 ok (c1), 300 timeout (c2), 200 ok (c2): mean 200, p95 = rank ceil(2.85) = 3rd
        {
            "action_name": "kb_search",
            "count": 3,
            "errors": 1,
            "error_rate": 0.333333,
            "timed": 3,
            "avg_duration_ms": 200.0,
            "p95_duration_ms": 300.0,
        },
        # c4: 10 ms, and one without a duration
        {
            "action_name": "open_ticket",
            "count": 2,
            "errors": 0,
            "error_rate": 0.0,
            "timed": 1,
            "avg_duration_ms": 10.0,
            "p95_duration_ms": 10.0,
        },
        {
            "action_name": "fallback_to_human",
            "count": 1,
            "errors": 1,
            "error_rate": 1.0,
            "timed": 1,
            "avg_duration_ms": 50.0,
            "p95_duration_ms": 50.0,
        },
    ]
    # c1 (fallback_to_human) and c4 (open_ticket) of 4
    assert figures["escalation"] == {
        "actions": ["fallback_to_human", "open_ticket", "ticket", "contact_human"],
        "conversations": 2,
        "rate": 0.5,
    }
    custom = await _metrics(collector, escalation_actions="kb_search,ticket")
    assert custom["escalation"] == {
        "actions": ["kb_search", "ticket"],
        "conversations": 2,  # c1 and c2 searched
        "rate": 0.5,
    }


async def test_feedback_breakdowns_and_tokens(collector: Collector) -> None:
    """Feedback by sentiment, breakdowns by attribute, token sums and averages."""
    figures = await _metrics(await _loaded(collector))
    # c2 positive and negative, c4 neutral: 3 entries on 2 of 4 conversations
    assert figures["feedback"] == {
        "by_sentiment": {"positive": 1, "neutral": 1, "negative": 1},
        "entries": 3,
        "conversations": 2,
        "share": 0.5,
    }
    breakdowns = figures["breakdowns"]
    # most conversations first, then by value, no value last among equals
    assert breakdowns["country"] == [
        {"value": None, "conversations": 2, "messages": 4},  # c3 0 + c4 4
        {"value": "DE", "conversations": 1, "messages": 3},  # c2 from 5.9.0.1
        {"value": "US", "conversations": 1, "messages": 5},  # c1 from 8.8.8.8
    ]
    assert breakdowns["device"] == [
        {"value": "desktop", "conversations": 2, "messages": 5},  # c1, c3
        {"value": "mobile", "conversations": 2, "messages": 7},  # c2, c4
    ]
    assert breakdowns["source"] == [
        {"value": "web", "conversations": 2, "messages": 5},
        {"value": "telegram", "conversations": 1, "messages": 4},
        {"value": "whatsapp", "conversations": 1, "messages": 3},
    ]
    assert breakdowns["language"] == [
        {"value": "en", "conversations": 2, "messages": 9},  # c1 5 + c4 4
        {"value": "es", "conversations": 1, "messages": 3},
        {"value": None, "conversations": 1, "messages": 0},
    ]
    assert breakdowns["environment"] == [
        {"value": "production", "conversations": 3, "messages": 12},
        {"value": "development", "conversations": 1, "messages": 0},
    ]
    tokens = figures["token_usage"]
    # prompt 100 + 50 + 200, completion 20 + 10 + 40, embedding 5 (c2)
    assert tokens["totals"] == {
        "prompt_tokens": 350,
        "completion_tokens": 70,
        "total_tokens": 420,
        "embedding_tokens": 5,
    }
    assert tokens["per_conversation"] == {
        "prompt_tokens": 87.5,
        "completion_tokens": 17.5,
        "total_tokens": 105.0,
        "embedding_tokens": 1.25,
    }
    assert tokens["daily"] == [
        _tokens("2026-11-02", 150, 30, 5),  # c1 and c2
        _tokens("2026-11-04", 200, 40, 0),
    ]


def _tokens(date: str, prompt: int, completion: int, embedding: int) -> dict[str, Any]:
    return {
        "date": date,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "embedding_tokens": embedding,
    }


async def test_days_and_hours_in_utc(collector: Collector) -> None:
    """Daily series (gaps filled) and the weekday x hour grid of messages, in UTC."""
    figures = await _metrics(await _loaded(collector))
    assert figures["tz"] == "UTC"
    assert figures["daily"] == [
        {"date": "2026-11-02", "conversations": 2, "messages": 8},  # c1 5 + c2 3
        {"date": "2026-11-03", "conversations": 1, "messages": 0},  # c3
        {"date": "2026-11-04", "conversations": 1, "messages": 4},  # c4
    ]
    # Monday 09h: c1's 5; Monday 23h: c2's 3; Wednesday 15h: c4's 4
    assert figures["peak_hours"]["counts"] == _grid((0, 9, 5), (0, 23, 3), (2, 15, 4))
    assert figures["peak_hours"]["first_weekday"] == "Monday"


async def test_days_and_hours_in_a_time_zone(collector: Collector) -> None:
    """With tz=Europe/Berlin (UTC+1 in November) c2 moves to Tuesday 00h and to 11-03."""
    figures = await _metrics(await _loaded(collector), tz="Europe/Berlin")
    assert figures["tz"] == "Europe/Berlin"
    assert figures["daily"] == [
        {"date": "2026-11-02", "conversations": 1, "messages": 5},  # c1 at 10:00
        {"date": "2026-11-03", "conversations": 2, "messages": 3},  # c2 at 00:30, c3
        {"date": "2026-11-04", "conversations": 1, "messages": 4},
    ]
    assert figures["peak_hours"]["counts"] == _grid((0, 10, 5), (1, 0, 3), (2, 16, 4))
    assert figures["token_usage"]["daily"] == [
        _tokens("2026-11-02", 100, 20, 0),
        _tokens("2026-11-03", 50, 10, 5),
        _tokens("2026-11-04", 200, 40, 0),
    ]
    # A time zone with a whole-hour offset the other way: New York is UTC-5 in November.
    figures = await _metrics(collector, tz="America/New_York")
    assert figures["peak_hours"]["counts"] == _grid((0, 4, 5), (0, 18, 3), (2, 10, 4))


async def test_filters(collector: Collector) -> None:
    """Filters select conversations; every figure is then over those alone."""
    await _loaded(collector)
    development = await _metrics(collector, environment="development")  # c3 only
    assert development["totals"]["conversations"] == 1
    assert development["totals"]["messages"] == 0
    assert development["engagement"] == {
        "initialised": 1,
        "used": 0,
        "initialised_only": 1,
        "rate": 0.0,
    }
    assert development["response_time_ms"] == {"count": 0, "avg": None, "p50": None, "p95": None}
    assert development["tools"] == []
    assert development["escalation"]["conversations"] == 0
    assert development["feedback"]["share"] == 0.0

    web = await _metrics(collector, source="web")  # c1 and c3
    assert web["totals"]["conversations"] == 2
    assert web["totals"]["unique_users"] == 1
    # c1 only: 2, 10, 40 s -> mean 17.333 s, p50 = 2nd = 10 s, p95 = rank ceil(2.85) = 40 s
    assert web["response_time_ms"] == {
        "count": 3,
        "avg": 17_333.333,
        "p50": 10_000.0,
        "p95": 40_000.0,
    }
    assert [t["action_name"] for t in web["tools"]] == ["fallback_to_human", "kb_search"]
    assert web["escalation"]["rate"] == 0.5
    assert web["token_usage"]["totals"]["total_tokens"] == 120

    later = await _metrics(collector, since="2026-11-03T00:00:00Z")  # c3 and c4
    assert later["totals"]["conversations"] == 2
    assert later["totals"]["messages"] == 4
    early = await _metrics(collector, until="2026-11-03T00:00:00Z")  # c1 and c2
    assert early["totals"]["messages"] == 8

    germany = await _metrics(collector, country="DE")  # c2
    assert germany["feedback"] == {
        "by_sentiment": {"positive": 1, "neutral": 0, "negative": 1},
        "entries": 2,
        "conversations": 1,
        "share": 1.0,
    }


async def test_other_project_and_empty(collector: Collector) -> None:
    """Project B sees only its own conversation; a project without data gets zeros and nulls."""
    empty = await _metrics(collector)
    assert empty["totals"]["conversations"] == 0
    assert empty["engagement"]["rate"] is None
    assert empty["daily"] == []
    assert empty["breakdowns"]["country"] == []
    await _loaded(collector)
    b = await _metrics(collector, project="B")
    assert b["totals"]["conversations"] == 1
    assert b["totals"]["messages"] == 30  # 15 questions, 15 answers
    assert b["response_time_ms"] == {"count": 15, "avg": 1000.0, "p50": 1000.0, "p95": 1000.0}
    assert b["token_usage"]["totals"]["prompt_tokens"] == 9999
    assert b["feedback"]["entries"] == 0


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"sentiment": "positive"}, "sentiment"),
        ({"since": "yesterday"}, "since"),
        ({"device": "fridge"}, "device"),
        ({"escalation_actions": ","}, "escalation_actions"),
    ],
)
async def test_bad_parameters(collector: Collector, params: dict[str, str], named: str) -> None:
    """A bad or unknown parameter is a 400 whose message names it."""
    status, answer = await collector.call("GET", "/v1/metrics", params=params)
    assert status == 400
    assert answer["error"].startswith(named)


async def test_needs_a_key(collector: Collector) -> None:
    """Without a key the metrics are refused."""
    status, _ = await collector.call("GET", "/v1/metrics", project=None)
    assert status == 401


def test_utc_offsets_across_daylight_saving() -> None:
    """Berlin in 2026: +1 h, +2 h from 03-29 01:00 UTC, +1 h from 10-25 01:00 UTC."""
    start = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
    end = 1_798_761_600_000_000  # 2027-01-01T00:00:00Z
    assert utc_offsets("Europe/Berlin", start, end) == [
        (0, HOUR_MS * 1000),
        (1_774_746_000_000_000, 2 * HOUR_MS * 1000),  # 2026-03-29T01:00:00Z
        (1_792_890_000_000_000, HOUR_MS * 1000),  # 2026-10-25T01:00:00Z
    ]
    assert utc_offsets("UTC", start, end) == [(0, 0)]
