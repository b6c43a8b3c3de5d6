"""The list's first-page total (from the rollups where they answer) and the pick-lists on
odd data, on both backends: starts before 1970, at 0 and in year 9999 (rows older
collectors could store), values with NUL (PostgreSQL stores U+FFFD), empty strings, an
empty project, ranges on and around the rollups' bucket edges, ``until <= since``.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentsight.server import open_storage
from agentsight.server.storage import ConversationQuery, NewEvent
from agentsight.server.storage._listing import rolled_total
from agentsight.server.storage._metrics_sql import POSTGRES, SQLITE
from agentsight.server.storage._reports import VALUE_FIELDS, ValuesReport
from tests.server.old_schema import execute, rows
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio

DAY = 86_400_000_000
QUARTER = 900_000_000
BASE = 20_000 * DAY  # 2024-10-03
SOURCES = ["web", "", "w\x00eb", None]
ODD_STARTS = [-3 * DAY - 5, -DAY, -QUARTER + 1, -1, 0, 1, QUARTER - 1, DAY - 1, DAY,
              253_402_300_799_999_999]  # fmt: skip
EDGES = [None, -DAY, -1, 0, 1, QUARTER - 1, QUARTER, DAY - 1, DAY, DAY + 1, BASE - 1, BASE,
         BASE + QUARTER + 7, BASE + DAY, BASE + 2 * DAY + 3, 253_402_300_799_999_999,
         253_402_300_800_000_000]  # fmt: skip


def _event(cid: str, at: int, source: str | None, language: str | None) -> NewEvent:
    payload = {"source": source, "language": language, "device": "mobile", "customer_id": "ann"}
    return NewEvent(uuid.uuid4().hex, "conversation", cid, 0, at, payload, "DE")


async def _fill(db: Path | str, storage: Any, project: int) -> None:
    events = []
    for n, (source, hours) in enumerate(itertools.product(SOURCES, range(0, 72, 5))):
        language = ["en", "de", None][n % 3]
        events.append(_event(f"c{n}", BASE + hours * 3_600_000_000 + n, source, language))
    await storage.write_batch(project, events)
    # Rows ingest would not take (old rows): starts before 1970, at 0, at year 9999.
    inserts = []
    for n, start in enumerate(ODD_STARTS):
        source = "'web'" if n % 2 else "NULL"
        inserts.append(
            "INSERT INTO conversations (project_id, conversation_id, source, language,"
            " device, started_at, ended_at, created_at)"
            f" VALUES ({project}, 'odd{n}', {source}, 'en', 'mobile', {start}, {start}, 0)"
        )
    await execute(db, inserts)


async def test_list_total_is_its_rows_on_odd_data(database: Database, backend: str) -> None:
    """Every filtered first page says as many conversations as it lists (all fit on it),
    whether its total came from the rollups or from a count."""
    db = database("totals")
    storage = await open_storage(db)
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        await storage.create_key("B", "hash-B", "ags_…_000001", scope="ingest")
        ids = {p.name: p.id for p in await storage.list_projects()}
        await _fill(db, storage, ids["A"])
        dialect = SQLITE if backend == "sqlite" else POSTGRES
        rolled = 0
        wrong = []
        for project in ids.values():
            for source, language, since, until in itertools.product(
                [None, "web", "", "w\x00eb", "w\ufffdeb"], [None, "en"], EDGES, EDGES
            ):
                query = ConversationQuery(
                    limit=500, count=True, source=source, language=language, since=since,
                    until=until, sort="duration",
                )  # fmt: skip
                rolled += rolled_total(project, query, dialect) is not None
                page = await storage.list_conversations(project, query)
                if page.total != len(page.conversations):
                    wrong.append((project, source, language, since, until, page.total))
        assert rolled > 100  # the rollups answered most of them
        assert not wrong, wrong[:10]
    finally:
        await storage.aclose()


async def test_pick_lists_equal_a_direct_count(database: Database) -> None:
    """The pick-lists' counts equal a count of the stored conversations, odd rows included,
    after a conversation moved to another value and day and another was deleted."""
    db = database("values")
    storage = await open_storage(db)
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        project = next(p.id for p in await storage.list_projects())
        await _fill(db, storage, project)
        await storage.write_batch(project, [_event("c0", BASE - 5 * DAY, "moved", "en")])
        await storage.delete_conversation(project, "c1")
        values = await storage.report(ValuesReport(project))
        for field in VALUE_FIELDS:
            sql = (
                f"SELECT {field}, COUNT(*) FROM conversations WHERE project_id = {project}"
                f" AND {field} IS NOT NULL GROUP BY {field}"
            )
            counted = await rows(db, sql)
            expected = Counter({value: int(n) for value, n in counted})
            offered = Counter({v["value"]: v["conversations"] for v in values[field]})
            assert offered == expected, field
    finally:
        await storage.aclose()
