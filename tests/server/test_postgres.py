"""PostgreSQL only: several collectors at once, migrations, and ``agentsight migrate``."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentsight.server import Storage, StorageUnavailable, open_storage
from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import (
    AuditEntry,
    ConversationQuery,
    Feedback,
    NewEvent,
)
from agentsight.server.storage.postgres._schema import SCHEMA_VERSION as POSTGRES_VERSION
from agentsight.server.storage.postgres._storage import PostgresStorage
from tests.server import pg_helpers
from tests.server.collector_helpers import mark_and_rate
from tests.server.old_schema import UNDO_COMBO_ROLLUPS, execute

pytestmark = pytest.mark.anyio
_CLI = [sys.executable, "-m", "agentsight._cli"]


@pytest.fixture
def schema(postgres_database: str) -> Iterator[str]:
    """A fresh PostgreSQL schema's URL."""
    url = pg_helpers.create_schema(postgres_database)
    try:
        yield url
    finally:
        pg_helpers.drop_schema(url)


def _event(kind: str, cid: str, at: int, event_id: str | None = None, **payload: Any) -> NewEvent:
    return NewEvent(event_id or uuid.uuid4().hex, kind, cid, at, at, payload)


def _start(kind: str, cid: str, at: int, **attributes: Any) -> NewEvent:
    payload = dict.fromkeys(("customer_id", "device", "source", "language", "name", "metadata"))
    payload.update(attributes, is_used=kind == "conversation", environment="production")
    return _event(kind, cid, at, **payload)


async def _stored(url: str, events: list[NewEvent]) -> None:
    """A key for project 1 and *events* written in one batch, the storage closed again."""
    storage = await open_storage(url)
    try:
        await storage.create_key("A", "hash", "redacted", scope="ingest")
        await storage.write_batch(1, events)
    finally:
        await storage.aclose()


def _score(cid: str, at: int, topic: str) -> NewEvent:
    return _event("score", cid, at, name="topic", value=topic, comment=None, message_id=None,
                  source="sdk", metadata=None)  # fmt: skip


def _message(cid: str, at: int, event_id: str | None = None) -> NewEvent:
    return _event("message", cid, at, event_id, sender="end_user", content=f"m{at}", metadata=None)


async def test_migrations_run_once_when_collectors_start_together(schema: str) -> None:
    """Six storages opened at once on an empty schema: one migration, all usable."""
    storages = await asyncio.gather(*(open_storage(schema) for _ in range(6)))
    try:
        rows = await pg_helpers.fetch(schema, "SELECT version FROM schema_version")
        assert [r[0] for r in rows] == list(range(1, POSTGRES_VERSION + 1))
        assert await storages[3].list_keys() == []
    finally:
        for storage in storages:
            await storage.aclose()


async def test_a_migration_outlasts_the_pools_command_timeout(schema: str) -> None:
    """A migration that reads every event of a large database takes minutes, longer than
    the pool's command timeout (60 s here, 0.5 s in this test), and so does another
    collector's wait for it: neither is bound by it.  The last migration is undone and
    run again while another session holds the migration lock, then a lock on events
    that the migration needs: it waits through both and completes."""
    import asyncpg

    from agentsight.server.storage.postgres._schema import MIGRATION_LOCK, migrate

    await (await open_storage(schema)).aclose()
    await execute(schema, UNDO_COMBO_ROLLUPS["postgres"])
    holder = await asyncpg.connect(schema)
    migrating = await asyncpg.connect(schema, command_timeout=0.5)
    migration: asyncio.Future[int] | None = None
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        async with holder.transaction():
            await holder.execute("LOCK TABLE events IN ROW EXCLUSIVE MODE")
            migration = asyncio.ensure_future(migrate(migrating))
            await asyncio.sleep(1.0)
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
            await asyncio.sleep(1.0)
            assert not migration.done()
        assert await asyncio.wait_for(migration, 30) == POSTGRES_VERSION
    finally:
        if migration is not None and not migration.done():
            migration.cancel()
        await holder.close()
        await migrating.close()


