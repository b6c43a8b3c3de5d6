"""Migrations 3 and 4 on both backends keep the metrics.

Schema 3: columns kept by the write path equal the migration's backfill.

The data set goes in batches in a scrambled order (agent answers before the
questions, a late answer to an earlier question), so the ``response_wait`` of
the write path is updated across batches.  The database is then taken back
to schema 2 (the columns and indexes of schema 3 dropped) and reopened: the
migration fills the columns again from the payloads alone.  Both must give
the same metrics and the same column values.

SQLite's schema 4 (``events_by_type`` without messages, ``events_messages``
with the type): a database taken back to the indexes of schema 3 upgrades to
the new ones and gives the same metrics.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.metrics import dataset
from tests.server import pg_helpers
from tests.server.collector_helpers import Collector, run_collector
from tests.server.old_schema import UNDO_ACCESS, rows

pytestmark = pytest.mark.anyio
_COLUMNS = (
    "sender",
    "response_wait",
    "action_name",
    "duration_ms",
    "is_error",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "embedding_tokens",
)
_INDEXES = ("events_messages", "events_waits", "events_actions", "events_tokens")
_QUERIES: list[dict[str, str]] = [
    {},
    {"tz": "Europe/Berlin"},
    {"customer_id": "u1"},
    {"escalation_actions": "handoff,lookup"},
]


def _late_answers() -> list[dict[str, Any]]:
    """A conversation whose answers arrive batches after its questions."""
    late = dataset.Builder("late").start("20T08:00:00", customer_id="u9")
    late.user("20T08:00:10").action("20T08:00:11", "lookup", 5.5, "boom")
    late.user("20T08:00:20").agent("20T08:00:30").user("20T08:00:40")
    late.agent("20T08:00:40").tokens("20T08:00:41", 10, 2)
    return late.events


async def _metrics(collector: Collector, project: str) -> list[Any]:
    found = []
    for params in _QUERIES:
        status, answer = await collector.call("GET", "/v1/metrics", project, params=params)
        assert status == 200, answer
        found.append(answer)
    return found


async def _columns(db: Path | str) -> list[tuple[Any, ...]]:
    sql = f"SELECT project_id, id, {', '.join(_COLUMNS)} FROM events ORDER BY project_id, id"
    # the backfill reads duration_ms as json_extract does (5.0 stays 5.0)
    return await rows(db, sql)


async def _back_to_schema_2(db: Path | str) -> None:
    statements = list(UNDO_ACCESS["sqlite" if isinstance(db, Path) else "postgres"])
    statements += [f"DROP INDEX {name}" for name in _INDEXES]
    statements += [f"ALTER TABLE events DROP COLUMN {c}" for c in _COLUMNS]
    statements.append("DELETE FROM schema_version WHERE version >= 3")
    if isinstance(db, Path):  # schema 4 remade this index: back to schema 2's
        statements += _SCHEMA_3_INDEXES[:2]
    await _execute(db, statements)


async def _execute(db: Path | str, statements: list[str]) -> None:
    if isinstance(db, Path):
        connection = sqlite3.connect(db, isolation_level=None)
        try:
            for statement in statements:
                connection.execute(statement)
        finally:
            connection.close()
        return
    for statement in statements:
        await pg_helpers.fetch(db, statement)


async def test_backfill_equals_the_write_path(database_url: Path | str) -> None:
    rng = random.Random(3)
    events = dataset.project_a()
    late = _late_answers()
    async with run_collector(database_url) as collector:
        rng.shuffle(events)
        for start in range(0, len(events), 5):
            await collector.send(*events[start : start + 5])
        # the answers first, then the questions, then the last answer
        await collector.send(*[e for e in late if e.get("sender") == "agent"][:1])
        await collector.send(*[e for e in late if e.get("sender") != "agent"])
        await collector.send(*late)  # resent: all duplicates but the last answer
        await collector.send(*dataset.project_b(), project="B")
        before = await _metrics(collector, "A"), await _metrics(collector, "B")
    columns = await _columns(database_url)
    assert any(row[3] is not None for row in columns), "no response_wait was kept"
    await _back_to_schema_2(database_url)
    async with run_collector(database_url) as collector:
        after = await _metrics(collector, "A"), await _metrics(collector, "B")
    assert after == before
    assert await _columns(database_url) == columns


# The two indexes as schema 3 left them (on both backends).
_SCHEMA_3_INDEXES = [
    "DROP INDEX events_by_type",
    "CREATE INDEX events_by_type ON events (project_id, type, conversation_id, ts, seq)",
    "DROP INDEX events_messages",
    "CREATE INDEX events_messages ON events (project_id, conversation_id, sender, ts, seq, id)"
    " WHERE type = 'message'",
    "DELETE FROM schema_version WHERE version = 4",
]


def _index_sql(db: Path, name: str) -> str:
    connection = sqlite3.connect(db)
    try:
        row = connection.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).fetchone()
    finally:
        connection.close()
    return str(row[0])


async def test_sqlite_schema_4_keeps_the_metrics(tmp_path: Path) -> None:
    db = tmp_path / "metrics.db"
    async with run_collector(db) as collector:
        await collector.send(*dataset.project_a())
        await collector.send(*_late_answers())
        await collector.send(*dataset.project_b(), project="B")
        before = await _metrics(collector, "A"), await _metrics(collector, "B")
    assert "<>" in _index_sql(db, "events_by_type")
    await _execute(db, [*UNDO_ACCESS["sqlite"], *_SCHEMA_3_INDEXES])
    assert "<>" not in _index_sql(db, "events_by_type")
    async with run_collector(db) as collector:  # upgrades to 4 again
        after = await _metrics(collector, "A"), await _metrics(collector, "B")
    assert after == before
    assert "<>" in _index_sql(db, "events_by_type")
    columns = _index_sql(db, "events_messages").split("WHERE")[0].strip()
    assert columns.endswith("id, type)")
