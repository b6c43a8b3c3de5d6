"""``GET /v1/metrics`` on two connections at once still reads one snapshot, on both backends.

The statements of a metrics request are shared between two connections
(SQLite: a spare reader thread; PostgreSQL: a second pooled connection).
Figures computed by different statements must still describe the same
state of the database while conversations keep arriving, and a request that
reads alone (the spare busy, or the pool full) gives the same answer as one
that shares.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import ConversationQuery, StorageUnavailable, open_storage
from tests.server import pg_helpers
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


def _shared_statements(storage: Any) -> int:
    """Statements of metrics requests that the second connection ran so far."""
    if hasattr(storage, "metrics_shared_statements"):
        return int(storage.metrics_shared_statements)
    return int(storage._spare.statements)


async def test_requests_do_share_their_statements(collector: Collector) -> None:
    """With a second connection free, it runs some of a request's statements."""
    await collector.send(*_conversations(0, 300))
    project = next(p.id for p in await collector.storage.list_projects() if p.name == "A")
    for _ in range(5):
        await collector.storage.metrics(project, MetricsQuery())
    assert _shared_statements(collector.storage) > 0


async def test_a_long_write_sends_the_request_on_alone(tmp_path: Path) -> None:
    """SQLite: while another connection holds the write lock, a metrics request does not
    wait for it: it reads alone, and answers what is stored."""
    db = tmp_path / "locked.db"
    async with run_collector(db) as running:
        await running.send(*_conversations(0, 30))
        storage = running.storage
        project = next(p.id for p in await storage.list_projects() if p.name == "A")
        before = _shared_statements(storage)
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            figures = await storage.metrics(project, MetricsQuery())
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert figures["totals"]["conversations"] == 30
        _agree(figures)
        assert _shared_statements(storage) == before  # it went alone
        shared = await storage.metrics(project, MetricsQuery())  # the lock is free again
        assert shared == figures


async def test_a_lost_connection_answers_unavailable(postgres_database: str) -> None:
    """PostgreSQL: a connection ended by the server while a request shares its statements
    is ``StorageUnavailable`` (a 503 the dashboard retries), not another error."""
    db = pg_helpers.create_schema(postgres_database)
    try:
        failed = await _cut_off(db)
    finally:
        pg_helpers.drop_schema(db)
    assert failed, "no request was cut off: the test did not test"
    assert all(isinstance(exc, StorageUnavailable) for exc in failed), failed


async def _cut_off(db: str) -> list[Exception]:
    """The errors of metrics requests whose connections the server ends while they run."""
    import asyncpg

    async with run_collector(db) as running:
        for first in range(0, 3000, 500):
            await running.send(*_conversations(first, 500))
        storage = running.storage
        project = next(p.id for p in await storage.list_projects() if p.name == "A")
        admin = await asyncpg.connect(db)
        failed: list[Exception] = []
        try:
            for attempt in range(20):
                async with anyio.create_task_group() as group:

                    async def ask() -> None:
                        try:
                            await storage.metrics(project, MetricsQuery())
                        except Exception as exc:
                            failed.append(exc)

                    group.start_soon(ask)
                    await anyio.sleep(0.005 * (attempt % 5 + 1))
                    # One active connection: either of the request's two.
                    await admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND state = 'active' ORDER BY backend_start DESC LIMIT 1"
                    )
        finally:
            await admin.close()
    return failed
