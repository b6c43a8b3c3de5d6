"""The write side of the PostgreSQL storage: batches, keys and management.

A batch is one transaction of four statements, safe with several collectors
writing at once:

1. the new events go in with one ``INSERT ... SELECT FROM unnest(...) ON
   CONFLICT DO NOTHING RETURNING id`` (with the payload fields that the
   metrics read copied into columns: ``sender``, ``action_name``,
   ``duration_ms``, ``is_error``, the token counts): an id already stored, or being stored
   by another collector's open transaction, is skipped (after that one
   commits), and only the ids this batch really inserted come back;
2. the counts of those events are added to their conversations with one
   ``INSERT ... ON CONFLICT DO UPDATE``: the first batch creates the
   conversation, a concurrent one waits for its row and adds to it; the same
   statement applies the attributes of ``conversation``/``interaction``
   events with ``COALESCE`` (each one's first value in the batch): first
   committed write wins, field by field, and ``is_used`` only ever turns true;
3. their metadata is merged with a JSON merge patch (as SQLite's
   ``json_patch``), keys already stored winning: one ``UPDATE ... FROM
   unnest(...)`` per round, round *k* holding each conversation's *k*-th
   start event with metadata;
4. the ``response_wait`` of the new end_user messages is set, and a new agent
   message sets the waits of the end_user messages it answers (those between
   the agent message before it and itself; see ``storage.sqlite._waits``).  It runs
   after step 2, which holds the lock of those conversations' rows until
   commit: a concurrent batch adding messages to one of them waits, and its
   statements (each with a new snapshot) see this batch's messages.

Rows are locked in sorted order (event ids, then conversation ids), so two
batches sharing ids wait for each other instead of deadlocking.  Before step 1
a batch takes its project's rollup lock (``lock_rollups``): the triggers of
every step add to rollup rows in no particular order (two batches adding to
the same two rows in opposite orders would deadlock), and the events' rollups
read the conversations and the conversations' read the events (a batch must
not see another's half written).  Every transaction that changes events or
conversations takes it first.

``store_events`` is steps 1 to 4, in a transaction of the caller's that holds
the rollup lock; ``write_running_totals`` reads a conversation's token sums
under that lock and stores the increase with it.

PostgreSQL text cannot hold U+0000: in columns it is written as U+FFFD (the
event's exact payload keeps the original).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..._ingest._time import now_micros
from .._base import ConversationChanges, Feedback, NewEvent, WriteResult
from .._columns import COUNTERS as _COUNTERS
from .._columns import TOKEN_COLUMNS as _TOKEN_FIELDS
from .._columns import (
    batch_totals,
    extra_columns,
    first_attributes,
    running_increase,
    start_events,
)

__all__ = [
    "add_feedback",
    "lock_rollups",
    "clean",
    "delete_conversation",
    "revoke_key",
    "store_events",
    "update_conversation",
    "write_batch",
    "write_running_totals",
]

_INSERT_EVENTS = (
    "INSERT INTO events (project_id, id, conversation_id, type, seq, ts, payload, content,"
    " sender, action_name, duration_ms, is_error,"
    " prompt_tokens, completion_tokens, total_tokens, embedding_tokens,"
    " model, provider, cost_nanos, score_name, score_value, score_label)"
    " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[],"
    " $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[],"
    " $12::smallint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[],"
    " $17::text[], $18::text[], $19::bigint[], $20::text[], $21::float8[], $22::text[])"
    " ON CONFLICT DO NOTHING RETURNING id"
)
# The response wait of every end_user message of the conversations, rewritten
# where it changed: a new agent message can answer earlier user messages.
# Waits (see storage.sqlite._waits for why this equals the full recomputation): a new
# end_user message gets its own; a new agent message answers the end_user
# messages between the agent message before it (none: from the start) and itself.
#
# Both are planned the same whatever the statistics say: each of the batch's ids is
# looked up on its own (LATERAL ... OFFSET 0, which the planner cannot turn into a
# join), the messages it changes are found by their conversation, and the rows are
# updated by their ctid.  The project is a sub-select: statistics that have not seen
# a project (a new one, after an ANALYZE) estimate it at one row, and with that
# estimate the planner read every user message of the project once per message of
# the batch (tests/server/test_postgres.py).  The ctids stay valid to the update:
# every writer of the project's events holds its rollup lock (lock_rollups).
_PROJECT = "(SELECT $1::bigint)"
_BATCH = (
    "FROM unnest($2::text[]) AS b (id) CROSS JOIN LATERAL (SELECT n.ctid AS tid,"
    " n.conversation_id, n.ts, n.seq, n.id, n.response_wait FROM events n"
    f" WHERE n.project_id = {_PROJECT} AND n.id = b.id OFFSET 0) x"
)
_USER_WAITS = (
    "UPDATE events u SET response_wait = w.wait FROM (SELECT x.tid, x.response_wait,"
    f" (SELECT a.ts FROM events a WHERE a.project_id = {_PROJECT} AND a.type = 'message'"
    " AND a.conversation_id = x.conversation_id"
    " AND a.sender = 'agent' AND (a.ts, a.seq, a.id) > (x.ts, x.seq, x.id)"
    f" ORDER BY a.ts, a.seq, a.id LIMIT 1) - x.ts AS wait {_BATCH}) w"
    " WHERE u.ctid = w.tid AND w.response_wait IS DISTINCT FROM w.wait"
)
_ANSWERS = (
    "UPDATE events u SET response_wait = w.wait FROM (SELECT m.tid, x.ts - m.ts AS wait"
    f" {_BATCH} LEFT JOIN LATERAL (SELECT p.ts, p.seq, p.id FROM events p"
    f" WHERE p.project_id = {_PROJECT} AND p.type = 'message'"
    " AND p.conversation_id = x.conversation_id AND p.sender = 'agent'"
    " AND (p.ts, p.seq, p.id) < (x.ts, x.seq, x.id)"
    " ORDER BY p.ts DESC, p.seq DESC, p.id DESC LIMIT 1) p ON true"
    " CROSS JOIN LATERAL (SELECT m.ctid AS tid, m.ts, m.response_wait FROM events m"
    f" WHERE m.project_id = {_PROJECT} AND m.type = 'message'"
    " AND m.conversation_id = x.conversation_id AND m.sender = 'end_user'"
    " AND (m.ts, m.seq, m.id) > (COALESCE(p.ts, -1), COALESCE(p.seq, -1), COALESCE(p.id, ''))"
    " AND (m.ts, m.seq, m.id) < (x.ts, x.seq, x.id) OFFSET 0) m"
    " WHERE m.response_wait IS DISTINCT FROM x.ts - m.ts) w WHERE u.ctid = w.tid"
)
_INSERT_CONVERSATIONS = (
    "INSERT INTO conversations (project_id, created_at, conversation_id, started_at, ended_at, "
    + ", ".join(_COUNTERS)
    + ") SELECT $1, $2, * FROM unnest($3::text[], "
    + ", ".join(f"${n}::bigint[]" for n in range(4, 6 + len(_COUNTERS)))
    + ") ON CONFLICT (project_id, conversation_id) DO UPDATE SET "
)
_ADD_COUNTERS = ", ".join(f"{c} = conversations.{c} + excluded.{c}" for c in _COUNTERS)
#: For conversations a batch only scores: their stored times stay (and no attributes come).
_UPSERT_UNDATED = _INSERT_CONVERSATIONS + _ADD_COUNTERS
_ATTRIBUTES = ("customer_id", "customer_ip_address", "device", "source", "language", "name")
_ALL_ATTRIBUTES = (*_ATTRIBUTES, "environment", "country")
# The upsert of dated conversations also fills each attribute with its first value in
# the batch, first write wins (COALESCE keeps what is stored), and is_used: a new
# conversation's row is complete when inserted, so the rollups' triggers add it under
# its combination of attributes once instead of adding it under none and moving it.
_FIRST = len(_COUNTERS) + 6  # the parameter of the first attribute
_UPSERT_CONVERSATIONS = (
    "INSERT INTO conversations (project_id, created_at, conversation_id, started_at, ended_at, "
    + ", ".join((*_COUNTERS, *_ALL_ATTRIBUTES, "is_used"))
    + ") SELECT $1, $2, * FROM unnest($3::text[], "
    + ", ".join(f"${n}::bigint[]" for n in range(4, _FIRST))
    + ", "
    + ", ".join(f"${n}::text[]" for n in range(_FIRST, _FIRST + len(_ALL_ATTRIBUTES)))
    + f", ${_FIRST + len(_ALL_ATTRIBUTES)}::boolean[])"
    + " ON CONFLICT (project_id, conversation_id) DO UPDATE SET"
    " started_at = LEAST(conversations.started_at, excluded.started_at),"
    " ended_at = GREATEST(conversations.ended_at, excluded.ended_at), "
    + _ADD_COUNTERS
    + "".join(f", {f} = COALESCE(conversations.{f}, excluded.{f})" for f in _ALL_ATTRIBUTES)
    + ", is_used = conversations.is_used OR excluded.is_used"
)
# The metadata of start events, one per conversation (see _apply_metadata): a JSON merge
# patch, json_patch(new, old): keys already stored win, new keys are added.
_UPDATE_METADATA = (
    "UPDATE conversations c SET metadata = CASE WHEN c.metadata IS NULL THEN u.metadata"
    " ELSE agentsight_json_patch(u.metadata::jsonb, c.metadata::jsonb)::text END"
    " FROM unnest($2::text[], $3::text[]) AS u (conversation_id, metadata)"
    " WHERE c.project_id = $1 AND c.conversation_id = u.conversation_id"
)
_WHERE_CONVERSATION = "WHERE project_id = $1 AND conversation_id = $2"

# One encoder for all: json.dumps with options builds a new one per call.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def clean(text: str | None) -> str | None:
    """*text* as PostgreSQL can store it: U+0000 becomes U+FFFD."""
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd")


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


def dumps_clean(value: Any) -> str | None:
    """JSON text that PostgreSQL's jsonb can parse (no ``\\u0000``); ``None`` stays ``None``."""
    if value is None:
        return None
    text = _dumps(value)
    return _dumps(_clean_json(value)) if "\\u0000" in text else text


