"""The conversation list's order, keyset position and row annotations, for both storages.

The statements use ``?`` for parameters; PostgreSQL's reader numbers them.

Sorts (``GET /v1/conversations?sort=``): ``created`` (the default: by
creation, the primary key), ``started``, ``last_activity`` (the last event),
``duration`` (last event minus first) and ``messages``.  Ties are broken by
creation in the same direction, so a page boundary is one exact position,
``(value, pk)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs

from .._metrics import ESCALATION_ACTIONS, MetricsQuery
from ._base import ConversationPage, ConversationQuery
from ._columns import like_pattern, scored_conversations
from ._metrics_sql import Dialect, MetricsPlan, Rows, Statement

__all__ = [
    "SEARCH_INDEX",
    "SENTIMENTS",
    "SIZES",
    "SORTS",
    "Keyed",
    "annotate",
    "annotation_statements",
    "boundary",
    "feedback_leads",
    "keyset",
    "labelled_scores",
    "matches_statement",
    "order_by",
    "probe_bound",
    "probed",
    "probes",
    "rolled_total",
    "searchable",
    "searched_conversations",
    "sort_value",
    "total_of",
    "unfiltered",
    "unmarked",
    "walks_bounded",
    "within",
]

SORTS = {
    "created": "c.pk",
    "started": "c.started_at",
    "last_activity": "c.ended_at",
    "duration": "(c.ended_at - c.started_at)",
    "messages": "c.message_count",
}


#: What a total from the rollups honours: the filters ``MetricsPlan`` applies, and the
#: page's position and order, which a total ignores.  Any other field set (a filter
#: added later included) makes the total direct.
_ROLLED = frozenset(
    ("customer_id", "environment", "source", "device", "language", "country", "since", "until")
)
_PAGE = frozenset(("limit", "before", "after", "sort", "ascending", "annotate", "count"))
_ATTRIBUTES = ("environment", "source", "device", "language", "country")
_DEFAULTS = ConversationQuery()


def rolled_total(project_id: int, query: ConversationQuery, dialect: Dialect) -> Statement | None:
    """The statement of a first page's total from the conversation rollups (what
    ``GET /v1/metrics`` counts its conversations with), or ``None`` when it is
    counted directly.

    With attribute filters a direct count reads every conversation of the
    project; the rollups hold those counts per day and attribute combination,
    kept at every commit, so the total is as exact as a ``COUNT(*)`` of the
    same snapshot.  :func:`total_of` adds up its rows.
    """
    unrolled = (f.name for f in attrs.fields(ConversationQuery) if f.name not in _ROLLED | _PAGE)
    if any(getattr(query, name) != getattr(_DEFAULTS, name) for name in unrolled):
        return None
    plan = MetricsPlan(project_id, MetricsQuery(filters=query), dialect)
    return plan.totals(split=False) if plan.rolled else None


def unmarked(
    project_id: int, query: ConversationQuery, dialect: Dialect
) -> tuple[Statement, ConversationQuery] | None:
    """For the total of the unmarked conversations (``is_marked=false``) among filters the
    rollups hold: the rollups' statement of all those conversations, and the query of
    the marked ones to take away (read by their partial index, in the same snapshot).
    ``None`` for any other query."""
    if query.is_marked is not False:
        return None
    rolled = rolled_total(project_id, attrs.evolve(query, is_marked=None), dialect)
    if rolled is None:
        return None
    return rolled, attrs.evolve(query, is_marked=True)


def total_of(rows: Rows) -> int:
    """The total of :func:`rolled_total`'s rows (each starts with its conversations)."""
    return sum(int(row[0] or 0) for row in rows)  # a SUM of no rows is NULL


def sort_value(query: ConversationQuery) -> str:
    """The SQL of the sort's value of a row (alias ``c``)."""
    if query.customer_id is not None and query.sort in ("duration", "messages"):
        # A customer's few conversations: by conversations_by_customer, sorted (without
        # statistics SQLite would walk the whole project in the sort's index instead).
        return f"+{SORTS[query.sort]}"
    return SORTS[query.sort]


def order_by(query: ConversationQuery, *, few: bool = False) -> str:
    """``ORDER BY`` of the query's sort.

    *few*: the filters match at most a page of rows (the rollups said so).
    Walking an index in the sort's order would then read the whole project to
    find them; unary + keeps both databases from it, so they find the rows
    by the filters and sort those.
    """
    direction = "ASC" if query.ascending else "DESC"
    plus = "+" if few else ""
    if query.sort == "created":
        return f"ORDER BY {plus}c.pk {direction}"
    return f"ORDER BY {plus}{sort_value(query)} {direction}, c.pk {direction}"


