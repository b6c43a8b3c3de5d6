"""Buttons, customers, retention, unhandled messages and metadata values, on both backends.

The data set, worked out by hand, is ``customers_data.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from agentsight.server.storage._reports import normalise
from tests.metrics.customers_data import loaded as _loaded
from tests.server.collector_helpers import Collector, action, conversation, message

pytestmark = pytest.mark.anyio

#: The cost of a customer with no model calls.
NO_CALLS = {"usd": 0.0, "priced_calls": 0, "unpriced_calls": 0}


async def _get(collector: Collector, path: str, **params: str) -> dict[str, Any]:
    status, answer = await collector.call("GET", path, "A", params=params)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def test_buttons_by_label_and_ratings(collector: Collector) -> None:
    """Presses by event and label, and the values of rating buttons as a distribution."""
    figures = await _get(await _loaded(collector), "/v1/metrics")
    assert figures["buttons"] == {
        "presses": 4,  # a3 two, b2 one, y1 one
        "by_label": [
            {"button_event": "rate", "label": "Good", "presses": 2},  # a3, b2
            {"button_event": "menu", "label": "Track order", "presses": 1},
            {"button_event": "rate", "label": "Bad", "presses": 1},
        ],
        "rating": {
            "events": ["rate", "rating", "rate_*", "rating_*"],
            "presses": 3,
            "values": [{"value": "up", "presses": 2}, {"value": "down", "presses": 1}],
        },
    }
    menu = await _get(collector, "/v1/metrics", rating_events="menu", source="web")
    assert menu["buttons"]["presses"] == 2  # a3 only: b2 is on whatsapp
    assert menu["buttons"]["rating"]["values"] == [{"value": "track", "presses": 1}]
    prefix = await _get(collector, "/v1/metrics", rating_events="me*")
    assert prefix["buttons"]["rating"]["presses"] == 1  # menu, by its prefix


async def test_returning_customers_and_weekly_cohorts(collector: Collector) -> None:
    """Returning: conversations on two local days or more; cohorts by first week, Monday."""
    figures = await _get(await _loaded(collector), "/v1/metrics")
    # ann: 02, 11, 23; bob: 08, 10; cy: 09 twice (one day).  n1 has no customer.
    assert figures["customers"] == {"customers": 3, "returning": 2, "returning_rate": 0.666667}
    assert figures["retention"] == {
        "period": "week",
        "first_weekday": "Monday",
        "cohorts": [
            # ann (02) and bob (Sun 08); week +1: ann 11, bob 10; +2 nobody; +3: ann 23
            {"week": "2026-11-02", "customers": 2, "active": [2, 2, 0, 1]},
            # cy (09); the last week seen is the 23rd, two weeks later
            {"week": "2026-11-09", "customers": 1, "active": [1, 0, 0]},
        ],
    }
    # In Tokyo (UTC+9) bob's Sunday 23:00 is Monday the 9th, 08:00, and cy's
    # 18:00 is the 10th, 03:00: everybody came back on another day.
    tokyo = await _get(collector, "/v1/metrics", tz="Asia/Tokyo")
    assert tokyo["customers"] == {"customers": 3, "returning": 3, "returning_rate": 1.0}
    assert tokyo["retention"]["cohorts"] == [
        {"week": "2026-11-02", "customers": 1, "active": [1, 1, 0, 1]},
        {"week": "2026-11-09", "customers": 2, "active": [2, 0, 0]},
    ]
    # A filter narrows the customers: on whatsapp, bob (b2, the 10th) and cy.
    whatsapp = await _get(collector, "/v1/metrics", source="whatsapp")
    assert whatsapp["customers"] == {"customers": 2, "returning": 0, "returning_rate": 0.0}
    assert whatsapp["retention"]["cohorts"] == [
        {"week": "2026-11-09", "customers": 2, "active": [2]}
    ]


async def test_customers_page(collector: Collector) -> None:
    """Per customer: conversations, messages, first and last seen, feedback, escalations."""
    answer = await _get(await _loaded(collector), "/v1/customers")
    assert answer["total"] == 3
    assert answer["customers"] == [
        {
            "customer_id": "ann",
            "conversations": 3,
            "messages": 6,
            "first_seen": "2026-11-02T10:00:00.000000Z",
            "last_seen": "2026-11-23T10:00:04.000000Z",  # the menu button
            "feedback": {"positive": 0, "neutral": 0, "negative": 1},
            "escalations": 1,  # a1
            "total_tokens": 0,
            "cost": NO_CALLS,
        },
        {
            "customer_id": "bob",
            "conversations": 2,
            "messages": 3,  # b1 one, b2 two
            "first_seen": "2026-11-08T23:00:00.000000Z",
            "last_seen": "2026-11-10T10:00:03.000000Z",
            "feedback": {"positive": 1, "neutral": 0, "negative": 0},
            "escalations": 1,  # b1
            "total_tokens": 0,
            "cost": NO_CALLS,
        },
        {
            "customer_id": "cy",
            "conversations": 2,
            "messages": 4,
            "first_seen": "2026-11-09T09:00:00.000000Z",
            "last_seen": "2026-11-09T18:00:03.000000Z",
            "feedback": {"positive": 0, "neutral": 0, "negative": 1},
            "escalations": 1,  # y2
            "total_tokens": 0,
            "cost": NO_CALLS,
        },
    ]
    by_count = await _get(collector, "/v1/customers", sort="conversations", limit="2")
    assert [c["customer_id"] for c in by_count["customers"]] == ["ann", "bob"]  # bob < cy
    rest = await _get(collector, "/v1/customers", sort="conversations", offset="2")
    assert [c["customer_id"] for c in rest["customers"]] == ["cy"]
    assert rest["total"] == 3
    early = await _get(collector, "/v1/customers", until="2026-11-09T12:00:00Z")
    assert [(c["customer_id"], c["conversations"]) for c in early["customers"]] == [
        ("cy", 1),
        ("bob", 1),
        ("ann", 1),
    ]


async def test_unhandled_messages_grouped_by_text(collector: Collector) -> None:
    """The user message before each first escalation, and before negative feedback, by text."""
    answer = await _get(await _loaded(collector), "/v1/metrics/unhandled")
    assert answer == {
        "messages": 6,
        "groups": [
            {
                "text": "where is my order",
                "example": "Where is my order",  # four spellings once each: the shortest first
                "count": 4,
                "escalations": 3,  # a1, b1, n1
                "negative_feedback": 1,  # a2
                "conversations": ["a1", "a2", "b1", "n1"],
            },
            {
                "text": "refund please",
                "example": "Refund please",
                "count": 2,
                "escalations": 1,  # y2: "refund please", not "hello?" after it
                "negative_feedback": 1,  # y1
                "conversations": ["y1", "y2"],
            },
        ],
    }
    only_tickets = await _get(collector, "/v1/metrics/unhandled", escalation_actions="ticket")
    assert [(g["text"], g["escalations"]) for g in only_tickets["groups"]] == [
        ("where is my order", 1),  # n1; a2's negative feedback is the other
        ("refund please", 0),
    ]


def _groups(answer: dict[str, Any]) -> list[tuple[str, int, int, int, list[str]]]:
    return [
        (g["text"], g["count"], g["escalations"], g["negative_feedback"], g["conversations"])
        for g in answer["groups"]
    ]


async def test_unhandled_messages_of_a_selection(collector: Collector) -> None:
    """Filters, a customer and a range choose whose unhandled messages are grouped."""
    loaded = await _loaded(collector)
    web = await _get(loaded, "/v1/metrics/unhandled", source="web")
    assert (web["messages"], _groups(web)) == (
        3,
        [("where is my order", 3, 2, 1, ["a1", "a2", "b1"])],  # n1 is on telegram
    )
    refunds = [("refund please", 2, 1, 1, ["y1", "y2"])]
    cy = await _get(collector, "/v1/metrics/unhandled", customer_id="cy")
    assert (cy["messages"], _groups(cy)) == (2, refunds)
    spanish = await _get(collector, "/v1/metrics/unhandled", source="whatsapp", language="es")
    assert _groups(spanish) == refunds
    # Started from the 9th at noon: a2, a3, b2, y2 and n1.
    later = await _get(collector, "/v1/metrics/unhandled", since="2026-11-09T12:00:00Z")
    assert (later["messages"], _groups(later)) == (
        3,
        [
            ("where is my order", 2, 1, 1, ["a2", "n1"]),
            ("refund please", 1, 1, 0, ["y2"]),
        ],
    )
    nobody = await _get(collector, "/v1/metrics/unhandled", customer_id="nobody")
    assert nobody == {"messages": 0, "groups": []}


async def test_unhandled_messages_without_words_make_no_group(collector: Collector) -> None:
    """A user message with no text to group by (a file alone, "...") before an escalation
    is left out, not shown as a blank group linking to every conversation."""
    loaded = await _loaded(collector)
    before = await _get(loaded, "/v1/metrics/unhandled")
    for cid, text in (("e1", ""), ("e2", "...")):
        await collector.send(
            conversation(cid, 0, 0.0),
            message(cid, 1, 1.0, text),
            action(cid, 2, 2.0, name="fallback_to_human"),
        )
    escalated = await _get(collector, "/v1/metrics", escalation_actions="fallback_to_human")
    assert escalated["escalation"]["conversations"] >= 2  # they do count as escalated
    assert await _get(collector, "/v1/metrics/unhandled") == before


def test_normalise() -> None:
    """Case, spacing and the punctuation at both ends do not split a group."""
    assert normalise("  Where is  MY order?? ") == "where is my order"
    assert normalise("Straße\u00a0\t!") == "strasse"
    assert normalise("¿Dónde está?") == "dónde está"
    assert normalise("...") == ""


async def test_metadata_values(collector: Collector) -> None:
    """The top values of one key, of conversations or of their messages."""
    loaded = await _loaded(collector)
    plans = await _get(loaded, "/v1/metrics/metadata", key="plan")
    assert plans == {
        "key": "plan",
        "of": "conversations",
        "total": 8,
        "missing": 5,
        "values": [{"value": "pro", "count": 2}, {"value": "free", "count": 1}],
        "other": 0,
    }
    intents = await _get(loaded, "/v1/metrics/metadata", key="intent", of="messages")
    # messages: a1 2, a2 2, a3 2, b1 1, b2 2, y1 2, y2 2, n1 2
    assert intents["total"] == 15
    assert intents["missing"] == 12
    assert intents["values"] == [{"value": "order", "count": 2}, {"value": "refund", "count": 1}]
    keys = await _get(loaded, "/v1/metrics/metadata")
    assert keys == {
        "key": None,
        "of": "conversations",
        "total": 8,
        "keys": [
            {"key": "plan", "count": 3},
            {"key": "n", "count": 1},
            {"key": "other", "count": 1},
        ],
    }
    message_keys = await _get(loaded, "/v1/metrics/metadata", of="messages")
    assert message_keys["keys"] == [{"key": "intent", "count": 3}]
    numbers = await _get(loaded, "/v1/metrics/metadata", key="n", language="es")
    assert numbers["values"] == [{"value": 1, "count": 1}]
    assert numbers["total"] == 2


async def test_filter_values(collector: Collector) -> None:
    """The values present, most frequent first, for the dashboard's pick-lists."""
    values = await _get(await _loaded(collector), "/v1/filter-values")
    assert values["source"] == [
        {"value": "web", "conversations": 4},
        {"value": "whatsapp", "conversations": 3},
        {"value": "telegram", "conversations": 1},
    ]
    assert values["language"] == [
        {"value": "en", "conversations": 6},
        {"value": "es", "conversations": 2},
    ]
    assert values["country"] == []
    assert values["environment"] == [{"value": "production", "conversations": 8}]


async def test_bad_parameters_name_themselves(collector: Collector) -> None:
    """A mistaken parameter is a 400 that names it and what was expected."""
    for path, params, name in [
        ("/v1/customers", {"sort": "age"}, "sort"),
        ("/v1/customers", {"limit": "0"}, "limit"),
        ("/v1/customers", {"offset": "-1"}, "offset"),
        ("/v1/metrics/metadata", {"key": ""}, "key"),
        ("/v1/metrics/metadata", {"key": "plan", "of": "events"}, "of"),
        ("/v1/metrics/unhandled", {"q": "x"}, "q"),
        ("/v1/metrics", {"rating_events": ""}, "rating_events"),
        ("/v1/filter-values", {"source": "web"}, "source"),
    ]:
        status, answer = await collector.call("GET", path, "A", params=params)
        assert status == 400, (path, params, answer)
        assert answer["error"].startswith(f"{name}:"), answer