def _event_columns(events: Sequence[NewEvent]) -> list[list[Any]]:
    columns: list[list[Any]] = [[] for _ in range(21)]
    ids, cids, kinds, seqs, stamps, payloads, contents = columns[:7]
    senders, names, durations, errors = columns[7:11]
    token_columns = columns[11:15]
    extra_lists = columns[15:]
    for event in events:
        if event.type in ("message", "action"):
            for column in extra_lists:
                column.append(None)
        else:
            for column, value in zip(extra_lists, extra_columns(event), strict=True):
                column.append(clean(value) if type(value) is str else value)
        payload, content = event.payload, None
        sender = name = duration = error = None
        if event.type == "token_usage":
            for column, field in zip(token_columns, _TOKEN_FIELDS, strict=True):
                column.append(payload.get(field))
        else:
            for column in token_columns:
                column.append(None)
        if event.type == "action":
            name = clean(payload.get("action_name"))
            value = payload.get("duration_ms")
            duration = None if value is None else float(value)
            error = int(payload.get("error_msg") is not None)
        elif event.type == "message":
            sender = payload.get("sender")
            payload = dict(payload)
            content = payload.pop("content")
            if "\x00" in content:  # the exact text stays in the payload
                payload["content"] = content
                content = clean(content)
        ids.append(event.id)
        cids.append(clean(event.conversation_id))
        kinds.append(event.type)
        seqs.append(event.seq)
        stamps.append(event.timestamp)
        payloads.append(_dumps(payload))
        contents.append(content)
        senders.append(sender)
        names.append(name)
        durations.append(duration)
        errors.append(error)
    return columns