async def test_concurrent_writers_create_one_conversation_first_write_wins(schema: str) -> None:
    """Two collectors' storages race on new conversations: one row, merged, counted once."""
    one, two = await open_storage(schema), await open_storage(schema)
    try:
        await one.create_key("A", "hash", "redacted", scope="admin")
        for round_ in range(40):
            cid = f"race-{round_}"
            shared = [uuid.uuid4().hex for _ in range(20)]
            first = [
                _start("interaction", cid, 1, customer_id="alice", metadata={"a": {"x": 1}}),
                *(_message(cid, 10 + i, shared[i]) for i in range(20)),
            ]
            second = [
                _start(
                    "conversation",
                    cid,
                    2,
                    customer_id="bob",
                    device="mobile",
                    metadata={"a": {"y": 2}, "b": 1},
                ),
                *(_message(cid, 10 + i, shared[i]) for i in reversed(range(20))),
                _message(cid, 50),
            ]
            results = await asyncio.gather(one.write_batch(1, first), two.write_batch(1, second))
            assert sum(r.accepted for r in results) == 23
            assert sum(r.duplicates for r in results) == 20
            conversation = await one.get_conversation(1, cid)
            assert conversation is not None
            assert conversation["event_count"] == 23
            assert conversation["message_count"] == 21
            assert conversation["customer_id"] in ("alice", "bob")
            assert conversation["device"] == "mobile"
            assert conversation["is_used"] is True
            assert conversation["metadata"] == {"a": {"x": 1, "y": 2}, "b": 1}
            assert len(await one.list_events(1, cid)) == 23
        page = await two.list_conversations(1, ConversationQuery(limit=100))
        assert len(page.conversations) == 40
        # A later interaction never turns is_used back, nor overwrites a set field.
        await one.write_batch(1, [_start("interaction", "race-0", 99, customer_id="carol")])
        again = await two.get_conversation(1, "race-0")
        assert again is not None
        assert again["is_used"] is True
        assert again["customer_id"] in ("alice", "bob")
    finally:
        await one.aclose()
        await two.aclose()


async def test_batches_are_planned_for_their_own_rows(schema: str) -> None:
    """The response-wait updates never run a cached generic plan: one costed while the
    tables were small (here: empty) would stay in use as they grow, reading every user
    message of the project per batch until the next ANALYZE."""
    storage = await open_storage(schema, min_connections=1, max_connections=1)
    assert isinstance(storage, PostgresStorage)
    try:
        await storage.create_key("A", "hash", "redacted", scope="admin")
        found = await storage.find_key("hash")
        assert found is not None
        for n in range(8):  # PostgreSQL weighs a generic plan after five runs
            cid = f"plan-{n}"
            await storage.write_batch(
                found.project_id,
                [
                    _start("conversation", cid, 1),
                    _message(cid, 10),
                    _event("message", cid, 20, sender="agent", content="a", metadata=None),
                    _message(cid, 30),
                ],
            )
        async with storage.acquire() as connection:
            rows = await connection.fetch(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            )
        waits = [r for r in rows if "SET response_wait" in r["statement"]]
        assert len(waits) == 2
        assert [(r["generic_plans"], r["custom_plans"]) for r in waits] == [(0, 8), (0, 8)]
    finally:
        await storage.aclose()


def _talk(prefix: str, conversations: int) -> list[NewEvent]:
    """*conversations* of 11 events each: a start, five questions and their answers."""
    events = []
    for n in range(conversations):
        cid = f"{prefix}-{n}"
        events.append(_start("conversation", cid, 1))
        for turn in range(5):
            events.append(_message(cid, 10 + 20 * turn))
            answer = {"sender": "agent", "content": "a", "metadata": None}
            events.append(_event("message", cid, 20 + 20 * turn, **answer))
    return events


async def _projects(storage: Storage, *names: str) -> list[int]:
    found = []
    for name in names:
        await storage.create_key(name, f"hash-{name}", "redacted", scope="ingest")
        key = await storage.find_key(f"hash-{name}")
        assert key is not None
        found.append(key.project_id)
    return found


async def _b_unseen(schema: str) -> tuple[PostgresStorage, int]:
    """A storage and project B, which the statistics have not seen: project A's 1,100
    events analyzed, then autovacuum turned off (as on a large table, whose next ANALYZE
    is a tenth of it away)."""
    storage = await open_storage(schema)
    assert isinstance(storage, PostgresStorage)
    try:
        a, b = await _projects(storage, "A", "B")
        await storage.write_batch(a, _talk("a", 100))
        async with storage.acquire() as connection:
            for table in ("events", "conversations"):
                await connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
            await connection.execute("ANALYZE events, conversations")
    except BaseException:
        await storage.aclose()
        raise
    return storage, b


