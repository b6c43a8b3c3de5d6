"""The plans SQLite picks for sorted list pages, on a file as the collector leaves it.

The collector never runs ``ANALYZE``, so SQLite chooses indexes without
statistics.  A page must seek, not walk the project: a customer's
conversations sorted by duration or messages through the customer's index
(not the sort's index over every conversation, filtered row by row), and a
page after a cursor from the cursor's position in the sort's index (not from
the top, re-reading every earlier page).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from agentsight.server import open_storage
from agentsight.server.storage import ConversationQuery, NewEvent
from agentsight.server.storage._columns import COLUMNS
from agentsight.server.storage._listing import (
    SIZES,
    Keyed,
    annotation_statements,
    labelled_scores,
    order_by,
    probes,
    searched_conversations,
    sort_value,
)
from agentsight.server.storage.sqlite import _read

pytestmark = pytest.mark.anyio

DAY = 86_400_000_000


@pytest.fixture
def anyio_backend() -> str:
    """Storage calls only: asyncio is enough."""
    return "asyncio"


async def _db(tmp_path: Path) -> Path:
    db = tmp_path / "plans.db"
    storage = await open_storage(db)
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        events = []
        for n in range(200):
            attributes = {"customer_id": f"user-{n % 40}", "source": "web"}
            at = 20_000 * DAY + n * 1_000_000
            events.append(NewEvent(uuid.uuid4().hex, "conversation", f"c{n}", 0, at, attributes))
        await storage.write_batch(1, events)
    finally:
        await storage.aclose()
    return db


def _plan(db: Path, query: ConversationQuery, *, keyed: Keyed | None = None) -> str:
    """The plan of the list's statement for *query* (as ``list_conversations`` writes it)."""
    where, params = _read._where(1, query, keyed=keyed)
    sql = (
        f"SELECT {', '.join(COLUMNS)}, {sort_value(query)} FROM conversations c"
        f" WHERE {where} {order_by(query, few=keyed is not None)} LIMIT ?"
    )
    connection = sqlite3.connect(db)
    try:
        stats = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        assert not connection.execute(stats).fetchall()  # as the collector leaves a file
        rows = connection.execute("EXPLAIN QUERY PLAN " + sql, [*params, 26]).fetchall()
    finally:
        connection.close()
    return " | ".join(str(row[3]) for row in rows)


def _keyed(connection: sqlite3.Connection, query: ConversationQuery) -> Keyed | None:
    """The conversations of *query*'s filter read first, as ``list_conversations`` reads them."""
    return _read._keyed(connection, 1, query, connection.execute(SIZES, (1,)).fetchone())


@pytest.mark.parametrize("sort", ["duration", "messages"])
async def test_a_customers_sorted_page_seeks_the_customer(tmp_path: Path, sort: str) -> None:
    """A customer's conversations sorted by duration or messages are found by customer."""
    plan = _plan(await _db(tmp_path), ConversationQuery(sort=sort, customer_id="user-3"))
    assert "conversations_by_customer" in plan, plan


@pytest.mark.parametrize("sort", ["duration", "messages", "started", "last_activity"])
@pytest.mark.parametrize("ascending", [False, True])
async def test_a_page_after_a_cursor_seeks_the_cursor(
    tmp_path: Path, sort: str, ascending: bool
) -> None:
    """A later page starts at the cursor: a range on the sort's value in its index."""
    query = ConversationQuery(sort=sort, ascending=ascending, before=100, after=5)
    plan = _plan(await _db(tmp_path), query)
    assert "project_id=? AND" in plan, plan


async def test_a_score_on_few_conversations_is_read_first(tmp_path: Path) -> None:
    """A score filter that matches fewer scores than a hundredth of the conversations finds
    them first and looks each conversation up by key (a walk of the order would look up
    the scores of every conversation to fill a page); one that matches many walks the
    order and stops after a page."""
    db = await _db(tmp_path)
    storage = await open_storage(db)
    try:
        scores = [("csat", "c7", 5), ("topic", "c8", "refund")]
        scores += [("resolved", f"c{n}", n % 2 == 0) for n in range(200)]
        await storage.write_batch(
            1,
            [
                NewEvent(uuid.uuid4().hex, "score", cid, 1, 20_000 * DAY, {"name": n, "value": v})
                for n, cid, v in scores
            ],
        )
    finally:
        await storage.aclose()
    few, many = ConversationQuery(score="csat"), ConversationQuery(score="resolved")
    connection = sqlite3.connect(db)
    try:
        keyed = [_keyed(connection, q) for q in (few, many)]
        assert keyed == [Keyed("score", ["c7"]), None]
        # A category: few read first; a common one known from the rollups, and walked.
        topic = ConversationQuery(score="topic", score_value="refund")
        common = ConversationQuery(score="resolved", score_value="true")
        keyed = [_keyed(connection, q) for q in (topic, common)]
        assert keyed == [Keyed("score", ["c8"]), None]
        sql, params = labelled_scores(1, common) or ("", [])
        steps = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        assert steps == [
            "SEARCH r USING COVERING INDEX rollup_score_values_by_value"
            " (project_id=? AND score_name=?)"
        ], steps
    finally:
        connection.close()
    plan = _plan(db, few, keyed=Keyed("score", ["c7"]))
    assert "(project_id=? AND conversation_id=?)" in plan, plan
    assert "conversations_by_project" in _plan(db, many), _plan(db, many)