async def _upsert_conversations(
    connection: Any, project_id: int, events: Sequence[NewEvent]
) -> None:
    dated, undated = batch_totals(events, key=_clean_id)
    created = now_micros()
    for statement, totals in ((_UPSERT_CONVERSATIONS, dated), (_UPSERT_UNDATED, undated)):
        if totals:
            order = sorted(totals)  # lock order: see the module docstring
            columns: list[list[Any]] = [order]
            columns += [[totals[cid][i] for cid in order] for i in range(2 + len(_COUNTERS))]
            if statement is _UPSERT_CONVERSATIONS:
                filled = first_attributes(events, key=_clean_id, text=clean)
                none = [None] * len(_ALL_ATTRIBUTES) + [False]
                rows = [filled.get(cid, none) for cid in order]
                columns += [[row[i] for row in rows] for i in range(len(none))]
            await connection.execute(statement, project_id, created, *columns)


def _clean_id(conversation_id: str) -> str:
    cid = clean(conversation_id)
    assert cid is not None
    return cid


async def _apply_metadata(connection: Any, project_id: int, events: Sequence[NewEvent]) -> None:
    """Step 3 of a batch: the metadata of its start events, in rounds: round *k* merges
    each conversation's *k*-th start event with metadata (in time order: first write
    wins), one statement for all of them, so the rollups' statement triggers run once a
    round (one statement per conversation ran them thousands of times a batch)."""
    per_conversation: dict[str, list[str]] = {}
    for event in start_events(events):
        metadata = dumps_clean(event.payload.get("metadata"))
        if metadata is not None:
            per_conversation.setdefault(_clean_id(event.conversation_id), []).append(metadata)
    rounds = max((len(rows) for rows in per_conversation.values()), default=0)
    for k in range(rounds):
        applied = [(cid, rows[k]) for cid, rows in per_conversation.items() if len(rows) > k]
        await connection.execute(
            _UPDATE_METADATA, project_id, [c for c, _ in applied], [m for _, m in applied]
        )


