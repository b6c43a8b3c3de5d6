"""The read side of the SQLite storage; each function runs on a reader thread."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

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
from .._metrics_sql import SQLITE
from ._search import has_search_index

__all__ = [
    "get_conversation",
    "list_conversations",
    "list_events",
    "live_key_hashes",
]


def live_key_hashes(connection: sqlite3.Connection) -> frozenset[str]:
    """The hashes of every live key."""
    rows = connection.execute("SELECT key_hash FROM api_keys WHERE revoked_at IS NULL")
    return frozenset(str(row[0]) for row in rows)


_STARTED, _ENDED = _COLUMNS.index("started_at"), _COLUMNS.index("ended_at")


def _conversation(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    values = dict(zip(_COLUMNS, row, strict=True))
    del values["pk"]
    values["metadata"] = None if values["metadata"] is None else json.loads(values["metadata"])
    values["is_used"] = bool(values["is_used"])
    values["is_marked"] = bool(values["is_marked"])
    values["started_at"] = format_ts(values["started_at"])
    values["ended_at"] = format_ts(values["ended_at"])
    values["token_usage"] = {c: values.pop(c) for c in _TOKEN_COLUMNS}
    cost_of(values)
    return values


def _where(
    project_id: int,
    query: ConversationQuery,
    *,
    by_key: bool = False,
    keyed: Keyed | None = None,
    feedback: bool = False,
    searched: bool = False,
) -> tuple[str, list[Any]]:
    """The conditions of the list's rows (alias ``c``), and their values.  *keyed*: the
    conversations one filter matches, already read, instead of that filter's term;
    *by_key* (a total): the score filters as the set of conversations their index
    names (each then looked up by key) instead of a look-up per row, the mark as the
    literal its partial index needs, and with *feedback* (``feedback_leads``) the
    sentiment as the set of its feedback's conversations; with *searched* the text as
    the set of conversations the search index names."""
    skip = None if keyed is None else keyed.field
    by_key = by_key and query.customer_id is None  # a customer's few rows: by customer
    clauses: list[str] = ["c.project_id = ?"]
    params: list[Any] = [project_id]
    for field in _EQUAL_FILTERS:
        value = getattr(query, field)
        if value is not None:
            clauses.append(f"c.{field} = ?")
            params.append(value)
    if query.is_used is not None:
        clauses.append("c.is_used = ?")
        params.append(int(query.is_used))
    if query.is_marked is not None and skip != "is_marked":
        if by_key and query.is_marked:
            clauses.append("c.is_marked = 1")
        else:
            clauses.append("c.is_marked = ?")
            params.append(int(query.is_marked))
    if query.since is not None:
        clauses.append("c.started_at >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("c.started_at < ?")
        params.append(query.until)
    position = keyset(query)
    if position is not None:
        clauses.append(position[0])
        params += position[1]
    if query.sentiment is not None and skip != "sentiment":
        if by_key and feedback:
            clauses.append(
                "c.conversation_id IN (SELECT f.conversation_id FROM feedback f"
                " WHERE f.project_id = ? AND f.sentiment = ?)"
            )
            params += [project_id, query.sentiment]
        elif query.sentiment in SENTIMENTS:  # the row's own count: no look-up
            clauses.append(f"c.feedback_{query.sentiment} > 0")
        else:
            clauses.append(
                "EXISTS (SELECT 1 FROM feedback f WHERE f.project_id = c.project_id"
                " AND f.conversation_id = c.conversation_id AND f.sentiment = ?)"
            )
            params.append(query.sentiment)
    if query.q is not None and by_key and searched:
        text, values = searched_conversations(project_id, query.q, sqlite=True)
        clauses.append(f"c.conversation_id IN ({text})")
        params += values
    elif query.q is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM events e WHERE e.project_id = c.project_id"
            " AND e.conversation_id = c.conversation_id AND e.type = 'message'"
            " AND e.content LIKE ? ESCAPE '\\')"
        )
        params.append(like_pattern(query.q))
    exists = score_filter(query)
    if exists is not None and skip != "score":
        if by_key:
            scores, values = scored_conversations(project_id, query)
            clauses.append(f"c.conversation_id IN ({scores})")
            params += values
        else:
            clauses.append(exists[0])
            params += exists[1]
    if keyed is not None:
        clauses.append("c.conversation_id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(keyed.ids))
    return " AND ".join(clauses), params


def list_conversations(
    connection: sqlite3.Connection, project_id: int, query: ConversationQuery
) -> ConversationPage:
    """One page in the query's order, one row more fetched to know if a page follows.

    Read in one transaction: the rows, with ``query.annotate`` their feedback
    and escalations, with ``query.count`` the total of the first page.
    """
    connection.execute("BEGIN")
    try:
        counted = matches_statement(project_id, query, SQLITE)
        matches = None if counted is None else total_of(connection.execute(*counted).fetchall())
        # A filter that matches few conversations (a mark, a sentiment, a score) is read
        # first: a walk of the order would test every row until it had a page.
        searched = searchable(query.q, sqlite=True) and has_search_index(connection)
        sizes = connection.execute(SIZES, (project_id,)).fetchone() if probed(query) else None
        keyed = _keyed(connection, project_id, query, sizes)
        where, params = _where(project_id, query, keyed=keyed)
        few = matches is not None and matches <= query.limit
        if few and (query.since, query.until, query.customer_id) == (None, None, None):
            # One scan of the table rather than a project index and a look-up per row.
            where = where.replace("c.project_id = ?", "+c.project_id = ?", 1)
        elif matches and not few and _dense(connection, project_id, query, matches):
            # Many rows of the range match (a dashboard's last 30 days): walk the sort's
            # order and stop after a page, rather than sort every row of the range,
            # which SQLite, with no statistics, otherwise reads through the start index.
            where = where.replace("c.started_at >", "+c.started_at >").replace(
                "c.started_at <", "+c.started_at <"
            )
        sql = (
            f"SELECT {', '.join(_COLUMNS)}, {sort_value(query)} FROM conversations c"
            f" WHERE {where} {order_by(query, few=few or keyed is not None)} LIMIT ?"
        )
        share: float | None = 1.0  # of the rows a walk read, those that matched
        if matches == 0:
            rows: list[Any] = []
        elif keyed is None and walks_bounded(query, searched):
            rows, share = _walked(connection, project_id, query, where, params, searched)
        else:
            rows = connection.execute(sql, (*params, query.limit + 1)).fetchall()
        page = [_conversation(r[:-1]) for r in rows[: query.limit]]
        total = None
        if query.annotate and page:
            statements = annotation_statements(
                project_id, [c["conversation_id"] for c in page], sqlite=True
            )
            feedback, escalated = (connection.execute(*s).fetchall() for s in statements)
            annotate(
                page, [(r[_STARTED], r[_ENDED]) for r in rows[: query.limit]], feedback, escalated
            )
        if query.count and query.before is None:
            total = matches
            rest = unmarked(project_id, query, SQLITE) if total is None else None
            if rest is not None:  # all of them from the rollups, less the marked ones
                rolled, marked = rest
                where, params = _where(project_id, marked, by_key=True)
                sql = f"SELECT COUNT(*) FROM conversations c WHERE {where}"
                total = total_of(connection.execute(*rolled).fetchall())
                total -= int(connection.execute(sql, params).fetchone()[0])
            if total is None:  # filters the rollups do not hold
                if keyed is None:
                    # Counting every match: one look-up per matching score or feedback
                    # beats one per row.
                    leads = feedback_leads(query, sizes)
                    indexed = searched and (share is None or share <= _SEARCH_SHARE)
                    where, params = _where(
                        project_id, query, by_key=True, feedback=leads, searched=indexed
                    )
                direct = f"SELECT COUNT(*) FROM conversations c WHERE {where}"
                total = int(connection.execute(direct, params).fetchone()[0])
    finally:
        connection.execute("COMMIT")
    return page_of(page, rows, query.limit, total)


def _walked(
    connection: sqlite3.Connection,
    project_id: int,
    query: ConversationQuery,
    where: str,
    params: list[Any],
    searched: bool,
) -> tuple[list[Any], float | None]:
    """The rows of a page whose filters (*where*) match many conversations: the order
    walked up to ``boundary``, then, when those rows hold no page, the filters' matches
    read by index and sorted (they lie further on, wherever that is).  *searched*: the
    text is one of those filters, read through the search index.

    With them, the share of the walked rows that matched, when a first page of a search
    wants its total (``_SEARCH_SHARE``); ``None`` when the walk found no page."""
    base, values = _where(project_id, unfiltered(query, searched))
    sql, offset = boundary(base, query)
    last = connection.execute(sql, (*values, offset)).fetchone()
    select = f"SELECT {', '.join(_COLUMNS)}, {sort_value(query)} FROM conversations c"
    wanted = query.limit + 1
    if last is not None:
        bound, bound_values = within(query, last)
        sql = f"{select} WHERE {where} AND {bound} {order_by(query)} LIMIT ?"
        rows = connection.execute(sql, (*params, *bound_values, wanted)).fetchall()
        if len(rows) == wanted:
            share = 1.0
            if searched and query.count and query.before is None:
                # The rows up to the page's last, counted in the sort's index alone.
                end, end_values = within(query, (rows[-1][-1], rows[-1][_PK]))
                sql = f"SELECT COUNT(*) FROM conversations c WHERE {base} AND {end}"
                read = connection.execute(sql, (*values, *end_values)).fetchone()[0]
                share = wanted / max(int(read), 1)
            return rows, share
        where, params = _where(project_id, query, by_key=True, feedback=True, searched=searched)
    sql = f"{select} WHERE {where} {order_by(query, few=last is not None)} LIMIT ?"
    return connection.execute(sql, (*params, wanted)).fetchall(), None


def _dense(
    connection: sqlite3.Connection, project_id: int, query: ConversationQuery, matches: int
) -> bool:
    """Whether a ranged page's *matches* are a hundredth of the project or more (then a
    walk of the sort's order finds a page among the first hundred rows per row wanted)."""
    if (query.since, query.until) == (None, None) or query.customer_id is not None:
        return False
    if query.sort == "started":  # the start's index gives the range and the order at once
        return False
    everything = connection.execute(SIZES, (project_id,)).fetchone()[0]
    return matches * _DENSE >= int(everything or 0)