def matches_statement(
    project_id: int, query: ConversationQuery, dialect: Dialect
) -> Statement | None:
    """:func:`rolled_total` (how many rows match, whatever the cursor) for a page with
    attribute filters or a range, so that an empty selection reads nothing and a few
    rows are not searched for in the sort's order, and for a first page's total;
    ``None`` otherwise or where the rollups do not answer."""
    ranged = (query.since, query.until) != (None, None)
    filtered = ranged or any(getattr(query, field) is not None for field in _ATTRIBUTES)
    if not filtered and not (query.count and query.before is None):
        return None
    return rolled_total(project_id, query, dialect)


def keyset(query: ConversationQuery) -> tuple[str, list[Any]] | None:
    """The condition of the rows after the cursor's position, or ``None`` without one."""
    if query.before is None:
        return None
    if query.after is None:  # a cursor of the created order
        return f"c.pk {'>' if query.ascending else '<'} ?", [query.before]
    return _position(query, ">" if query.ascending else "<", query.after, query.before)


def _position(
    query: ConversationQuery, operator: str, value: Any, pk: Any
) -> tuple[str, list[Any]]:
    """The condition of the rows whose ``(sort value, pk)`` compares to ``(value, pk)``
    by *operator* (``<``, ``<=``, ``>`` or ``>=``)."""
    if query.sort == "created":
        return f"c.pk {operator} ?", [pk]
    sort = sort_value(query)
    # The bound lets both databases seek the sort's index to the position; the row
    # comparison lets PostgreSQL seek within its ties too.
    return (
        f"{sort} {operator[0]}= ? AND ({sort}, c.pk) {operator} (?, ?)",
        [value, value, pk],
    )


def annotation_statements(
    project_id: int, conversation_ids: Sequence[str], *, sqlite: bool
) -> list[tuple[str, list[Any]]]:
    """Two statements over a page's conversations: (id, sentiment) of their feedback in
    the order given, and the ids of those with an escalation action (the defaults of
    ``ESCALATION_ACTIONS``)."""
    marks = ", ".join("?" for _ in conversation_ids)
    names = ", ".join("?" for _ in ESCALATION_ACTIONS)
    # SQLite finds a page's actions by conversation in events_by_type only when
    # the WHERE repeats its partial term, and when action_name is kept from
    # choosing events_actions (all actions of a name in the project): "+".
    action = "+e.action_name" if sqlite else "e.action_name"
    partial = " AND e.type <> 'message'" if sqlite else ""
    return [
        (
            "SELECT f.conversation_id, f.sentiment FROM feedback f WHERE f.project_id = ?"
            f" AND f.conversation_id IN ({marks}) ORDER BY f.id",
            [project_id, *conversation_ids],
        ),
        (
            "SELECT DISTINCT e.conversation_id FROM events e WHERE e.project_id = ?"
            f" AND e.type = 'action'{partial} AND e.conversation_id IN ({marks})"
            f" AND {action} IN ({names})",
            [project_id, *conversation_ids, *ESCALATION_ACTIONS],
        ),
    ]


def annotate(
    rows: list[dict[str, Any]], spans: Sequence[tuple[int, int]], feedback: Any, escalated: Any
) -> None:
    """Add ``duration_ms``, ``last_feedback`` and ``escalated`` to each row (in place)."""
    last = {str(cid): sentiment for cid, sentiment in feedback}
    marked = {str(row[0]) for row in escalated}
    for row, (started, ended) in zip(rows, spans, strict=True):
        row["duration_ms"] = round((ended - started) / 1000, 3)
        row["last_feedback"] = last.get(row["conversation_id"])
        row["escalated"] = row["conversation_id"] in marked


def page_of(
    page: list[dict[str, Any]], rows: Sequence[Sequence[Any]], limit: int, total: int | None
) -> ConversationPage:
    """The page, with the cursor of its last row when *rows* (fetched ``limit + 1``) go on."""
    last = rows[limit - 1] if len(rows) > limit else None
    return ConversationPage(
        page, None if last is None else last[0], None if last is None else last[-1], total
    )


#: The project's conversations and its feedback entries per sentiment (``SENTIMENTS``'
#: order), as the rollups count them.
SIZES = (
    "SELECT SUM(r.conversations), SUM(r.feedback_positive), SUM(r.feedback_neutral),"
    " SUM(r.feedback_negative) FROM rollup_quarters r WHERE r.project_id = ?"
)
#: The sentiments of feedback, each counted on its conversation's row
#: (``feedback_<sentiment>``, kept by triggers on feedback).
SENTIMENTS = ("positive", "neutral", "negative")
#: The most conversations a filter's probe reads (a page looks up fewer by key).
_FEW_MATCHES = 10_000