async def _update_waits(connection: Any, project_id: int, new: Sequence[NewEvent]) -> None:
    """The waits the new messages change (the new rows already hold their conversations' locks)."""
    messages = [e for e in new if e.type == "message"]
    users = [e.id for e in messages if e.payload["sender"] == "end_user"]
    agents = [e.id for e in messages if e.payload["sender"] != "end_user"]
    if users or agents:
        # Plans for this batch's ids: asyncpg prepares the statements, and a generic
        # plan PostgreSQL keeps after five runs is costed with the statistics of its
        # time; made while the table was small, it walked every user message of the
        # project per batch until the next ANALYZE.  (Planning every statement of the
        # batch so cost more than it saved.)
        await connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    if users:
        await connection.execute(_USER_WAITS, project_id, users)
    if agents:
        await connection.execute(_ANSWERS, project_id, agents)


_ROLLUP_LOCKS = 0x726F6C6C  # the first key of the rollup locks ("roll"); the second: the project


async def lock_rollups(connection: Any, project_id: int) -> None:
    """Take the project's rollup lock until the end of the transaction (see the module
    docstring); before any conversation row of the project is locked, as it orders the
    row locks too."""
    await connection.execute("SELECT pg_advisory_xact_lock($1, $2)", _ROLLUP_LOCKS, project_id)


#: The events of a project this collector has written at its first look at PostgreSQL's
#: estimate of the project; it looks again each time that count has doubled.
STATISTICS_FIRST_LOOK = 1_000
STATISTICS_GROWTH = 2
_ANALYZE_SECONDS = 600.0  # ANALYZE reads a sample of each table, not the table: far under this
_ESTIMATE = "EXPLAIN (FORMAT JSON) SELECT 1 FROM events WHERE project_id = $1"


async def statistics_behind(connection: Any, project_id: int, written: int) -> bool:
    """Whether the planner estimates the project's events at under half of *written*.

    Statistics that have not seen a project (a new one, after an ANALYZE that saw only
    others) estimate it at one row whatever it holds, and plans made with that estimate
    read the project once per row of another scan of it: seconds to minutes, for reads
    and writes alike, until autovacuum's next ANALYZE, which on a large table comes after
    a tenth of it has changed."""
    plan = json.loads(await connection.fetchval(_ESTIMATE, project_id))
    return float(plan[0]["Plan"]["Plan Rows"]) * STATISTICS_GROWTH < written


async def refresh_statistics(connection: Any) -> None:
    """ANALYZE the tables of the schema, all of which requests read by project (a sample
    of each: they stay readable and writable meanwhile)."""
    tables = await connection.fetch(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()"
    )
    names = ", ".join(row[0] for row in tables)
    await connection.execute(f"ANALYZE {names}", timeout=_ANALYZE_SECONDS)


async def store_events(connection: Any, project_id: int, events: Sequence[NewEvent]) -> WriteResult:
    """Store *events* within the caller's transaction, which holds the project's rollup
    lock (``lock_rollups``); see the module docstring."""
    unique: dict[str, NewEvent] = {}
    for event in events:
        unique.setdefault(event.id, event)
    ordered = [unique[i] for i in sorted(unique)]
    rows = await connection.fetch(_INSERT_EVENTS, project_id, *_event_columns(ordered))
    inserted = {row[0] for row in rows}
    new = [e for e in ordered if e.id in inserted]
    if new:
        await _upsert_conversations(connection, project_id, new)
        await _apply_metadata(connection, project_id, new)
        await _update_waits(connection, project_id, new)
    return WriteResult(accepted=len(new), duplicates=len(events) - len(new))