_DENSE = 100
_PK = _COLUMNS.index("pk")
#: A total of a searched text reads the search index when the page's walk found the
#: text in at most this share of its rows: a count through the index costs per matching
#: message, the walk's per conversation, so a text in most conversations is counted
#: sooner by testing each one (PostgreSQL's bitmap of the matches cost less at every
#: density measured: it always reads the index; docs/performance.md).
_SEARCH_SHARE = 0.25


def _keyed(
    connection: sqlite3.Connection,
    project_id: int,
    query: ConversationQuery,
    sizes: Any,
) -> Keyed | None:
    """The conversations of the first of the query's sparse filters that matches few
    (see ``probe_bound``), or ``None`` when none does; *sizes*: the row of ``SIZES``,
    read when ``probed``."""
    if sizes is None:
        return None
    bound = probe_bound(int(sizes[0] or 0))
    for field, (sql, values) in probes(project_id, query, bound, sqlite=True, sizes=sizes):
        if field == "score":
            labelled = labelled_scores(project_id, query)
            if (
                labelled is not None
                and int(connection.execute(*labelled).fetchone()[0] or 0) >= bound
            ):
                continue
        found = connection.execute(sql, values).fetchall()
        if len(found) < bound and not any("\x00" in row[0] for row in found):
            # (An id holding U+0000 json_each would not give back whole: it ends text there.)
            return Keyed(field, sorted({row[0] for row in found}))
    return None


