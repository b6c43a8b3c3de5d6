"""Each section of GET /v1/metrics is what the served OpenAPI document says.

A real collector (SQLite and PostgreSQL) tracks weeks of conversations that
fill every section of the metrics: customers coming back over several weeks,
tools timed and untimed with errors, escalations, feedback, buttons with
ratings, numeric, yes/no and categorical scores (one with more values than
listed), priced and unpriced model calls, and more sources than a breakdown
lists.  Every answer, with and without filters, in UTC and in other zones,
and those of an empty project, is checked field by field against the
document the collector serves (``tests/server/openapi_helpers.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.collector_helpers import (
    Collector,
    action,
    button,
    conversation,
    message,
    score,
    tokens,
    ts,
)
from tests.server.openapi_helpers import assert_matches, served_document

pytestmark = pytest.mark.anyio

DAY = 86_400.0
#: (conversation, customer, day, source, device, language, address): ann comes back in
#: three weeks, bob on two days of one week, cat once, dan twice on one day.
_VISITS = (
    ("v1", "ann", -22, "web", "desktop", "en", "8.8.8.8"),
    ("v2", "ann", -15, "whatsapp", "mobile", "en", None),
    ("v3", "ann", -1, "web", "desktop", "de", "81.2.69.142"),
    ("v4", "bob", -21, "telegram", "mobile", "de", None),
    ("v5", "bob", -20, "web", None, None, None),
    ("v6", "cat", -14, "web", "desktop", "en", None),
    ("v7", "dan", -8, "whatsapp", None, "fr", None),
    ("v8", "dan", -8, "whatsapp", "mobile", "fr", None),
)
#: Each metrics request of the test: none, zones, ranges, attribute filters, own names.
_OPTIONS: list[dict[str, str]] = [
    {},
    {"tz": "Europe/Berlin"},
    {"tz": "Asia/Kathmandu"},
    {"since": ts(-21 * DAY), "until": ts(-2 * DAY + 5_000)},
    {"since": ts(-16 * DAY), "tz": "America/New_York"},
    {"source": "web"},
    {"customer_id": "ann", "tz": "Europe/Berlin"},
    {"device": "mobile", "language": "de", "environment": "production"},
    {"escalation_actions": "open_ticket", "rating_events": "rating_*,menu"},
    {"country": "ZZ"},  # selects nothing in a busy project
]


def _visit(cid: str, customer: str, day: int, *attributes: str | None) -> list[dict[str, Any]]:
    """One conversation: two answered questions, tools, buttons, model calls and scores."""
    at = day * DAY
    source, device, language, address = attributes
    seq = iter(range(100))

    def step(seconds: float) -> tuple[str, int, float]:
        return cid, next(seq), at + seconds

    return [
        conversation(
            *step(0),
            customer_id=customer,
            source=source,
            device=device,
            language=language,
            customer_ip_address=address,
        ),
        message(*step(1), "Where is my order?"),
        message(*step(3), "Looking.", "agent"),
        action(*step(4), "lookup", duration_ms=120 + day),
        action(*step(5), "lookup", duration_ms=None, error_msg="timeout"),
        action(*step(6), "search", duration_ms=None, started_at=None, ended_at=None),
        message(*step(10), "And the invoice?"),
        message(*step(12.5), "Sent.", "agent"),
        {**button(*step(13)), "value": "up" if day % 2 else "down"},
        {**button(*step(14)), "button_event": "rating_stars", "label": "Stars", "value": "5"},
        {**button(*step(15)), "button_event": "menu", "label": "Open", "value": "open"},
        tokens(*step(16), 1000, 100, model="gpt-4o", provider="openai"),
        tokens(*step(17), 50, 5, model="no-such-model-anywhere"),
        tokens(*step(18), 7, 3),
        score(*step(19), "helpfulness", 0.5 + day / 100),
        score(*step(20), "resolved", day % 2 == 0),
        score(*step(21), "topic", "billing" if day % 3 else "shipping"),
    ]


async def _busy(collector: Collector) -> Collector:
    """Project A: the visits, escalations, feedback, an initialised-only conversation, one of
    a single event, a score of 22 values and 101 sources (one more than a breakdown lists)."""
    events = [event for visit in _VISITS for event in _visit(*visit)]
    events += [
        action("v1", 50, -22 * DAY + 30, "fallback_to_human"),
        action("v4", 50, -21 * DAY + 30, "open_ticket"),
        action("v4", 51, -21 * DAY + 31, "fallback_to_human"),
        conversation("lone", 0, -3 * DAY, customer_id="eve"),
        conversation("shown", 0, -3 * DAY, used=False, customer_id="fay"),
        *(score("v6", 60 + n, -14 * DAY + 40 + n, "nps", n) for n in range(22)),
        *(conversation(f"s{n}", 0, -5 * DAY + n, source=f"source-{n:03}") for n in range(101)),
    ]
    await collector.send(*events)
    for cid, sentiment in (("v1", "positive"), ("v1", "negative"), ("v2", "neutral")):
        status, answer = await collector.call(
            "POST", f"/v1/conversations/{cid}/feedback", json={"sentiment": sentiment}
        )
        assert status == 201, answer
    return collector


def headline(figures: dict[str, Any]) -> dict[str, Any]:
    """The sections of a /v1/metrics answer that /v1/metrics/summary answers."""
    kept = (
        "tz",
        "totals",
        "engagement",
        "response_time_ms",
        "conversation_duration_ms",
        "escalation",
        "feedback",
        "buttons",
        "customers",
    )
    found = {name: figures[name] for name in kept}
    found["token_usage"] = {k: v for k, v in figures["token_usage"].items() if k != "daily"}
    lists = ("by_model", "daily", "top_customers")
    found["cost"] = {k: v for k, v in figures["cost"].items() if k not in lists}
    return found


async def _metrics(collector: Collector, project: str) -> list[dict[str, Any]]:
    """The metrics of *project* with each of ``_OPTIONS``, each checked against the document;
    their summaries too, each equal to its answer's sections."""
    document = await served_document(collector)
    answers = []
    for params in _OPTIONS:
        status, answer = await collector.call("GET", "/v1/metrics", project, params=params)
        assert status == 200, (params, answer)
        assert_matches(document, "/v1/metrics", answer)
        answers.append(answer)
        status, summary = await collector.call("GET", "/v1/metrics/summary", project, params=params)
        assert status == 200, (params, summary)
        assert_matches(document, "/v1/metrics/summary", summary)
        assert summary == headline(answer), params
    return answers


