"""The conversation list: total, sorting with cursors, and the columns of each row.

On the data set of ``customers_data.py``, on both backends.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.metrics.customers_data import loaded
from tests.server.collector_helpers import Collector

pytestmark = pytest.mark.anyio


async def _list(collector: Collector, **params: str) -> dict[str, Any]:
    status, answer = await collector.call("GET", "/v1/conversations", "A", params=params)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def _all_pages(collector: Collector, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await _list(collector, **params, **({"cursor": cursor} if cursor else {}))
        if cursor is not None:
            assert page["total"] is None  # counted on the first page only
        rows += page["conversations"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


async def test_total_and_row_columns(collector: Collector) -> None:
    """The first page says how many match; rows carry duration, feedback and escalation."""
    await loaded(collector)
    page = await _list(collector, limit="3")
    assert page["total"] == 8
    assert len(page["conversations"]) == 3
    assert (await _list(collector, source="whatsapp"))["total"] == 3  # b2, y1, y2
    assert (await _list(collector, total="false"))["total"] is None  # not counted when asked
    rows = {c["conversation_id"]: c for c in (await _list(collector))["conversations"]}
    columns = {
        cid: (row["duration_ms"], row["last_feedback"], row["escalated"], row["customer_id"])
        for cid, row in rows.items()
    }
    assert columns == {
        "a1": (3000.0, None, True, "ann"),  # open_ticket
        "a2": (2000.0, "negative", False, "ann"),
        "a3": (4000.0, None, False, "ann"),
        "b1": (2000.0, None, True, "bob"),  # fallback_to_human
        "b2": (3000.0, "positive", False, "bob"),
        "y1": (3000.0, "negative", False, "cy"),
        "y2": (3000.0, None, True, "cy"),  # contact_human
        "n1": (3000.0, None, True, None),  # ticket
    }
    assert rows["a3"]["ended_at"] == "2026-11-23T10:00:04.000000Z"  # last activity
    empty = await _list(collector, source="nowhere")
    assert (empty["total"], empty["conversations"], empty["next_cursor"]) == (0, [], None)


async def test_sorting_and_cursors(collector: Collector) -> None:
    """Each sort pages through every row once, in order, ties broken by creation."""
    await loaded(collector)
    started = await _list(collector, sort="started", order="asc")
    ids = [c["conversation_id"] for c in started["conversations"]]
    assert ids == ["a1", "b1", "y1", "y2", "b2", "n1", "a2", "a3"]
    paged = await _all_pages(collector, sort="last_activity", limit="3")
    assert [c["conversation_id"] for c in paged] == ["a3", "a2", "n1", "b2", "y2", "y1", "b1", "a1"]
    # Durations tie (five of 3 s): pages of two still give each row exactly once.
    whole = await _list(collector, sort="duration")
    by_two = await _all_pages(collector, sort="duration", limit="2")
    assert [c["conversation_id"] for c in by_two] == [
        c["conversation_id"] for c in whole["conversations"]
    ]
    assert [c["duration_ms"] for c in by_two] == [4000.0, *[3000.0] * 5, 2000.0, 2000.0]
    ascending = await _all_pages(collector, sort="duration", order="asc", limit="3")
    assert [c["conversation_id"] for c in ascending] == [
        c["conversation_id"] for c in reversed(whole["conversations"])
    ]
    messages = await _all_pages(collector, sort="messages", limit="5", source="web")
    assert [c["message_count"] for c in messages] == [2, 2, 2, 1]  # a1, a2, a3, then b1
    assert messages[-1]["conversation_id"] == "b1"
    created = await _all_pages(collector, limit="3", order="asc")
    assert len({c["conversation_id"] for c in created}) == 8


async def test_filtered_pages_keep_the_order_however_few_rows_match(
    collector: Collector,
) -> None:
    """A filter matching a page or less sorts as one matching more pages, in every order;
    a combination matching nothing is an empty page."""
    await loaded(collector)
    selections = [
        ({"source": "whatsapp"}, ["b2", "y1", "y2"]),
        ({"since": "2026-11-09T12:00:00Z"}, ["a2", "a3", "b2", "n1", "y2"]),  # a range
        ({"since": "2026-11-09T00:00:00Z", "source": "whatsapp"}, ["b2", "y1", "y2"]),
    ]
    for selection, matching in selections:
        for sort in ("created", "started", "last_activity", "duration", "messages"):
            for order in ("asc", "desc"):
                params = {"sort": sort, "order": order, **selection}
                whole = await _list(collector, **params)  # one page holds them all
                paged = await _all_pages(collector, **params, limit="2")  # pages of two
                assert whole["total"] == len(matching)
                ids = [c["conversation_id"] for c in whole["conversations"]]
                assert ids == [c["conversation_id"] for c in paged], (selection, sort, order)
                assert sorted(ids) == matching
    started = await _list(collector, sort="started", order="asc", source="whatsapp")
    assert [c["conversation_id"] for c in started["conversations"]] == ["y1", "y2", "b2"]
    none = await _list(collector, source="whatsapp", language="de", sort="duration")
    assert (none["total"], none["conversations"], none["next_cursor"]) == (0, [], None)


async def test_bad_sort_parameters(collector: Collector) -> None:
    """A mistaken sort or order is a 400 naming it."""
    for params, name in [({"sort": "age"}, "sort"), ({"order": "up"}, "order")]:
        status, answer = await collector.call("GET", "/v1/conversations", "A", params=params)
        assert status == 400, answer
        assert answer["error"].startswith(f"{name}: expected"), answer