def get_conversation(
    connection: sqlite3.Connection, project_id: int, conversation_id: str
) -> dict[str, Any] | None:
    """A conversation with its feedback entries, oldest first."""
    row = connection.execute(
        f"{_SELECT} WHERE project_id = ? AND conversation_id = ?", (project_id, conversation_id)
    ).fetchone()
    if row is None:
        return None
    conversation = _conversation(row)
    feedback = connection.execute(
        "SELECT sentiment, comment, metadata, created_at FROM feedback"
        " WHERE project_id = ? AND conversation_id = ? ORDER BY id",
        (project_id, conversation_id),
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


def list_events(
    connection: sqlite3.Connection, project_id: int, conversation_id: str
) -> list[dict[str, Any]]:
    """The events of a conversation in (timestamp, seq) order."""
    rows = connection.execute(
        "SELECT id, type, conversation_id, seq, ts, payload, content, cost_nanos FROM events"
        " WHERE project_id = ? AND conversation_id = ? ORDER BY ts, seq, id",
        (project_id, conversation_id),
    )
    events = []
    for event_id, kind, cid, seq, ts, payload, content, cost in rows:
        event = {"id": event_id, "type": kind, "conversation_id": cid, "seq": seq}
        event["timestamp"] = format_ts(ts)
        event.update(json.loads(payload))
        if kind == "message":
            event["content"] = content
        if kind == "token_usage":  # priced when stored (None: unpriced)
            event["cost_usd"] = usd(cost)
        events.append(event)
    return events
