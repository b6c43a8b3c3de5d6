"""What both storages share: the conversation columns, counting events and the attributes
a batch fills, LIKE patterns, the rows of keys and audit entries, the size of a deletion step."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ... import _wire as wire
from .._ingest._time import format_ts
from ._base import KeyInfo

if TYPE_CHECKING:
    from ._base import ConversationQuery, NewEvent

#: The conversation attributes of the wire schema kept as columns of their own.
ATTRIBUTE_COLUMNS = tuple(name for name in wire.CONVERSATION_FIELDS if name != "metadata")
TEXT_COLUMNS = ("conversation_id", *ATTRIBUTE_COLUMNS, "country")
COUNT_COLUMNS = (
    "event_count",
    "message_count",
    "end_user_message_count",
    "agent_message_count",
    "action_count",
)
TOKEN_COLUMNS = wire.TOKEN_FIELDS
#: A conversation's model calls priced (their sum in nano-dollars) and not priced.
COST_COLUMNS = ("cost_nanos", "priced_calls", "unpriced_calls")
#: What a batch adds to a conversation's row, in the order ``count_event`` keeps them.
COUNTERS = (*COUNT_COLUMNS, *TOKEN_COLUMNS, *COST_COLUMNS)
COLUMNS = (
    "pk",
    *TEXT_COLUMNS,
    "metadata",
    "is_used",
    "is_marked",
    "started_at",
    "ended_at",
    *COUNT_COLUMNS,
    *TOKEN_COLUMNS,
    *COST_COLUMNS,
)
SELECT = f"SELECT {', '.join(COLUMNS)} FROM conversations"
EQUAL_FILTERS = ("customer_id", "source", "device", "language", "environment", "country")


#: Kinds that do not date their conversation: a score is often given long after
#: the conversation (an evaluation job, a reviewer), and would stretch its
#: duration and last activity.  Feedback, the other afterthought, has its own table.
UNDATED_KINDS = frozenset({"score"})
_NOT_YET = 2**63 - 1


#: What a batch's start events fill first-write-wins, in this order (``first_attributes``).
FILLED = (*ATTRIBUTE_COLUMNS, "country", "is_used")


def start_events(events: Iterable[NewEvent]) -> list[NewEvent]:
    """The batch's ``conversation``/``interaction`` events, the earliest first: within one
    batch the earliest call is the first write."""
    starts = [e for e in events if e.type in ("conversation", "interaction")]
    starts.sort(key=lambda e: (e.timestamp, e.seq))
    return starts


def first_attributes(
    events: Iterable[NewEvent],
    key: Callable[[str], str] = str,
    text: Callable[[Any], Any] = lambda value: value,
) -> dict[str, list[Any]]:
    """Per ``key(conversation_id)``, each attribute's first value in the batch (``FILLED``'s
    order, each through *text*), then whether a start event is a ``conversation``."""
    found: dict[str, list[Any]] = {}
    for event in start_events(events):
        values = found.setdefault(key(event.conversation_id), [None] * len(FILLED))
        for index, field in enumerate(FILLED[:-2]):
            if values[index] is None:
                values[index] = text(event.payload.get(field))
        if values[-2] is None:
            values[-2] = text(event.country)
        values[-1] = bool(values[-1]) or event.type == "conversation"
    return found


def batch_totals(
    events: Iterable[NewEvent], key: Callable[[str], str] = str
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """What a batch adds to each conversation's row: ``[started, ended, *COUNTERS]``.

    Two dicts by ``key(conversation_id)``: conversations with an event that
    dates them, whose stored times the batch may widen, and conversations with
    only undated events (scores), whose stored times it must leave alone; their
    times serve only a row that does not exist yet.
    """
    totals: dict[str, list[int]] = {}
    undated: dict[str, list[int]] = {}
    for event in events:
        cid = key(event.conversation_id)
        entry = totals.get(cid)
        if entry is None:
            entry = totals[cid] = [_NOT_YET, -1, *[0] * len(COUNTERS)]
        count_event(entry, event)
        if event.type in UNDATED_KINDS:
            times = undated.setdefault(cid, [event.timestamp, event.timestamp])
            times[0] = min(times[0], event.timestamp)
            times[1] = max(times[1], event.timestamp)
    only_undated: dict[str, list[int]] = {}
    for cid, times in undated.items():
        entry = totals[cid]
        if entry[0] == _NOT_YET:
            entry[0:2] = times
            only_undated[cid] = totals.pop(cid)
    return totals, only_undated


def count_event(totals: list[int], event: NewEvent) -> None:
    """Add *event* to its conversation's [started, ended, counters...] list."""
    if event.type not in UNDATED_KINDS:
        totals[0] = min(totals[0], event.timestamp)
        totals[1] = max(totals[1], event.timestamp)
    totals[2] += 1
    if event.type == "message":
        totals[3] += 1
        totals[4 if event.payload["sender"] == "end_user" else 5] += 1
    elif event.type == "action":
        totals[6] += 1
    elif event.type == "token_usage":
        for offset, field in enumerate(TOKEN_COLUMNS):
            totals[7 + offset] += event.payload[field]
        if event.cost_nanos is None:
            totals[13] += 1
        else:
            totals[11] += event.cost_nanos
            totals[12] += 1