@attrs.frozen
class Keyed:
    """The conversations one filter of a list query matches, read first because they
    are few: the page and its total look them up by key instead of testing the filter
    on each row.  *field*: the filter (``score``, ``sentiment`` or ``is_marked``)."""

    field: str
    ids: list[str]


def probe_bound(conversations: int) -> int:
    """How many matches a filter's probe reads at most: the lesser of a hundredth of the
    project's *conversations* and ``_FEW_MATCHES``.  Fewer make the page look up the
    conversations they name (a walk of the order would test every row until a page is
    found); as many or more, and the page walks (it finds a page among the first
    hundred rows per row wanted)."""
    return min(conversations // 100, _FEW_MATCHES)


def probed(query: ConversationQuery) -> bool:
    """Whether a page of *query* reads a filter's matches first (:func:`probes`)."""
    sparse = query.is_marked or query.sentiment is not None or query.score is not None
    return bool(sparse) and query.customer_id is None


#: The search index of the messages' text (``agentsight search-index``): an FTS5 table
#: of trigrams on SQLite, a pg_trgm GIN index on PostgreSQL.  Optional: it costs the
#: write path more than all the rest of a message's row (docs/performance.md).
SEARCH_INDEX = "events_text"
#: Trigrams of a text the SQLite index is asked for, at most (each one narrows the
#: candidates; the ``LIKE`` after them decides).
_TRIGRAMS = 16
_WORD = re.compile("[A-Za-z0-9]{3}")


def searchable(text: str | None, *, sqlite: bool) -> bool:
    """Whether the search index can narrow a search for *text*: it holds three characters
    in a row the index keeps as a trigram: any three on SQLite (FTS5's trigram
    tokenizer), three ASCII letters or digits on PostgreSQL (pg_trgm makes trigrams of
    words, whose characters are letters and digits in every locale).  Shorter texts
    match most messages anyway; they walk."""
    if text is None or "\x00" in text:
        return False
    return len(text) >= 3 if sqlite else _WORD.search(text) is not None


def _search_terms(text: str) -> str:
    """SQLite's FTS5 query of the trigrams of *text*, all required: the messages that
    hold *text* (in any case: the index folds case) and some that do not, which the
    ``LIKE`` with it sorts out.  Single trigrams, not a phrase: the index keeps no
    positions (``detail=none``, half the size)."""
    grams = dict.fromkeys(text[i : i + 3] for i in range(len(text) - 2))
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in list(grams)[:_TRIGRAMS])


def searched_conversations(project_id: int, text: str, *, sqlite: bool) -> Statement:
    """The statement of the conversations whose messages hold *text*, read through the
    search index (each candidate message then tested with the ``LIKE`` of the walk)."""
    if sqlite:
        return (
            # CROSS JOIN: the index first (SQLite's planner would rather walk the
            # project's events and ask the index about each one).
            f"SELECT DISTINCT e.conversation_id FROM {SEARCH_INDEX} CROSS JOIN events e"
            f" ON e.rowid = {SEARCH_INDEX}.rowid WHERE {SEARCH_INDEX} MATCH ?"
            " AND e.project_id = ? AND e.type = 'message' AND e.content LIKE ? ESCAPE '\\'",
            [_search_terms(text), project_id, like_pattern(text)],
        )
    return (
        "SELECT DISTINCT e.conversation_id FROM events e WHERE e.project_id = ?"
        " AND e.type = 'message'"
        ' AND lower(e.content COLLATE "C") LIKE lower(? COLLATE "C") ESCAPE \'\\\'',
        [project_id, like_pattern(text)],
    )