async def _estimate(storage: PostgresStorage, project_id: int) -> float:
    """The planner's estimate of the project's events."""
    async with storage.acquire() as connection:
        plan = await connection.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM events WHERE project_id = $1", project_id
        )
    return float(json.loads(plan)[0]["Plan"]["Plan Rows"])


def _rows_read(plan: dict[str, Any], table: str) -> int:
    """Rows the scans of *table* in an ``EXPLAIN (ANALYZE, FORMAT JSON)`` plan returned,
    over all their loops."""
    read = 0
    if plan.get("Relation Name") == table and "Scan" in plan["Node Type"]:
        read += int(plan["Actual Rows"] * plan["Actual Loops"])
    return read + sum(_rows_read(child, table) for child in plan.get("Plans", ()))


async def test_a_project_the_statistics_have_not_seen_writes_by_its_batch(
    schema: str,
) -> None:
    """After an ANALYZE that saw only project A, the response-wait updates of project B's
    batches read rows in proportion to the batch, not to B's stored events.  Statistics
    give a project they have not seen an estimate of one row; with it the planner read
    every user message of B once per message of the batch, a batch taking longer as B
    grew, until the next ANALYZE (on a large table, after a tenth of it has changed)."""
    from agentsight.server.storage.postgres import _write

    storage, b = await _b_unseen(schema)
    try:
        # Under STATISTICS_FIRST_LOOK: the storage leaves the statistics as they are.
        for part in range(4):
            await storage.write_batch(b, _talk(f"b{part}", 20))
        assert await _estimate(storage, b) <= 1
        later = [_message("b0-1", 200), _message("b1-2", 200)]
        answers = [
            _event("message", cid, 210, sender="agent", content="a", metadata=None)
            for cid in ("b0-1", "b1-2")
        ]
        await storage.write_batch(b, later + answers)
        async with storage.acquire() as connection:
            waits = await connection.fetch(
                "SELECT response_wait FROM events WHERE project_id = $1 AND id = ANY($2)",
                b,
                [e.id for e in later],
            )
            assert [w[0] for w in waits] == [10, 10]
            undone = connection.transaction()  # EXPLAIN ANALYZE runs the update
            await undone.start()
            try:
                for sql, ids in (
                    (_write._USER_WAITS, [e.id for e in later]),
                    (_write._ANSWERS, [e.id for e in answers]),
                ):
                    explained = await connection.fetchval(
                        f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", b, ids
                    )
                    plan = json.loads(explained)[0]["Plan"]
                    assert _rows_read(plan, "events") < 40, sql  # B holds 884
            finally:
                await undone.rollback()
    finally:
        await storage.aclose()


async def test_a_project_the_statistics_have_not_seen_is_analyzed_as_it_is_written(
    schema: str,
) -> None:
    """After an ANALYZE that saw only project A, B's first thousand events make the
    storage find the planner estimating B at one row, and ANALYZE: the estimate is then
    B's size.  Reads planned with one row for B read B once per row of another scan of
    it (a filtered metrics request on 100,000 events took a minute)."""
    storage, b = await _b_unseen(schema)
    try:
        await storage.write_batch(b, _talk("b0", 50))
        assert await _estimate(storage, b) <= 1  # 550 events: not looked at yet
        await storage.write_batch(b, _talk("b1", 50))
        assert await _estimate(storage, b) >= 1_100 / 2
        await storage.write_batch(b, _talk("b2", 50))  # no new look before 2,200
        assert await _estimate(storage, b) < 1_650
    finally:
        await storage.aclose()


async def test_unreachable_server_is_storage_unavailable() -> None:
    """No server on the port: StorageUnavailable, which the collector answers with 503."""
    pg_helpers.require_server()
    with socket_port() as port:
        url = f"postgresql://postgres@127.0.0.1:{port}/nothing"
        with pytest.raises(StorageUnavailable):
            await open_storage(url, connect_timeout=2)


