"""The read side of the PostgreSQL storage: the same answers as SQLite's.

Text search matches SQLite's ``LIKE``: case-insensitive for ASCII letters
only (``lower`` under the "C" collation), with ``\\`` as the escape.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from ..._ingest._time import format_ts
from .._base import ConversationPage, ConversationQuery
from .._columns import COLUMNS as _COLUMNS
from .._columns import EQUAL_FILTERS as _EQUAL_FILTERS
from .._columns import SELECT as _SELECT
from .._columns import TOKEN_COLUMNS as _TOKEN_COLUMNS
from .._columns import cost_of, like_pattern, score_filter, scored_conversations, usd
from .._listing import (
    SENTIMENTS,
    SIZES,
    Keyed,
    annotate,
    annotation_statements,
    boundary,
    feedback_leads,
    keyset,
    labelled_scores,
    matches_statement,
    order_by,
    page_of,
    probe_bound,
    probed,
    probes,
    searchable,
    searched_conversations,
    sort_value,
    total_of,
    unfiltered,
    unmarked,
    walks_bounded,
    within,
)
from .._metrics_sql import POSTGRES
from ._search import has_search_index
from ._write import clean

__all__ = [
    "get_conversation",
    "list_conversations",
    "list_events",
    "live_key_hashes",
]


async def live_key_hashes(connection: Any) -> frozenset[str]:
    """The hashes of every live key."""
    rows = await connection.fetch("SELECT key_hash FROM api_keys WHERE revoked_at IS NULL")
    return frozenset(str(row[0]) for row in rows)


def _conversation(row: Any) -> dict[str, Any]:
    values = dict(zip(_COLUMNS, row, strict=True))
    del values["pk"]
    values["metadata"] = None if values["metadata"] is None else json.loads(values["metadata"])
    values["started_at"] = format_ts(values["started_at"])
    values["ended_at"] = format_ts(values["ended_at"])
    values["token_usage"] = {c: values.pop(c) for c in _TOKEN_COLUMNS}
    cost_of(values)
    return values


def _where(
    project_id: int, query: ConversationQuery, keyed: Keyed | None = None, walk: bool = False
) -> tuple[str, list[Any]]:
    """The conditions of the list's rows (alias ``c``), and their values.  *keyed*: the
    conversations one filter matches, read first, instead of that filter's term;
    *walk*: each row's scores are looked up in the list's order (a page; a total joins
    the scores)."""
    skip = None if keyed is None else keyed.field
    clauses: list[str] = ["c.project_id = $1"]
    params: list[Any] = [project_id]

    def add(template: str, value: Any) -> None:
        params.append(value)
        clauses.append(template.replace("?", f"${len(params)}"))

    for field in _EQUAL_FILTERS:
        value = getattr(query, field)
        if value is not None:
            add(f"c.{field} = ?", clean(value))
    if query.is_used is not None:
        add("c.is_used = ?", query.is_used)
    if query.is_marked is not None and skip != "is_marked":
        # A literal: the marked ones have a partial index, which a generic plan (of
        # no value in particular) could not use.
        clauses.append("c.is_marked" if query.is_marked else "NOT c.is_marked")
    if query.since is not None:
        add("c.started_at >= ?", query.since)
    if query.until is not None:
        add("c.started_at < ?", query.until)
    position = keyset(query)
    if position is not None:
        condition, values = position
        for value in values:
            params.append(value)
            condition = condition.replace("?", f"${len(params)}", 1)
        clauses.append(condition)
    if query.sentiment in SENTIMENTS and skip != "sentiment":
        clauses.append(f"c.feedback_{query.sentiment} > 0")  # the row's own count
    elif query.sentiment is not None and skip != "sentiment":
        add(
            "EXISTS (SELECT 1 FROM feedback f WHERE f.project_id = c.project_id"
            " AND f.conversation_id = c.conversation_id AND f.sentiment = ?)",
            clean(query.sentiment),
        )
    if query.q is not None:
        # Each row's messages tested in turn, never through the search index (``|| ''``
        # is not its expression): with it, the planner would read every match of a
        # common text to test a page's few rows (seconds).  The index is read where a
        # search asks for it (``searched_conversations``).
        add(
            "EXISTS (SELECT 1 FROM events e WHERE e.project_id = c.project_id"
            " AND e.conversation_id = c.conversation_id AND e.type = 'message'"
            " AND (lower(e.content COLLATE \"C\") || '') LIKE lower(? COLLATE \"C\") ESCAPE '\\')",
            like_pattern(clean(query.q) or ""),
        )
    exists = score_filter(query, label_key=True, walk=walk)
    if exists is not None and skip != "score":
        sql, values = exists
        for value in _cleaned(values):
            params.append(value)
            sql = sql.replace("?", f"${len(params)}", 1)
        clauses.append(sql)
    if keyed is not None:
        add("c.conversation_id = ANY(?)", keyed.ids)
    return " AND ".join(clauses), params


async def list_conversations(
    connection: Any, project_id: int, query: ConversationQuery
) -> ConversationPage:
    """One page in the query's order, one row more fetched to know if a page follows.

    Read in one snapshot: the rows, with ``query.annotate`` their feedback and
    escalations, with ``query.count`` the total of the first page.
    """
    async with connection.transaction(isolation="repeatable_read", readonly=True):
        counted = matches_statement(project_id, query, POSTGRES)
        matches = None
        if counted is not None:
            matches = total_of(await connection.fetch(counted[0], *counted[1]))
        searched = searchable(query.q, sqlite=False) and await has_search_index(connection)
        if probed(query) or searched:
            # A filter's matches range from none to every conversation: a plan made for
            # no value in particular (a statement asyncpg prepared runs one after five
            # runs) could read every score of a common category to sort its page.
            await connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        # A filter that matches few conversations (a mark, a sentiment, a score) is read
        # first: a walk of the order would test every row until it had a page.
        sizes = await connection.fetchrow(_numbered(SIZES), project_id) if probed(query) else None
        keyed = await _keyed(connection, project_id, query, sizes)
        where, params = _where(project_id, query, keyed, walk=True)
        few = matches is not None and matches <= query.limit
        sql = (
            f"SELECT {', '.join(_COLUMNS)}, {sort_value(query)} FROM conversations c"
            f" WHERE {where} {order_by(query, few=few or keyed is not None)}"
            f" LIMIT ${len(params) + 1}"
        )
        if matches == 0:
            rows = []
        elif keyed is None and walks_bounded(query, searched):
            rows = await _walked(connection, project_id, query, where, params, searched)
        else:
            rows = await connection.fetch(sql, *params, query.limit + 1)
        page = [_conversation(tuple(r)[:-1]) for r in rows[: query.limit]]
        total = None
        if query.annotate and page:
            found = []
            for statement, values in annotation_statements(
                project_id, [c["conversation_id"] for c in page], sqlite=False
            ):
                found.append(await connection.fetch(_numbered(statement), *values))
            spans = [(r["started_at"], r["ended_at"]) for r in rows[: query.limit]]
            annotate(page, spans, *found)
        if query.count and query.before is None:
            total = matches
            rest = unmarked(project_id, query, POSTGRES) if total is None else None
            if rest is not None:  # all of them from the rollups, less the marked ones
                (rolled, values), marked = rest
                where, params = _where(project_id, marked)
                sql = f"SELECT COUNT(*) FROM conversations c WHERE {where}"
                total = total_of(await connection.fetch(rolled, *values))
                total -= int(await connection.fetchval(sql, *params))
            if total is None:  # filters the rollups do not hold
                if keyed is None and query.score is not None:  # joined, not walked
                    where, params = _where(project_id, query)
                if keyed is None and searched and query.customer_id is None:
                    # The search's conversations read through the index, then each
                    # looked up by key: fewer reads than a test of every conversation's
                    # messages at every density measured (docs/performance.md).
                    without = attrs.evolve(query, q=None)
                    where, params = _searched(project_id, query.q, *_where(project_id, without))
                direct = f"SELECT COUNT(*) FROM conversations c WHERE {where}"
                if keyed is None and feedback_leads(query, sizes):
                    # Each conversation of the sentiment looked up by key (OFFSET 0 keeps
                    # the planner from one pass over every conversation instead).
                    params = [*params, query.sentiment]
                    direct = (
                        "SELECT COUNT(*) FROM (SELECT DISTINCT f.conversation_id FROM feedback f"
                        f" WHERE f.sentiment = ${len(params)} AND f.project_id = $1) f,"
                        " LATERAL (SELECT 1 FROM conversations c"
                        f" WHERE c.conversation_id = f.conversation_id AND {where} OFFSET 0) x"
                    )
                total = int(await connection.fetchval(direct, *params))
    return page_of(page, rows, query.limit, total)


async def _walked(
    connection: Any,
    project_id: int,
    query: ConversationQuery,
    where: str,
    params: list[Any],
    searched: bool,
) -> list[Any]:
    """The rows of a page whose filters (*where*) match many conversations: the order
    walked up to ``boundary``, then, when those rows hold no page, the filters' matches
    read by index and sorted (they lie further on, wherever that is).  *searched*: the
    text is one of those filters, read through the search index."""
    base, values = _where(project_id, unfiltered(query, searched))
    sql, offset = boundary(base, query)
    last = await connection.fetchrow(_numbered_after(sql, len(values)), *values, offset)
    select = f"SELECT {', '.join(_COLUMNS)}, {sort_value(query)} FROM conversations c"
    wanted = query.limit + 1
    if last is not None:
        bound, bound_values = within(query, tuple(last))
        sql = f"{select} WHERE {where} AND {bound} {order_by(query)} LIMIT ?"
        found = await connection.fetch(
            _numbered_after(sql, len(params)), *params, *bound_values, wanted
        )
        if len(found) == wanted:
            return list(found)
        where, params = _indexed(project_id, query, searched)
    sql = f"{select} WHERE {where} {order_by(query, few=last is not None)} LIMIT ?"
    return list(await connection.fetch(_numbered_after(sql, len(params)), *params, wanted))


def _indexed(project_id: int, query: ConversationQuery, searched: bool) -> tuple[str, list[Any]]:
    """The conditions of *query*'s rows with its sparse filters (with *searched*, its
    text too) as the sets of conversations their indexes name (each set read once, then
    every conversation looked up by key), and their values."""
    where, params = _where(project_id, unfiltered(query, searched))
    clauses = [where]

    def add(template: str, values: list[Any]) -> None:
        clauses.append(_numbered_after(template, len(params)))
        params.extend(values)

    if query.is_marked:
        clauses.append("c.is_marked")
    if query.sentiment is not None:
        add(
            "c.conversation_id = ANY(ARRAY(SELECT f.conversation_id FROM feedback f"
            " WHERE f.sentiment = ? AND f.project_id = ?))",
            [clean(query.sentiment), project_id],
        )
    if query.score is not None:
        scores, values = scored_conversations(project_id, query, label_key=True)
        add(f"c.conversation_id = ANY(ARRAY({scores}))", _cleaned(values))
    where = " AND ".join(clauses)
    return _searched(project_id, query.q, where, params) if searched else (where, params)


def _searched(
    project_id: int, text: str | None, where: str, params: list[Any]
) -> tuple[str, list[Any]]:
    """*where* (with *params*, of a query without its text) and the conversations whose
    messages the search index finds holding *text*."""
    sql, values = searched_conversations(project_id, clean(text) or "", sqlite=False)
    sql = _numbered_after(sql, len(params))
    return f"{where} AND c.conversation_id = ANY(ARRAY({sql}))", [*params, *values]


async def _keyed(
    connection: Any, project_id: int, query: ConversationQuery, sizes: Any
) -> Keyed | None:
    """The conversations of the first of the query's sparse filters that matches few
    (see ``probe_bound``), or ``None`` when none does; *sizes*: the row of ``SIZES``,
    read when ``probed``."""
    if sizes is None:
        return None
    bound = probe_bound(int(sizes[0] or 0))
    for field, (sql, values) in probes(project_id, query, bound, sqlite=False, sizes=sizes):
        if field == "score":
            labelled = labelled_scores(project_id, query)
            if labelled is not None:
                count, params = labelled
                total = await connection.fetchval(_numbered(count), *_cleaned(params))
                if int(total or 0) >= bound:
                    continue
        found = await connection.fetch(_numbered(sql), *_cleaned(values))
        if len(found) < bound:
            return Keyed(field, sorted({row[0] for row in found}))
    return None


def _cleaned(values: list[Any]) -> list[Any]:
    return [clean(value) if type(value) is str else value for value in values]


def _numbered_after(sql: str, numbered: int) -> str:
    """*sql* whose first *numbered* parameters are numbered already, the ``?`` after them
    numbered on."""
    pieces = sql.split("?")
    return pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], numbered + 1))


def _numbered(sql: str) -> str:
    pieces = sql.split("?")
    return pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], 1))


async def get_conversation(
    connection: Any, project_id: int, conversation_id: str
) -> dict[str, Any] | None:
    """A conversation with its feedback entries, oldest first."""
    key = (project_id, clean(conversation_id))
    row = await connection.fetchrow(
        f"{_SELECT} WHERE project_id = $1 AND conversation_id = $2", *key
    )
    if row is None:
        return None
    conversation = _conversation(row)
    feedback = await connection.fetch(
        "SELECT sentiment, comment, metadata, created_at FROM feedback"
        " WHERE project_id = $1 AND conversation_id = $2 ORDER BY id",
        *key,
    )
    conversation["feedback"] = [
        {
            "sentiment": sentiment,
            "comment": comment,
            "metadata": None if metadata is None else json.loads(metadata),
            "created_at": format_ts(created),
        }
        for sentiment, comment, metadata, created in feedback
    ]
    return conversation


async def list_events(
    connection: Any, project_id: int, conversation_id: str
) -> list[dict[str, Any]]:
    """The events of a conversation in (timestamp, seq) order."""
    rows = await connection.fetch(
        "SELECT id, type, conversation_id, seq, ts, payload, content, cost_nanos FROM events"
        ' WHERE project_id = $1 AND conversation_id = $2 ORDER BY ts, seq, id COLLATE "C"',
        project_id,
        clean(conversation_id),
    )
    events = []
    for event_id, kind, cid, seq, ts, payload, content, cost in rows:
        event = {"id": event_id, "type": kind, "conversation_id": cid, "seq": seq}
        event["timestamp"] = format_ts(ts)
        event.update(json.loads(payload))
        if kind == "message" and "content" not in event:
            event["content"] = content
        if kind == "token_usage":  # priced when stored (None: unpriced)
            event["cost_usd"] = usd(cost)
        events.append(event)
    return events