async def write_batch(connection: Any, project_id: int, events: Sequence[NewEvent]) -> WriteResult:
    """Store *events* in one transaction; see the module docstring."""
    async with connection.transaction():
        await lock_rollups(connection, project_id)
        return await store_events(connection, project_id, events)


_TOKEN_SUMS = (
    f"SELECT {', '.join(_TOKEN_FIELDS)} FROM conversations"
    " WHERE project_id = $1 AND conversation_id = $2"
)


async def write_running_totals(
    connection: Any,
    project_id: int,
    event: NewEvent,
    price: Callable[[NewEvent], int | None] | None,
) -> WriteResult:
    """Store what a ``token_usage`` event of running totals adds (``Storage.write_running_totals``).

    The sums are read after the project's rollup lock is taken: every
    transaction that adds to a conversation's sums, of any collector, holds
    it until its commit, so they cannot change between the read and the
    write (and the read, a statement of its own under READ COMMITTED, sees
    every transaction that held the lock before).
    """
    async with connection.transaction():
        await lock_rollups(connection, project_id)
        key = (project_id, clean(event.conversation_id))
        sums = await connection.fetchrow(_TOKEN_SUMS, *key)
        increase = running_increase(event, None if sums is None else tuple(sums), price)
        if increase is None:
            return WriteResult(accepted=0, duplicates=0)
        return await store_events(connection, project_id, [increase])


async def revoke_key(connection: Any, key_hash: str) -> bool:
    """Mark a live key revoked."""
    status = await connection.execute(
        "UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2 AND revoked_at IS NULL",
        now_micros(),
        key_hash,
    )
    return bool(_rowcount(status))


def _rowcount(status: str) -> int:
    """The row count of a command tag such as ``UPDATE 1``."""
    return int(status.rsplit(" ", 1)[-1])


async def update_conversation(
    connection: Any, project_id: int, conversation_id: str, changes: ConversationChanges
) -> bool:
    """Rename, mark, or merge-patch the metadata of a conversation."""
    sets: list[str] = []
    params: list[object] = [project_id, clean(conversation_id)]
    if changes.name is not None:
        params.append(clean(changes.name))
        sets.append(f"name = ${len(params)}")
    if changes.is_marked is not None:
        params.append(changes.is_marked)
        sets.append(f"is_marked = ${len(params)}")
    if changes.metadata is not None and changes.replace_metadata:
        params.append(dumps_clean(changes.metadata) if changes.metadata else None)
        sets.append(f"metadata = ${len(params)}")
    elif changes.metadata is not None:
        params.append(dumps_clean(changes.metadata))
        sets.append(
            f"metadata = agentsight_json_patch(COALESCE(metadata, '{{}}')::jsonb,"
            f" ${len(params)}::jsonb)::text"
        )
    if not sets:
        sql = f"SELECT 1 FROM conversations {_WHERE_CONVERSATION}"
        return await connection.fetchval(sql, *params) is not None
    sql = f"UPDATE conversations SET {', '.join(sets)} {_WHERE_CONVERSATION}"
    return bool(_rowcount(await connection.execute(sql, *params)))


async def delete_conversation(connection: Any, project_id: int, conversation_id: str) -> bool:
    """Delete a conversation with its events and feedback."""
    key = (project_id, clean(conversation_id))
    async with connection.transaction():
        await lock_rollups(connection, project_id)
        status = await connection.execute(f"DELETE FROM conversations {_WHERE_CONVERSATION}", *key)
        await connection.execute(f"DELETE FROM events {_WHERE_CONVERSATION}", *key)
        await connection.execute(f"DELETE FROM feedback {_WHERE_CONVERSATION}", *key)
    return bool(_rowcount(status))


async def add_feedback(
    connection: Any, project_id: int, conversation_id: str, feedback: Feedback
) -> bool:
    """Add one feedback entry to an existing conversation."""
    metadata = None if feedback.metadata is None else json.dumps(feedback.metadata)
    key = (project_id, clean(conversation_id))
    async with connection.transaction():
        # Its trigger counts it on the conversation, whose rollup rows follow.
        await lock_rollups(connection, project_id)
        found = await connection.fetchval(
            f"SELECT 1 FROM conversations {_WHERE_CONVERSATION} FOR SHARE", *key
        )
        if found is None:
            return False
        await connection.execute(
            "INSERT INTO feedback (project_id, conversation_id, sentiment, comment, metadata,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            *key,
            clean(feedback.sentiment),
            clean(feedback.comment),
            metadata,
            now_micros(),
        )
    return True