def probes(
    project_id: int,
    query: ConversationQuery,
    bound: int,
    *,
    sqlite: bool,
    sizes: Sequence[Any] = (),
) -> list[tuple[str, Statement]]:
    """The statements of the conversation ids each of the query's sparse filters matches,
    read up to *bound*, the cheapest first: a mark (``conversations_marked``), a
    sentiment (``feedback_by_sentiment``), the score filters.  None with a customer
    filter: a customer's few conversations are walked.  The mark's term is a literal,
    which the partial index needs (a parameter would not show its value to SQLite's
    planner, nor to a generic plan of PostgreSQL's).

    *sizes*: the row of ``SIZES``; a sentiment whose entries reach *bound* is not
    probed (it has at most as many conversations as entries, but a probe of many
    would read the bound in vain)."""
    if not probed(query):
        return []
    found: list[tuple[str, Statement]] = []
    if query.is_marked:
        mark = "c.is_marked = 1" if sqlite else "c.is_marked"
        found.append(
            (
                "is_marked",
                (
                    f"SELECT c.conversation_id FROM conversations c WHERE c.project_id = ?"
                    f" AND {mark} LIMIT ?",
                    [project_id, bound],
                ),
            )
        )
    entries = dict(zip(SENTIMENTS, sizes[1:], strict=False))
    if query.sentiment is not None and int(entries.get(query.sentiment) or 0) < max(bound, 1):
        found.append(
            (
                "sentiment",
                (
                    "SELECT DISTINCT f.conversation_id FROM feedback f WHERE f.project_id = ?"
                    " AND f.sentiment = ? LIMIT ?",
                    [project_id, query.sentiment, bound],
                ),
            )
        )
    if query.score is not None:
        scores, values = scored_conversations(project_id, query, label_key=not sqlite)
        found.append(("score", (f"{scores} LIMIT ?", [*values, bound])))
    return found


#: A walk of the list's order for a filter of many matches reads at most this many
#: rows per row wanted; past them it reads the filter's matches by index instead.
_WALK_ROWS = 100


def walks_bounded(query: ConversationQuery, searched: bool = False) -> bool:
    """Whether a page of *query* whose probes found many matches walks a bounded stretch
    of its order first (:func:`boundary`): with a sparse filter (see ``probed``) or a
    text read through the search index (*searched*), and no text the index does not
    serve, whose test per row has no index to fall back on."""
    if query.customer_id is not None or (query.q is not None and not searched):
        return False
    return probed(query) or searched


def unfiltered(query: ConversationQuery, searched: bool = False) -> ConversationQuery:
    """*query* without the filters that :func:`probes` reads by index (with *searched*,
    the text too)."""
    return attrs.evolve(
        query,
        q=None if searched else query.q,
        score=None,
        score_min=None,
        score_max=None,
        score_value=None,
        sentiment=None,
        is_marked=None if query.is_marked else query.is_marked,
    )


def boundary(where: str, query: ConversationQuery) -> tuple[str, int]:
    """The statement (with ``?``, *where* of :func:`unfiltered`'s query, then an offset)
    of the sort's value and ``pk`` of the last row a bounded walk reads, and the offset
    to pass: no row when the walk reaches the end of the order first.

    A filter's matches may lie anywhere in the order (a score no longer sent is far
    back in the newest first): past the boundary the page reads them by index."""
    sql = (
        f"SELECT {sort_value(query)}, c.pk FROM conversations c WHERE {where}"
        f" {order_by(query)} LIMIT 1 OFFSET ?"
    )
    return sql, _WALK_ROWS * (query.limit + 1) - 1


def within(query: ConversationQuery, last: Sequence[Any]) -> tuple[str, list[Any]]:
    """The condition of the rows up to *last* (its sort value and ``pk``, from
    :func:`boundary`) in the query's order; both databases seek it in the sort's index,
    as they do the cursor's."""
    return _position(query, "<=" if query.ascending else ">=", last[0], last[1])


#: A total of a sentiment's conversations starts from its feedback (one look-up of the
#: conversation per entry) when the entries are at most this share of the project's
#: conversations; with more, one pass over the conversations' rows costs less.
_FEEDBACK_LEADS = 10


def feedback_leads(query: ConversationQuery, sizes: Sequence[Any] | None) -> bool:
    """Whether a total of *query* counts its sentiment's conversations from the feedback
    by sentiment (see ``_FEEDBACK_LEADS``); *sizes*: the row of ``SIZES``."""
    if sizes is None or query.sentiment not in SENTIMENTS or query.customer_id is not None:
        return False
    entries = int(sizes[1 + SENTIMENTS.index(query.sentiment)] or 0)
    return entries * _FEEDBACK_LEADS <= int(sizes[0] or 0)


def labelled_scores(project_id: int, query: ConversationQuery) -> Statement | None:
    """With a category filter, the statement of its scores in the stored conversations,
    from the rollups: when they reach the probe's bound, the page skips the score probe
    (the probe would read them all, and on PostgreSQL look each one's category up in the
    table).  Other score filters of the query only make the matches fewer."""
    if query.score_value is None:
        return None
    return (
        "SELECT SUM(r.scores) FROM rollup_score_values r"
        " WHERE r.project_id = ? AND r.score_name = ? AND r.score_label = ?",
        [project_id, query.score, query.score_value],
    )