async def test_a_mark_or_a_sentiment_is_read_first_by_index(tmp_path: Path) -> None:
    """A mark or a sentiment filter reads its conversations from its index (schema 18),
    the marked ones alone; a page of few looks them up by key, and a total of many
    counts from the same indexes instead of testing every conversation."""
    from tests.server.collector_helpers import mark_and_rate

    db = await _db(tmp_path)
    await mark_and_rate(db)
    query = ConversationQuery(is_marked=True, sentiment="negative")
    connection = sqlite3.connect(db)
    try:
        keyed = _keyed(connection, query)
        assert keyed == Keyed("is_marked", ["c3"])  # the cheaper probe first
        assert _keyed(connection, ConversationQuery(sentiment="negative")) == Keyed(
            "sentiment", ["c4"]
        )
        steps = {}
        for field, (sql, params) in probes(1, query, 2, sqlite=True):
            steps[field] = [r[3] for r in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        assert steps == {
            "is_marked": [
                "SEARCH c USING COVERING INDEX conversations_marked (project_id=? AND is_marked=?)"
            ],
            "sentiment": [
                "SEARCH f USING COVERING INDEX feedback_by_sentiment (sentiment=? AND project_id=?)"
            ],
        }, steps
        # Totals of many: the marked ones counted from their index; a sentiment's (with
        # an attribute) from its feedback, each conversation looked up by key.
        for counted, leads, index in (
            (ConversationQuery(is_marked=True), False, "conversations_marked"),
            (ConversationQuery(sentiment="negative", source="web"), True, "feedback_by_sentiment"),
        ):
            where, params = _read._where(1, counted, by_key=True, feedback=leads)
            sql = f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM conversations c WHERE {where}"
            total = [r[3] for r in connection.execute(sql, params)]
            assert any(index in step for step in total), total
            assert not any("conversations_by_project" in step for step in total), total
        # A page's feedback still seeks each conversation: the new index holds every
        # column that statement reads, but names no sentiment first.
        sql, params = annotation_statements(1, ["c3", "c4"], sqlite=True)[0]
        seeks = [r[3] for r in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        assert (
            "SEARCH f USING INDEX feedback_by_conversation (project_id=? AND conversation_id=?)"
            in seeks
        ), seeks
    finally:
        connection.close()
    plan = _plan(db, query, keyed=keyed)
    assert "(project_id=? AND conversation_id=?)" in plan, plan


async def test_the_customers_figures_read_the_customer_index_alone(tmp_path: Path) -> None:
    """``GET /v1/metrics`` groups the selection by customer over
    ``conversations_by_customer`` alone (it holds the start and the cost columns),
    without a table row per conversation, all time and over a range."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage._metrics_sql import SQLITE, MetricsPlan

    db = await _db(tmp_path)
    connection = sqlite3.connect(db)
    try:
        for query in (MetricsQuery(), MetricsQuery(ConversationQuery(since=20_000 * DAY))):
            plan = MetricsPlan(1, query, SQLITE)
            totals = plan.combine(connection.execute(*plan.totals()).fetchall())
            sql, params = plan.statements(totals)["customers"]
            steps = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            reads = [s for s in steps if s.startswith(("SCAN c", "SEARCH c"))]
            assert len(reads) == 1, steps
            assert reads[0].startswith(
                "SEARCH c USING COVERING INDEX conversations_by_customer (project_id=?"
            ), steps
    finally:
        connection.close()


async def test_the_histograms_of_all_time_stream_from_their_indexes(tmp_path: Path) -> None:
    """All time, the durations' histogram and the score values are summed per tool and
    bucket (per score and value) over every day's rows: read in that order from their
    indexes alone (schema 17), not sorted row by row first."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage._metrics_sql import SQLITE, MetricsPlan

    db = await _db(tmp_path)
    connection = sqlite3.connect(db)
    try:
        plan = MetricsPlan(1, MetricsQuery(), SQLITE)
        statements = plan.statements(plan.combine(connection.execute(*plan.totals()).fetchall()))
        for name, index in (
            ("duration_buckets", "rollup_durations_by_bucket"),
            ("score_values", "rollup_score_values_by_value"),
        ):
            sql, params = statements[name]
            steps = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert f"SEARCH r USING COVERING INDEX {index} (project_id=?)" in steps, steps
            # Only the outer grouping (of a few hundred rows) may sort.
            assert steps.count("USE TEMP B-TREE FOR GROUP BY") == 1, steps
    finally:
        connection.close()


@pytest.mark.parametrize("since", [None, 20_000 * DAY + 50_000_000])
async def test_the_customers_pass_is_cut_in_two_by_customer(
    tmp_path: Path, since: int | None
) -> None:
    """SQLite runs a statement on one core, so the customers pass is two statements the
    request's two connections share: the customers before a cut found from sampled
    starts, and the rest, each a range of ``conversations_by_customer``, of about as
    many conversations (40 customers, 5 conversations each, all time and a range)."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage._metrics_sql import SQLITE, MetricsPlan

    db = await _db(tmp_path)
    connection = sqlite3.connect(db)
    try:
        plan = MetricsPlan(1, MetricsQuery(ConversationQuery(since=since)), SQLITE)
        statements = plan.statements(plan.combine(connection.execute(*plan.totals()).fetchall()))
        assert list(statements)[:2] == ["customers", "customers_from"]  # the longest first
        counts = []
        for name, operator in (("customers", "<"), ("customers_from", ">")):
            sql, params = statements[name]
            steps = [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            index = "SEARCH c USING COVERING INDEX conversations_by_customer"
            reads = [s for s in steps if s.startswith(("SCAN c", "SEARCH c"))]
            assert len(reads) == 1 and reads[0].startswith(index), steps
            assert f"customer_id{operator}?" in reads[0], steps  # a range of the index
            rows = connection.execute(sql, params).fetchall()
            counts += [row[2] for row in rows if row[0] == 0]
        whole = 40 if since is None else len({n % 40 for n in range(50, 200)})
        assert sum(counts) == whole
        assert min(counts) >= whole // 4, counts  # near the median, not at one end
    finally:
        connection.close()


async def test_the_customers_cut_reads_a_bounded_part_of_a_project_without_customers(
    tmp_path: Path,
) -> None:
    """Finding the cut costs a few index seeks whatever the data: in a project whose
    conversations have no customer (or few, or only outside the range) no sample walks
    the start index to the project's end looking for one (the first version did, from
    each of its 63 samples).  Counted in SQLite VM instructions, against one pass of
    the project's start index."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage._metrics_sql import SQLITE, MetricsPlan

    db = tmp_path / "anonymous.db"
    storage = await open_storage(db)
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        for batch in range(4):
            events = [
                NewEvent(uuid.uuid4().hex, "conversation", f"c{n}", 0, 20_000 * DAY + n * 10**7, {})
                for n in range(batch * 5000, (batch + 1) * 5000)
            ]
            await storage.write_batch(1, events)
    finally:
        await storage.aclose()
    connection = sqlite3.connect(db)
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    def cost(sql: str, params: list[object]) -> int:
        steps[0] = 0
        connection.set_progress_handler(count, 100)
        try:
            connection.execute(sql, params).fetchall()
        finally:
            connection.set_progress_handler(None, 100)
        return steps[0]

    try:
        one_pass = cost(
            "SELECT COUNT(c.customer_id) FROM conversations c INDEXED BY conversations_by_start"
            " WHERE c.project_id = ? AND c.started_at >= 0",
            [1],
        )
        for query in (MetricsQuery(), MetricsQuery(rollups=False)):
            plan = MetricsPlan(1, query, SQLITE)
            extra = cost(*plan.totals()) - cost(*plan.totals(split=False))
            assert plan.combine(connection.execute(*plan.totals()).fetchall())["split"] is None
            assert extra <= one_pass, (extra, one_pass)
    finally:
        connection.close()


async def test_filtered_metrics_read_each_conversations_events_from_an_index(
    tmp_path: Path,
) -> None:
    """With attribute filters the tools (and the escalations, in the tools' statement)
    and the histograms of the waits and durations come from the rollups per combination
    of attributes (schemas 19 and 20), each selected combination's rows by key, not
    from the events.  A range that holds no whole day has no rollup to read: the
    histograms then read the selected conversations' actions and waits from the indexes
    that hold them per conversation (schema 11), not a table row per event."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage._metrics_sql import SQLITE, MetricsPlan

    db = await _db(tmp_path)
    connection = sqlite3.connect(db)

    def planned(query: MetricsQuery) -> dict[str, list[str]]:
        plan = MetricsPlan(1, query, SQLITE)
        statements = plan.statements(plan.combine(connection.execute(*plan.totals()).fetchall()))
        assert "escalation" not in plan.later({"tools": [("ticket", 2, 0, 0, None, 1)]})
        return {
            name: [row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            for name, (sql, params) in statements.items()
        }

    try:
        steps = planned(MetricsQuery(ConversationQuery(source="web")))
        for name in ("tools", "duration_buckets", "wait_buckets"):
            assert not any(s.startswith(("SCAN e", "SEARCH e")) for s in steps[name]), steps[name]
            key = "SEARCH r USING PRIMARY KEY (project_id=? AND combo=?)"
            assert key in steps[name], (name, steps[name])
        hour = 3_600_000_000  # hours of the stored conversations' day
        within_a_day = ConversationQuery(
            source="web", since=20_000 * DAY + hour, until=20_000 * DAY + 5 * hour
        )
        steps = planned(MetricsQuery(within_a_day))
        expected = {
            "duration_buckets": "events_actions_by_conversation",
            "wait_buckets": "events_waits_by_conversation",
        }
        for name, index in expected.items():
            reads = [s for s in steps[name] if s.startswith(("SCAN e", "SEARCH e"))]
            seek = f"SEARCH e USING COVERING INDEX {index} (project_id=? AND conversation_id=?"
            assert len(reads) == 1 and reads[0].startswith(seek), (name, steps[name])
    finally:
        connection.close()


async def test_a_filtered_range_of_much_of_the_span_scans_the_conversations(
    tmp_path: Path,
) -> None:
    """With attribute filters and a range, SQLite (no statistics) would read the range by
    the start index and a table look-up per conversation, however many: the statement
    that reads the selection (the customers; the histograms read their rollups per
    combination for whole days) scans the table instead once the range holds more than
    a twentieth of the project's span (a look-up costs about as much as 19 rows of a
    scan), and keeps the index below that."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage._metrics_sql import SQLITE, MetricsPlan

    db = await _db(tmp_path)  # 200 conversations, a second apart
    first = 20_000 * DAY
    connection = sqlite3.connect(db)
    try:
        for since, scanned in ((first + 100_000_000, True), (first + 195_000_000, False)):
            plan = MetricsPlan(
                1, MetricsQuery(ConversationQuery(source="web", since=since)), SQLITE
            )
            totals = plan.combine(connection.execute(*plan.totals()).fetchall())
            statements = plan.statements(totals)
            sql, params = statements["customers"]
            steps = [r[3] for r in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            assert ("SCAN c" in steps) is scanned, (since, steps)
            assert any("conversations_by_start" in s for s in steps) is not scanned, steps
    finally:
        connection.close()


async def test_filtered_local_days_off_utc_scan_the_conversations(tmp_path: Path) -> None:
    """With attribute filters, the conversations per local day of a zone off UTC are
    counted directly (the rollups' days are UTC days): one scan of the table, not the
    project's index and a table look-up per conversation."""
    from agentsight.server._metrics import MetricsQuery
    from agentsight.server.storage._metrics_sql import SQLITE, MetricsPlan

    db = await _db(tmp_path)
    query = MetricsQuery(ConversationQuery(source="web"), tz="Europe/Berlin")
    connection = sqlite3.connect(db)
    try:
        plan = MetricsPlan(1, query, SQLITE)
        totals = plan.combine(connection.execute(*plan.totals()).fetchall())
        sql, params = plan.statements(totals)["days"]
        steps = [r[3] for r in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    finally:
        connection.close()
    assert steps[0] == "SCAN c", steps


async def test_a_search_reads_the_search_index_then_each_message_by_rowid(
    tmp_path: Path,
) -> None:
    """With the search index, the conversations of a search (a bounded walk's fallback,
    a total of a text not common) are read from the FTS5 table's trigrams first and
    each candidate message by its rowid (not every message of the project, each one
    then asked about in the index)."""
    db = await _db(tmp_path)
    storage = await open_storage(db)
    try:
        message = {"sender": "end_user", "content": "Where is my refund?"}
        await storage.write_batch(1, [NewEvent(uuid.uuid4().hex, "message", "c7", 1, 1, message)])
        assert await storage.set_search_index(True)
    finally:
        await storage.aclose()
    query = ConversationQuery(q="refund", count=True)
    connection = sqlite3.connect(db)
    try:
        sql, params = searched_conversations(1, "refund", sqlite=True)
        assert connection.execute(sql, params).fetchall() == [("c7",)]
        probe = [r[3] for r in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        where, params = _read._where(1, query, by_key=True, searched=True)
        sql = f"EXPLAIN QUERY PLAN SELECT COUNT(*) FROM conversations c WHERE {where}"
        fallback = [r[3] for r in connection.execute(sql, params)]
    finally:
        connection.close()
    for steps in (probe, fallback):
        assert any(s.startswith("SCAN events_text VIRTUAL TABLE INDEX") for s in steps), steps
        assert "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)" in steps, steps
        assert not any(s == "SCAN e" or "events_by_conversation" in s for s in steps), steps
