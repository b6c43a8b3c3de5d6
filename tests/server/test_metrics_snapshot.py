"""``GET /v1/metrics`` on two connections at once still reads one snapshot, on both backends.

The statements of a metrics request are shared between two connections
(SQLite: a spare reader thread; PostgreSQL: a second pooled connection).
Figures computed by different statements must still describe the same
state of the database while conversations keep arriving, and a request that
reads alone (the spare busy, or the pool full) gives the same answer as one
that shares.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import ConversationQuery, open_storage
from tests.server.collector_helpers import Collector, conversation, message, run_collector
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio


def _conversations(first: int, count: int) -> list[dict[str, Any]]:
    """*count* conversations, each with its own customer, a source and one message."""
    events = []
    for n in range(first, first + count):
        cid = f"c{n}"
        source = ("web", "whatsapp", "telegram")[n % 3]
        events += [
            conversation(cid, 0, n, customer_id=f"k{n}", source=source),
            message(cid, 1, n + 0.5),
        ]
    return events


def _agree(figures: dict[str, Any]) -> None:
    """Figures of different statements describe the same conversations."""
    conversations = figures["totals"]["conversations"]
    assert figures["customers"]["customers"] == conversations  # one customer each
    sources = sum(entry["conversations"] for entry in figures["breakdowns"]["source"])
    assert sources == conversations
    hours = sum(sum(day) for day in figures["peak_hours"]["counts"])
    assert hours == figures["totals"]["messages"] == conversations


async def test_figures_agree_while_conversations_arrive(collector: Collector) -> None:
    """Every answer's figures agree with each other while batches keep being written."""
    for first in range(0, 1500, 300):  # enough for each statement to take a while
        await collector.send(*_conversations(first, 300))
    answers: list[dict[str, Any]] = []
    writing = True

    async def write(first: int) -> None:
        while writing:
            await collector.send(*_conversations(first, 3))
            first += 3

    async with anyio.create_task_group() as group:
        for writer in range(3):
            group.start_soon(write, 10_000 * (writer + 1))
        for _ in range(100):
            status, figures = await collector.call("GET", "/v1/metrics", params={"tz": "UTC"})
            assert status == 200, figures
            answers.append(figures)
        writing = False
    for figures in answers:
        _agree(figures)
    seen = {figures["totals"]["conversations"] for figures in answers}
    assert len(seen) > 10, seen  # the requests did run while conversations arrived


async def test_alone_or_shared_the_answer_is_the_same(database: Database, backend: str) -> None:
    """A request that cannot have a second connection answers what a shared one does."""
    db = database("alone")
    async with run_collector(db) as running:
        await running.send(*_conversations(0, 60))
        storage = running.storage
        project = next(p.id for p in await storage.list_projects() if p.name == "A")
        queries = [
            MetricsQuery(),
            MetricsQuery(tz="Europe/Berlin", filters=ConversationQuery(source="web")),
            MetricsQuery(filters=ConversationQuery(customer_id="k7")),
        ]
        shared = [await storage.metrics(project, q) for q in queries]
    options: dict[str, Any] = (
        {"spare_reader": False} if backend == "sqlite" else {"max_connections": 1}
    )
    alone_storage = await open_storage(db, **options)
    try:
        alone = [await alone_storage.metrics(project, q) for q in queries]
    finally:
        await alone_storage.aclose()
    assert alone == shared
    assert shared[0]["totals"]["conversations"] == 60
