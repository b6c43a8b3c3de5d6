"""The customers page by last seen: the same page as grouping every conversation would give.

``GET /v1/customers`` sorted by last seen (its default) finds the page's
customers by walking the selected conversations from the last activity back,
in steps, through the ties of the page's last customer.  Random
conversations with many equal last activities, checked against a
computation in Python of every customer's last activity, for pages at the
start, across the walk's steps, past the end and beyond the walk's reach
(grouped directly then), with and without filters, on both backends.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from agentsight.server import open_storage
from agentsight.server._ingest._time import format_ts
from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import ConversationQuery, NewEvent, _reports
from agentsight.server.storage._reports import CustomersReport
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio

HOUR = 3_600_000_000
START = 1_790_000_000_000_000  # 2026-09-21


def _event(kind: str, cid: str, at: int, payload: dict[str, Any]) -> NewEvent:
    return NewEvent(uuid.uuid4().hex, kind, cid, at, at, payload)


def _conversations(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Conversations of 40 customers (some of none), ending on few distinct hours: ties."""
    made = []
    for n in range(count):
        start = START + rng.randrange(20) * HOUR
        made.append(
            {
                "cid": f"c{n}",
                "customer": None if rng.random() < 0.1 else f"user-{rng.randrange(40):02d}",
                "source": rng.choice(["web", "whatsapp"]),
                "start": start,
                "end": start + rng.randrange(3) * HOUR,
            }
        )
    return made


def _expected(
    made: list[dict[str, Any]], query: ConversationQuery, offset: int, limit: int
) -> list[tuple[str, str]]:
    last: dict[str, int] = {}
    for c in made:
        if c["customer"] is None or (query.source and c["source"] != query.source):
            continue
        if query.since is not None and c["start"] < query.since:
            continue
        last[c["customer"]] = max(last.get(c["customer"], 0), c["end"])
    ordered = sorted(last, key=lambda customer: (-last[customer], customer))
    return [(customer, _iso(last[customer])) for customer in ordered[offset : offset + limit]]


def _iso(micros: int) -> str:
    return format_ts(micros)


@pytest.mark.parametrize("walk", [None, (3, 4)])
async def test_pages_by_last_seen_equal_a_full_grouping(
    database: Database, walk: tuple[int, int] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page by last seen lists the customers, last activities and totals that grouping
    every selected conversation gives, ties broken by customer id, whatever the walk's steps."""
    if walk is not None:  # steps of 3 rows, 4 of them: ties cross steps, the walk runs out
        monkeypatch.setattr(_reports, "_WALK", walk[0])
        monkeypatch.setattr(_reports, "_WALKS", walk[1])
    rng = random.Random(7)
    made = _conversations(rng, 400)
    storage = await open_storage(database("customers"))
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        project = next(p.id for p in await storage.list_projects() if p.name == "A")
        batch = []
        for c in made:
            attributes = {"customer_id": c["customer"], "source": c["source"]}
            batch.append(_event("conversation", c["cid"], c["start"], attributes))
            said = {"sender": "end_user", "content": "hi", "metadata": None}
            batch.append(_event("message", c["cid"], c["end"], said))
        await storage.write_batch(project, batch)
        selections = [
            ConversationQuery(),
            ConversationQuery(source="web"),
            ConversationQuery(since=START + 5 * HOUR),
        ]
        for selection in selections:
            customers = len(_expected(made, selection, 0, 1000))
            for offset, limit in [(0, 1), (0, 5), (3, 7), (customers - 2, 5), (customers, 3)]:
                report = CustomersReport(
                    project, MetricsQuery(selection), "last_seen", limit, offset
                )
                answer = await storage.report(report)
                page = [(c["customer_id"], c["last_seen"]) for c in answer["customers"]]
                assert page == _expected(made, selection, offset, limit), (selection, offset)
                assert answer["total"] == customers
                for row in answer["customers"]:  # the figures of each customer, in full
                    mine = [
                        c for c in made if c["customer"] == row["customer_id"]
                        and (selection.source is None or c["source"] == selection.source)
                        and (selection.since is None or c["start"] >= selection.since)
                    ]  # fmt: skip
                    assert row["conversations"] == len(mine)
                    assert row["first_seen"] == _iso(min(c["start"] for c in mine))
    finally:
        await storage.aclose()