async def test_busy_metrics_are_documented(collector: Collector) -> None:
    """Every section of metrics that fill them, filtered or not, in any zone, is documented."""
    figures, *_, nothing = await _metrics(await _busy(collector), "A")
    tools = {tool["action_name"]: tool for tool in figures["tools"]}
    assert tools["lookup"]["errors"] == 8 and tools["lookup"]["p95_duration_ms"] is not None
    assert tools["search"]["timed"] == 0 and tools["search"]["avg_duration_ms"] is None
    assert figures["response_time_ms"]["p95"] == 2500.0
    assert figures["escalation"]["conversations"] == 2
    assert (figures["feedback"]["entries"], figures["feedback"]["conversations"]) == (3, 2)
    # web 4, whatsapp 3, none 2, then 97 of the 101 made-up sources; telegram and 4 more left
    assert figures["breakdowns"]["source"][-1] == {
        "value": "other",
        "other": True,
        "conversations": 5,
        "messages": 4,
    }
    assert {v["value"] for v in figures["buttons"]["rating"]["values"]} == {"up", "down", "5"}
    assert figures["customers"]["returning"] == 2  # ann and bob; dan came on one day
    assert figures["retention"]["cohorts"][0]["active"] == [2, 1, 0, 1]
    assert {m["usd"] is None for m in figures["cost"]["by_model"]} == {True, False}
    scores = {s["name"]: s for s in figures["scores"]}
    assert scores["nps"]["distribution"][-1] == {"value": "other", "other": True, "count": 2}
    assert scores["topic"]["avg"] is None
    assert {type(d["value"]) for d in scores["resolved"]["distribution"]} == {bool}
    assert nothing["tools"] == [] and nothing["engagement"]["rate"] is None


async def test_empty_metrics_are_documented(collector: Collector) -> None:
    """An empty project's metrics, whatever the options, are documented: nulls, empty lists."""
    await _busy(collector)
    figures = (await _metrics(collector, "B"))[0]
    assert figures["response_time_ms"] == {"count": 0, "avg": None, "p50": None, "p95": None}
    assert figures["conversation_duration_ms"] == {"count": 0, "avg": None}
    assert figures["token_usage"]["per_conversation"]["total_tokens"] is None
    assert figures["customers"]["returning_rate"] is None
    assert figures["daily"] == figures["retention"]["cohorts"] == figures["scores"] == []