async def test_work_done_stands_when_its_connection_ends_before_it_is_given_back(
    schema: str,
) -> None:
    """The server ends a connection just after the work on it finished (a restart, an
    idle timeout): the request answers what it read, not a 503 or a 500 from
    asyncpg's reset of the ended connection; the pool opens another one."""
    import asyncpg

    storage = await open_storage(schema)
    admin = await asyncpg.connect(schema)
    assert isinstance(storage, PostgresStorage)
    try:
        for attempt in range(20):

            async def read_then_ended(connection: Any, attempt: int = attempt) -> int:
                pid = await connection.fetchval("SELECT pg_backend_pid()")
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
                return attempt

            assert await storage._run(read_then_ended) == attempt
        assert [p.name for p in await storage.list_projects()] == []  # the pool still works
    finally:
        await admin.close()
        await storage.aclose()


class socket_port:
    """A loopback port with nothing listening on it."""

    def __enter__(self) -> int:
        import socket

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self._probe = probe
        port: int = probe.getsockname()[1]
        return port  # bound but not listening: connections are refused

    def __exit__(self, *exc: object) -> None:
        self._probe.close()


async def _fill_sqlite(path: Path) -> None:
    storage = await open_storage(path)
    try:
        await storage.create_key("A", "hash-a", "ags_a...", scope="admin")
        await storage.create_key("B", "hash-b", "ags_b...", scope="admin")
        for start in range(0, 6000, 500):
            batch = []
            for at in range(start, start + 500):
                cid = f"c{at % 150}"
                if at < 150:
                    batch.append(
                        _start(
                            "conversation", cid, at, customer_id=f"u{at % 7}", metadata={"n": at}
                        )
                    )
                else:
                    batch.append(_message(cid, at))
            await storage.write_batch(1 + start // 3000, batch)
        nul = NewEvent(
            uuid.uuid4().hex,
            "message",
            "c1",
            1,
            9_999,
            {"sender": "agent", "content": "zero\x00byte", "metadata": None},
        )
        await storage.write_batch(1, [nul])
        # What issue 18 added: model calls with their cost, and scores.
        usage: dict[str, Any] = dict.fromkeys(
            ("prompt_tokens", "completion_tokens", "total_tokens"), 10
        )
        usage |= {"embedding_tokens": 0, "cached_input_tokens": 0, "reasoning_tokens": 0}
        usage |= dict.fromkeys(("started_at", "duration_ms", "step_id", "parent_id"))
        score = {"comment": None, "message_id": None, "source": "api", "metadata": None}
        await storage.write_batch(
            1,
            [
                NewEvent(uuid.uuid4().hex, "token_usage", "c2", 7, 10_000,
                         {**usage, "model": "m", "provider": "p"}, cost_nanos=1234),
                NewEvent(uuid.uuid4().hex, "token_usage", "c2", 8, 10_001,
                         {**usage, "model": "unknown", "provider": None}),
                NewEvent(uuid.uuid4().hex, "score", "c2", 9, 10_002,
                         {**score, "name": "tone", "value": "warm"}),
            ],
        )  # fmt: skip
        await storage.add_feedback(1, "c3", Feedback("positive", "nice", {"k": [1, 2]}))
        # Issue 19: an attachment event and its file's bytes.
        files = [{"filename": "a.bin", "mime_type": "application/octet-stream", "size": 3}]
        attachment = _event(
            "attachment",
            "c3",
            7,
            "f" * 32,
            sender=None,
            message_id=None,
            files=files,
            metadata=None,
        )
        await storage.write_batch(1, [attachment])
        await storage.put_files(1, "c3", "f" * 32, [b"\x00\x01\xff"])
        # What issue 17 added: scopes, last use, retention, users, grants, the audit log.
        await storage.create_key("A", "hash-ingest", "ags_i...", scope="ingest")
        await storage.record_use({1: 1_000_000}, {})
        await storage.set_retention(2, 30)
        user = await storage.create_user("v@example.com", "viewer", "scrypt$stored")
        assert user is not None
        await storage.set_grants(user.id, [2])
        await storage.add_audit(AuditEntry("cli", "user.create", None, "v@example.com"))
        await storage.add_audit(AuditEntry("cli", "retention.set", 2, None, {"days": 30}))
    finally:
        await storage.aclose()


async def _answers(storage: Storage) -> list[Any]:
    answers: list[Any] = []
    for project in (1, 2):
        page = await storage.list_conversations(project, ConversationQuery(limit=500))
        answers.append(page.conversations)
        for conversation in page.conversations:
            cid = conversation["conversation_id"]
            answers.append(await storage.get_conversation(project, cid))
            answers.append(await storage.list_events(project, cid))
    answers.append(await storage.list_keys())
    answers.append(await storage.list_projects())
    answers.append(await storage.list_users())
    answers.append(await storage.list_audit(None, 100))
    answers.append(await storage.login_record("v@example.com"))
    # With an attribute filter the metrics read the rollups per combination (which the
    # copy's triggers build as it goes).
    filtered = MetricsQuery(ConversationQuery(environment="production"))
    for project in (1, 2):
        answers.append(await storage.metrics(project, MetricsQuery()))
        answers.append(await storage.metrics(project, filtered))
    return answers


async def test_the_customers_figures_of_a_range_read_the_start_index_alone(schema: str) -> None:
    """Over a range (the last days, say), ``GET /v1/metrics`` groups the range's
    conversations by customer from ``conversations_by_start`` alone, which holds the
    customer and the cost columns: an index-only scan of the range, neither a table row per
    conversation nor the whole project's customer index."""
    from agentsight.server.storage._metrics_sql import POSTGRES, MetricsPlan

    day = 86_400_000_000
    starts = [
        _start("conversation", f"c{n}", 20_000 * day + n * day // 10, customer_id=f"u{n % 40}")
        for n in range(2_000)
    ]
    await _stored(schema, starts)
    import asyncpg

    connection = await asyncpg.connect(schema)
    try:
        # As autovacuum leaves a table: statistics, and every page visible (an index-only
        # scan needs that); a table this small would be read whole.  The test server
        # commits asynchronously, and until the batch's commit is on disk VACUUM cannot
        # mark its rows visible to all: CHECKPOINT writes it.
        await connection.execute("CHECKPOINT")
        await connection.execute("VACUUM ANALYZE conversations")
        await connection.execute("SET enable_seqscan = off")
        query = MetricsQuery(ConversationQuery(since=20_000 * day + 190 * day))
        plan = MetricsPlan(1, query, POSTGRES)
        totals = plan.combine(await connection.fetch(plan.totals()[0], *plan.totals()[1]))
        assert totals["conversations"] == 100
        sql, params = plan.statements(totals)["customers"]
        steps = [row[0] for row in await connection.fetch(f"EXPLAIN {sql}", *params)]
        reads = [step for step in steps if " on conversations c" in step]
        assert len(reads) == 1, steps
        assert "Index Only Scan using conversations_by_start" in reads[0], steps
    finally:
        await connection.close()


async def test_a_category_filter_finds_its_scores_by_index(schema: str) -> None:
    """A category filter (``?score=topic&score_value=refund``) knows from the rollups'
    index alone how many scores the category has, reads few ones by the categories'
    index (not every score of the name from the table), and a walk of the list looks each
    conversation's category up by the same index; a common category walks the list
    without reading its scores first."""
    from agentsight.server.storage import _listing
    from agentsight.server.storage._columns import score_filter
    from agentsight.server.storage.postgres import _read

    day = 86_400_000_000
    topics = ["refund"] * 3 + ["billing"] * 200 + ["other"] * 1797
    events = [_start("conversation", f"c{n}", 20_000 * day + n, source="web")
              for n in range(2_000)]  # fmt: skip
    events += [_score(f"c{n}", 20_000 * day + n + 1, topic) for n, topic in enumerate(topics)]
    await _stored(schema, events)
    import asyncpg

    connection = await asyncpg.connect(schema)
    try:
        # As autovacuum leaves the tables; a table this small would be read whole.
        await connection.execute("VACUUM ANALYZE events")
        await connection.execute("VACUUM ANALYZE rollup_score_values")
        await connection.execute("SET enable_seqscan = off")

        async def sizes() -> Any:
            return await connection.fetchrow(_read._numbered(_listing.SIZES), 1)

        few = ConversationQuery(score="topic", score_value="refund")
        common = ConversationQuery(score="topic", score_value="billing")
        keyed = _listing.Keyed("score", ["c0", "c1", "c2"])
        assert await _read._keyed(connection, 1, few, await sizes()) == keyed
        assert await _read._keyed(connection, 1, common, await sizes()) is None

        async def plan(statement: tuple[str, list[Any]]) -> list[str]:
            sql, values = statement
            return [row[0] for row in await connection.fetch(f"EXPLAIN {_read._numbered(sql)}",
                                                             *values)]  # fmt: skip

        counted = await plan(_listing.labelled_scores(1, common) or ("", []))
        assert any("Index Only Scan using rollup_score_labels" in s for s in counted), counted
        [(_, probe)] = _listing.probes(1, few, 20, sqlite=False)
        read = await plan(probe)
        assert any("using events_score_labels" in step for step in read), read
        exists, values = score_filter(common, label_key=True, walk=True) or ("", [])
        walk = await plan((f"SELECT c.pk FROM conversations c WHERE c.project_id = ? AND {exists}"
                           " ORDER BY c.pk DESC LIMIT 26", [1, *values]))  # fmt: skip
        # Row by row in the list's order, whatever the planner estimates of the category.
        assert any("SubPlan" in step for step in walk), walk
        assert any("using events_score_labels" in step for step in walk), walk
    finally:
        await connection.close()


async def test_a_mark_or_a_sentiment_is_read_first_by_index(schema: str) -> None:
    """A mark or a sentiment filter reads its conversations from its index (schema 19),
    the marked ones alone, and the page of few looks them up by key."""
    import asyncpg

    from agentsight.server.storage import _listing
    from agentsight.server.storage.postgres import _read

    day = 86_400_000_000
    await _stored(schema, [_start("conversation", f"c{n}", 20_000 * day + n, source="web")
                           for n in range(2_000)])  # fmt: skip
    await mark_and_rate(schema)
    query = ConversationQuery(is_marked=True, sentiment="negative")
    connection = await asyncpg.connect(schema)
    try:
        await connection.execute("VACUUM ANALYZE conversations")
        await connection.execute("VACUUM ANALYZE feedback")
        await connection.execute("SET enable_seqscan = off")  # tables this small are read whole

        async def sizes() -> Any:
            return await connection.fetchrow(_read._numbered(_listing.SIZES), 1)

        assert await _read._keyed(connection, 1, query, await sizes()) == _listing.Keyed(
            "is_marked", ["c3"]
        )
        sentiment = ConversationQuery(sentiment="negative")
        assert await _read._keyed(connection, 1, sentiment, await sizes()) == _listing.Keyed(
            "sentiment", ["c4"]
        )
        indexes = {"is_marked": "conversations_marked", "sentiment": "feedback_by_sentiment"}
        for field, (sql, values) in _listing.probes(1, query, 20, sqlite=False):
            steps = [row[0] for row in await connection.fetch(f"EXPLAIN {_read._numbered(sql)}",
                                                              *values)]  # fmt: skip
            assert any(f"Index Only Scan using {indexes[field]}" in s for s in steps), steps
    finally:
        await connection.close()


_UNDO_COMBOS = "; ".join(UNDO_COMBO_ROLLUPS["postgres"])
#: Each migration that locks tables a deletion locks in another order, undone.
_UNDO_FROM = {
    18: f"{_UNDO_COMBOS}; DROP INDEX events_score_labels; DROP INDEX rollup_score_labels;"
    " DROP INDEX feedback_by_sentiment; DROP INDEX conversations_marked;"
    " DELETE FROM schema_version WHERE version >= 18",
    19: f"{_UNDO_COMBOS}; DROP INDEX feedback_by_sentiment; DROP INDEX conversations_marked;"
    " DELETE FROM schema_version WHERE version >= 19",
    20: _UNDO_COMBOS,  # and 21, which rewrites 20's rollups
}


@pytest.mark.parametrize("version", sorted(_UNDO_FROM))
async def test_a_migration_waits_for_a_deletion_under_way(schema: str, version: int) -> None:
    """A collector migrating (schemas 18 to 21) while another deletes a conversation
    waits for the deletion to end, then migrates; neither fails.  The deletion locks
    the conversation before its events and its feedback, the migrations the events
    before the rollups and the feedback before the conversations: without the
    projects' rollup locks first, each waits for the other and one is aborted."""
    import asyncpg

    from agentsight.server.storage.postgres._schema import migrate
    from agentsight.server.storage.postgres._write import lock_rollups

    await _stored(schema, [_start("conversation", "c1", 1_000), _score("c1", 2_000, "refund")])
    deleting, migrating = await asyncpg.connect(schema), await asyncpg.connect(schema)
    try:
        await deleting.execute(_UNDO_FROM[version])
        async with deleting.transaction():  # as delete_conversation, one step at a time
            await lock_rollups(deleting, 1)
            await deleting.execute("DELETE FROM conversations WHERE conversation_id = 'c1'")
            migration = asyncio.ensure_future(migrate(migrating))
            await asyncio.sleep(0.5)
            assert not migration.done()
            await deleting.execute("DELETE FROM events WHERE conversation_id = 'c1'")
            await deleting.execute("DELETE FROM feedback WHERE conversation_id = 'c1'")
        assert await asyncio.wait_for(migration, 30) == POSTGRES_VERSION
        assert await deleting.fetchval("SELECT COUNT(*) FROM events") == 0
        assert await deleting.fetchval("SELECT COUNT(*) FROM feedback") == 0
    finally:
        await deleting.close()
        await migrating.close()


def _interrupted_migrate(source: Path, url: str) -> str:
    """Run ``agentsight migrate`` and SIGKILL it once it is part-way through the events."""
    process = subprocess.Popen(
        [*_CLI, "migrate", "--from", str(source), "--db", url, "--chunk-rows", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen = ""
    try:
        for line in process.stdout:
            seen += line
            if line.startswith("events") and " 0%" not in line and "100%" not in line:
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.wait(60)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL, seen
    return seen


async def test_migrate_copies_sqlite_and_resumes_after_a_kill(tmp_path: Path, schema: str) -> None:
    """agentsight migrate, killed mid-way and run again: resumes, counts verified, same answers."""
    source = tmp_path / "old.db"
    await _fill_sqlite(source)
    with anyio.fail_after(120):
        await anyio.to_thread.run_sync(_interrupted_migrate, source, schema)
        done = await anyio.run_process(
            [*_CLI, "migrate", "--from", str(source), "--db", schema, "--chunk-rows", "100"]
        )
    output = done.stdout.decode()
    assert "resuming:" in output
    assert "counts verified" in output
    assert "6,005 events" in output
    again = await anyio.run_process(
        [*_CLI, "migrate", "--from", str(source), "--db", schema], check=False
    )
    assert again.returncode == 0, again.stderr  # a finished copy is a no-op that verifies
    sqlite_storage, pg_storage = await open_storage(source), await open_storage(schema)
    try:
        assert await _answers(pg_storage) == await _answers(sqlite_storage)
        assert await pg_storage.get_file(1, "c3", "f" * 32, 0) == b"\x00\x01\xff"
        # The copy ends with ANALYZE: the first requests are planned for what it holds.
        analyzed = await pg_helpers.fetch(
            schema,
            "SELECT COUNT(*) FROM pg_stats WHERE schemaname = current_schema()"
            " AND tablename IN ('events', 'conversations') AND attname = 'project_id'",
        )
        assert analyzed[0][0] == 2
        # New rows after the copy get new ids (the sequences moved past the copied ones).
        key = await pg_storage.create_key("C", "hash-c", "ags_c...", scope="admin")
        assert key.id == 4
        user = await pg_storage.create_user("w@example.com", "admin", "scrypt$x")
        assert user is not None and user.id == 2
    finally:
        await sqlite_storage.aclose()
        await pg_storage.aclose()


async def test_migrate_refuses_a_database_with_other_data(tmp_path: Path, schema: str) -> None:
    """Copying into a PostgreSQL database that already has projects fails, naming the reason."""
    source = tmp_path / "small.db"
    storage = await open_storage(source)
    await storage.create_key("A", "h", "r", scope="admin")
    await storage.aclose()
    target = await open_storage(schema)
    await target.create_key("other", "h2", "r2", scope="admin")
    await target.aclose()
    done = await anyio.run_process(
        [*_CLI, "migrate", "--from", str(source), "--db", schema], check=False
    )
    assert done.returncode != 0
    assert b"migrate into an empty database" in done.stderr
