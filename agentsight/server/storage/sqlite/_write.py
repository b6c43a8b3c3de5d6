"""The write side of the SQLite storage; every function runs on the writer thread.

A batch is one transaction: find the ids already stored (one seek when no
stored id falls in the batch's range), insert the new events with a few
multi-row ``INSERT`` statements (with the payload fields that the metrics
read copied into columns: ``sender``, ``action_name``, ``duration_ms``,
``is_error`` and the token counts), add their counts to their conversations
(creating the ones not seen yet), then apply the attributes of
``conversation``/``interaction`` events first-write-wins, field by field,
with ``COALESCE`` in SQL.  Only new events touch the conversations, so a
resent batch changes nothing.

``response_wait`` (see ``_waits``) is kept up to date incrementally: a new
end_user message gets its own wait as it is inserted, and a new agent message
sets the waits of the end_user messages it answers, those between it and the
agent message before it.

``store_events`` is all of this but the transaction; ``write_running_totals``
calls it in the transaction that reads the sums the stored increase depends on.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..._ingest._time import now_micros
from .._base import NewEvent, WriteResult
from .._columns import COUNTERS as _COUNTERS
from .._columns import (
    FILLED,
    batch_totals,
    extra_columns,
    first_attributes,
    running_increase,
    start_events,
)
from .._columns import NO_EXTRA as _NO_EXTRA
from .._columns import TOKEN_COLUMNS as _TOKEN_FIELDS
from . import _waits as _waits

__all__ = ["store_events", "transaction", "write_batch", "write_running_totals"]

_ID_CHUNK = 500  # ids per IN (...) list, well below SQLite's parameter limit

_EVENT_COLUMNS = (
    "project_id, id, conversation_id, type, seq, ts, payload, content,"
    " sender, action_name, duration_ms, is_error,"
    " prompt_tokens, completion_tokens, total_tokens, embedding_tokens, response_wait,"
    " model, provider, cost_nanos, score_name, score_value, score_label"
)
_EVENT_WIDTH = _EVENT_COLUMNS.count(",") + 1
_MOST_ROWS = 512  # rows per INSERT at most (8,704 parameters: SQLite allows 32,766)


@functools.lru_cache(maxsize=16)
def _insert_events_sql(rows: int) -> str:
    marks = "(" + ", ".join("?" * _EVENT_WIDTH) + ")"
    return (
        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES "
        + ", ".join([marks] * rows)
        + " ON CONFLICT DO NOTHING"
    )


def _insert_events(connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert *rows* with a few multi-row statements: 1,000 rows are 512 + 256 + 128 +
    64 + 32 + 8, so at most ten distinct statements, all in sqlite3's statement cache.

    Why not ``executemany``: it goes from Python to SQLite and back for every row
    (binding, a step that gives the GIL back and wins it again, a reset); one
    statement of many rows makes that trip once (``benchmarks/ingest_cpu.py``
    measures the write stage).
    """
    most = min(_MOST_ROWS, _variable_limit(connection) // _EVENT_WIDTH)
    start, count = 0, len(rows)
    size = most
    while start < count:
        while size > count - start:
            size >>= 1
        chunk = rows[start : start + size]
        connection.execute(_insert_events_sql(size), list(itertools.chain.from_iterable(chunk)))
        start += size


def _variable_limit(connection: sqlite3.Connection) -> int:
    """How many ``?`` one statement may have (SQLite's default: 32,766 since 3.32)."""
    getlimit = getattr(connection, "getlimit", None)  # Python 3.11+
    if getlimit is None:  # pragma: no cover - Python 3.10
        return 999  # the lowest default SQLite ever had
    return int(getlimit(_LIMIT_VARIABLE_NUMBER))


_LIMIT_VARIABLE_NUMBER = 9  # sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, named from Python 3.11


_ATTRIBUTES = ("customer_id", "customer_ip_address", "device", "source", "language", "name")
#: Filled first-write-wins by the upsert itself (metadata, a merge, by the UPDATE below): a
#: new conversation's row is then complete when inserted, and the UPDATE changes no column
#: the rollup triggers follow, so they run once per conversation and batch, not three times.
_FILLED = FILLED  # _columns.first_attributes gives them in this order
_INSERT_CONVERSATION = (
    "INSERT INTO conversations (project_id, conversation_id, created_at, started_at, ended_at, "
    + ", ".join((*_COUNTERS, *_FILLED))
    + ") VALUES (?, ?, ?, ?, ?, "
    + ", ".join("?" for _ in (*_COUNTERS, *_FILLED))
    + ") ON CONFLICT (project_id, conversation_id) DO UPDATE SET "
)
_ADD_COUNTERS = ", ".join(f"{c} = {c} + excluded.{c}" for c in _COUNTERS)
_FILL = ", ".join(f"{f} = COALESCE({f}, excluded.{f})" for f in _FILLED[:-1])
_UPSERT_CONVERSATION = (
    _INSERT_CONVERSATION + "started_at = MIN(started_at, excluded.started_at),"
    " ended_at = MAX(ended_at, excluded.ended_at), "
    + _ADD_COUNTERS
    + ", "
    + _FILL
    + ", is_used = MAX(is_used, excluded.is_used)"
)
#: For conversations a batch only scores: their stored times stay (and no attributes come).
_UPSERT_UNDATED = _INSERT_CONVERSATION + _ADD_COUNTERS
_UPDATE_ATTRIBUTES = (
    "UPDATE conversations SET "
    + ", ".join(f"{f} = COALESCE({f}, :{f})" for f in (*_ATTRIBUTES, "environment", "country"))
    + ", metadata = CASE WHEN :metadata IS NULL THEN metadata"
    " WHEN metadata IS NULL THEN :metadata"
    # json_patch(new, old): keys already stored win, new keys are added.
    " ELSE json_patch(:metadata, metadata) END,"
    " is_used = MAX(is_used, :is_used)"
    " WHERE project_id = :project_id AND conversation_id = :conversation_id"
)


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error (including at commit)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")


# One encoder for all: json.dumps with options builds a new one per call.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_fast_dumps: Callable[[Any], bytes] | None
try:  # the server extra installs it: several times the stdlib's encoder's speed
    from orjson import dumps as _fast_dumps
except ImportError:  # pragma: no cover - without it, the stdlib's encoder alone
    _fast_dumps = None


def _plain(value: dict[str, Any]) -> bool:
    """Whether orjson writes *value* as ``_dumps`` does, character for character.

    It does for strings, integers, booleans and null; floats it may write
    differently (``1e-7`` for ``1e-07``), so anything with a float, or nested
    deeper than an object of plain values, goes to the stdlib.
    """
    for item in value.values():
        kind = type(item)
        if kind is dict:
            for inner in item.values():
                if type(inner) in _NOT_PLAIN:
                    return False
        elif kind in _NOT_PLAIN:
            return False
    return True


_NOT_PLAIN = frozenset((float, dict, list))


def _encode(payload: dict[str, Any]) -> str:
    if _fast_dumps is not None and _plain(payload):
        try:
            return _fast_dumps(payload).decode()
        except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits
            pass
    return _dumps(payload)


# Whether any id of the batch's range is stored: one seek in the primary key.
_ANY_BETWEEN = "SELECT 1 FROM events WHERE project_id = ? AND id BETWEEN ? AND ? LIMIT 1"


def _existing_ids(connection: sqlite3.Connection, project_id: int, ids: list[str]) -> set[str]:
    """The *ids* already stored.

    The SDK's ids are UUIDv7s, time first: a new batch's ids usually sort after
    (or at least apart from) every stored one, and then one seek shows that
    none can be stored, instead of a lookup per id.
    """
    found: set[str] = set()
    if not ids:
        return found
    # Python orders str by code point as SQLite's BINARY collation orders UTF-8.
    probe = connection.execute(_ANY_BETWEEN, (project_id, min(ids), max(ids))).fetchone()
    if probe is None:
        return found
    most = min(_ID_CHUNK, _variable_limit(connection) - 1)
    for start in range(0, len(ids), most):
        chunk = ids[start : start + most]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id FROM events WHERE project_id = ? AND id IN ({marks})"
        found.update(row[0] for row in connection.execute(sql, (project_id, *chunk)))
    return found


def _duration(value: Any) -> Any:
    """``duration_ms`` as ``json_extract`` reads it: integers beyond 64 bits are real."""
    if type(value) is int and not -(2**63) <= value < 2**63:
        return float(value)
    return value


def _event_row(project_id: int, event: NewEvent, wait: int | None) -> tuple[Any, ...]:
    payload, content = event.payload, None
    sender = action_name = duration = is_error = None
    tokens: tuple[Any, ...] = (None, None, None, None)
    extra = _NO_EXTRA
    if event.type == "message":
        payload = dict(payload)
        content = payload.pop("content")
        sender = payload.get("sender")
    elif event.type == "action":
        action_name = payload.get("action_name")
        duration = _duration(payload.get("duration_ms"))
        is_error = int(payload.get("error_msg") is not None)
    else:
        if event.type == "token_usage":
            tokens = tuple(payload.get(field) for field in _TOKEN_FIELDS)
        extra = extra_columns(event)
    return (
        project_id,
        event.id,
        event.conversation_id,
        event.type,
        event.seq,
        event.timestamp,
        _encode(payload),
        content,
        sender,
        action_name,
        duration,
        is_error,
        *tokens,
        wait,
        *extra,
    )


def _upsert_conversations(
    connection: sqlite3.Connection, project_id: int, events: Sequence[NewEvent]
) -> None:
    dated, undated = batch_totals(events)
    filled = first_attributes(events)
    none = (*[None] * (len(_FILLED) - 1), 0)
    created = now_micros()
    for statement, totals in ((_UPSERT_CONVERSATION, dated), (_UPSERT_UNDATED, undated)):
        if totals:
            rows = [
                (project_id, cid, created, *entry, *filled.get(cid, none))
                for cid, entry in totals.items()
            ]
            connection.executemany(statement, rows)


def _attribute_rows(project_id: int, events: Sequence[NewEvent]) -> list[dict[str, Any]]:
    rows = []
    for event in start_events(events):
        row = {f: event.payload.get(f) for f in (*_ATTRIBUTES, "environment")}
        metadata = event.payload.get("metadata")
        row["metadata"] = None if metadata is None else _dumps(metadata)
        row.update(
            country=event.country,
            is_used=int(event.type == "conversation"),
            project_id=project_id,
            conversation_id=event.conversation_id,
        )
        rows.append(row)
    return rows


def store_events(
    connection: sqlite3.Connection, project_id: int, events: Sequence[NewEvent]
) -> WriteResult:
    """Store *events* within the caller's write transaction; see the module docstring."""
    unique: dict[str, NewEvent] = {}
    for event in events:
        unique.setdefault(event.id, event)
    stored = _existing_ids(connection, project_id, list(unique))
    new = [e for i, e in unique.items() if i not in stored]
    messages = _waits.Messages(new)
    waits = _waits.user_waits(connection, project_id, messages)
    rows = [_event_row(project_id, e, waits.get(e.id)) for e in new]
    _insert_events(connection, rows)
    _upsert_conversations(connection, project_id, new)
    connection.executemany(_UPDATE_ATTRIBUTES, _attribute_rows(project_id, new))
    _waits.answer(connection, project_id, messages)
    return WriteResult(accepted=len(new), duplicates=len(events) - len(new))


def write_batch(
    connection: sqlite3.Connection, project_id: int, events: Sequence[NewEvent]
) -> WriteResult:
    """Store *events* in one transaction; see the module docstring."""
    with transaction(connection):
        return store_events(connection, project_id, events)


_TOKEN_SUMS = (
    f"SELECT {', '.join(_TOKEN_FIELDS)} FROM conversations"
    " WHERE project_id = ? AND conversation_id = ?"
)


def write_running_totals(
    connection: sqlite3.Connection,
    project_id: int,
    event: NewEvent,
    price: Callable[[NewEvent], int | None] | None,
) -> WriteResult:
    """Store what a ``token_usage`` event of running totals adds (``Storage.write_running_totals``).

    ``BEGIN IMMEDIATE`` takes the database's write lock before the sums are
    read, so no other connection (another collector on the file) can add to
    them between the read and the write.
    """
    with transaction(connection):
        sums = connection.execute(_TOKEN_SUMS, (project_id, event.conversation_id)).fetchone()
        increase = running_increase(event, sums, price)
        if increase is None:
            return WriteResult(accepted=0, duplicates=0)
        return store_events(connection, project_id, [increase])