def running_increase(
    event: NewEvent,
    sums: Sequence[int | None] | None,
    price: Callable[[NewEvent], int | None] | None,
) -> NewEvent | None:
    """What a ``token_usage`` *event* of running totals adds to its conversation's token *sums*.

    A copy of it with each count's increase over the sum (never below 0),
    priced by *price*; ``None`` when it adds nothing to a stored conversation
    (*sums* ``None``: there is none yet, and the copy creates it).
    """
    known = (0,) * len(TOKEN_COLUMNS) if sums is None else sums
    added = {
        name: max(0, event.payload[name] - int(have or 0))
        for name, have in zip(TOKEN_COLUMNS, known, strict=True)
    }
    if sums is not None and not any(added.values()):
        return None
    increase: NewEvent = attrs.evolve(event, payload={**event.payload, **added}, cost_nanos=None)
    if price is not None:
        increase.cost_nanos = price(increase)
    return increase


#: The event columns of ``extra_columns``, in its order.
EXTRA_EVENT_COLUMNS = (
    "model",
    "provider",
    "cost_nanos",
    "score_name",
    "score_value",
    "score_label",
)


def extra_columns(event: NewEvent) -> tuple[Any, ...]:
    """Schema 6's columns of an event: model, provider, cost_nanos, score name, value, label."""
    payload = event.payload
    if event.type == "token_usage":
        return (payload.get("model"), payload.get("provider"), event.cost_nanos, None, None, None)
    if event.type == "score":
        value = payload["value"]
        if type(value) is bool:
            number, label = float(value), "true" if value else "false"
        elif type(value) is str:
            number, label = None, value
        else:
            number, label = float(value), None
        return (None, None, None, payload["name"], number, label)
    return NO_EXTRA


#: ``extra_columns`` of a message, an action...
NO_EXTRA: tuple[Any, ...] = (None,) * 6


def usd(nanos: int | None) -> float | None:
    """Nano-dollars as US dollars (to the nano-dollar)."""
    return None if nanos is None else round(int(nanos) / 1e9, 9)


def cost_of(values: dict[str, Any]) -> None:
    """Replace a conversation row's cost columns with its ``cost`` (in place).

    ``usd`` is ``None`` when the conversation's model calls were all unpriced:
    an unknown price is never shown as zero.
    """
    nanos, priced, unpriced = (int(values.pop(c) or 0) for c in COST_COLUMNS)
    values["cost"] = {
        "usd": None if unpriced and not priced else usd(nanos),
        "priced_calls": priced,
        "unpriced_calls": unpriced,
    }


def score_filter(
    query: ConversationQuery, *, label_key: bool = False, walk: bool = False
) -> tuple[str, list[Any]] | None:
    """The ``EXISTS`` clause (with ``?``) of the list's score filters, and its values;
    *label_key*: a category is also matched by its MD5 (PostgreSQL's index of categories,
    which cannot hold them whole); *walk*: the clause is checked row by row in the list's
    order (PostgreSQL does not turn an ``EXISTS`` with ``OFFSET`` into a join, which it
    would choose when it takes the MD5 and the category for two independent conditions,
    reading every match to sort them)."""
    if query.score is None:
        return None
    sql, values = _score_terms(query, label_key)
    return (
        "EXISTS (SELECT 1 FROM events e WHERE e.project_id = c.project_id"
        f" AND e.conversation_id = c.conversation_id{sql}{' OFFSET 0' if walk else ''})",
        values,
    )


def scored_conversations(
    project_id: int, query: ConversationQuery, *, label_key: bool = False
) -> tuple[str, list[Any]]:
    """The ``SELECT`` (with ``?``) of the conversation ids that the list's score filters
    match (once per matching score), and its values; *query* has a score filter
    (*label_key* as in :func:`score_filter`)."""
    sql, values = _score_terms(query, label_key)
    return (
        f"SELECT e.conversation_id FROM events e WHERE e.project_id = ?{sql}",
        [project_id, *values],
    )


def _score_terms(query: ConversationQuery, label_key: bool) -> tuple[str, list[Any]]:
    sql = " AND e.score_name = ?"
    values: list[Any] = [query.score]
    if label_key and query.score_value is not None:
        sql += " AND md5(e.score_label) = md5(?)"
        values.append(query.score_value)
    for column, operator, value in (
        ("score_value", ">=", query.score_min),
        ("score_value", "<=", query.score_max),
        ("score_label", "=", query.score_value),
    ):
        if value is not None:
            sql += f" AND e.{column} {operator} ?"
            values.append(value)
    return sql, values


def like_pattern(text: str) -> str:
    """*text* as a LIKE pattern matching it anywhere, its wildcards escaped (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


#: Conversations one retention or erasure step looks at, at most.
CONVERSATIONS_PER_STEP = 100


def _when(micros: int | None) -> str | None:
    return None if micros is None else format_ts(micros)


def key_info(row: Sequence[Any]) -> KeyInfo:
    """A ``KeyInfo`` from a row of ``_KEY_COLUMNS``."""
    key_id, name, redacted, created, revoked, scope, used = row
    return KeyInfo(
        int(key_id), name, redacted, format_ts(created), _when(revoked), scope, _when(used)
    )


def audit_row(row: Sequence[Any]) -> dict[str, Any]:
    """An audit entry as the API answers it."""
    entry_id, at, actor, action, project, target, details, address = row
    return {
        "id": int(entry_id),
        "at": format_ts(at),
        "actor": actor,
        "action": action,
        "project": project,
        "target": target,
        "details": None if details is None else json.loads(details),
        "address": address,
    }
