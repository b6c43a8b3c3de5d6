"""The SQL of ``GET /v1/metrics``, written once for SQLite and PostgreSQL.

Every figure is an aggregate computed by the database: counts and sums over
the ``conversations`` table (which keeps per-conversation counters), and over
the columns of ``events`` that the collector fills from the payload when it
stores an event (schema 3: ``sender``, ``response_wait``, ``action_name``,
``duration_ms``, ``is_error``, token counts; no JSON is parsed here).
Percentiles read the values in index order at their rank (``LIMIT 1 OFFSET
rank - 1``); where the histograms of the rollups answer, or under attribute
filters those of the selection, counted directly, the rank's bucket is found
in them and only that bucket's values are read (a ``ROW_NUMBER`` window
ranks them otherwise under filters); ``GROUP BY`` gives the buckets.
Python only shapes the few aggregated rows into the answer.  The statements
use only what both databases evaluate the same way (integer arithmetic,
``ROW_NUMBER``, ``LIMIT``/``OFFSET``), so both backends give the same
figures; the dialect differs in how parameters are written and in the few
casts that make a mean or a histogram bucket what each database's own
``AVG`` and text give.

Definitions (the API documents them too):

- percentiles are nearest-rank: the value at rank ``ceil(p * n / 100)`` of
  the ``n`` values in ascending order;
- a response time is, for each user message followed later in its
  conversation by an agent message, the time to the first such message
  (kept per user message as ``events.response_wait`` by the write path);
- a conversation's duration is from its first to its last event, averaged
  over conversations of more than one event;
- days and hours are local to the query's time zone (offsets inlined as a
  ``CASE`` over the transitions of the span, see ``utc_offsets``); weekday
  0 is Monday.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ..._wire import MAX_DURATION_MS
from .._ingest._time import now_micros
from .._metrics import MICROS_PER_DAY, MICROS_PER_HOUR, MetricsQuery, utc_offsets
from ._columns import COST_COLUMNS as COSTS
from ._columns import TOKEN_COLUMNS as TOKENS
from ._columns import usd
from ._rollups import (
    ATTRIBUTES,
    FIGURES,
    ROLLUP_SUMS,
    Buckets,
    EventRollups,
    bucket_range,
    bucket_sql,
    choose,
    conversation_sums,
)

__all__ = [
    "BREAKDOWNS",
    "COHORTS",
    "POSTGRES",
    "SCORE_VALUES",
    "SQLITE",
    "TOP_CUSTOMERS",
    "TOP_VALUES",
    "Dialect",
    "MetricsPlan",
    "Statement",
]

Statement = tuple[str, list[Any]]
Rows = Sequence[Sequence[Any]]
_EQUAL_FILTERS = ("customer_id", "environment", "source", "device", "language", "country")
BREAKDOWNS = ("country", "device", "source", "language", "environment")
#: Entries listed per breakdown (the rest add up to one "other" entry), button label and
#: rating value.
TOP_VALUES = 100
_FILL_DAYS = 1000  # days without activity are listed as zeros within spans up to this
#: Weekly cohorts listed, the most recent.
COHORTS = 26
_RANKED_TOOLS = 50  # tools whose p95 is read by rank, one subquery each; more: a window
#: Customers listed by cost.
TOP_CUSTOMERS = 10
# A customer's active weeks are read as bitmasks of _WEEK_BITS weeks each (bit 62 would
# reach the sign of a 64-bit integer), in up to _WEEK_WORDS columns: spans of up to
# about nine years.  A wider span has its cohorts counted by a statement of their own.
_WEEK_BITS = 62
_WEEK_WORDS = 8
#: Values listed per score name; the rest add up to one "other" entry.
SCORE_VALUES = 20
# Durations past what ingest takes (rows stored before it bounded them) count
# as absent: PostgreSQL's float sums raise at overflow, SQLite's turn infinite.
_TIMED = f"e.duration_ms <= {float(MAX_DURATION_MS):g}"  # rows stored before the bound
_DURATION = f"CASE WHEN {_TIMED} THEN e.duration_ms END"
# The first start, the last end and the project's first start, unknown (typed:
# PostgreSQL's UNION needs it).
_NO_SPAN = "CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)"
# SQLite: the share of a project's span above which a range with attribute filters is
# read by one scan of the conversations rather than by the start index and a table
# look-up per conversation, which costs about as much as 19 rows of a scan (measured:
# docs/performance.md, "Rollups per combination of attributes").
_SCAN_SHARE = 0.05
_NO_SPLIT = "CAST(NULL AS TEXT)"
# Starts sampled to find where to cut the customers pass in two: the median of the
# customers of this many conversations, spread evenly over the span (index seeks).
_SPLIT_SAMPLES = 63
# The mean of the union ``u`` of rollup rows and directly read rows (columns t: how many
# values, s: their sum), as AVG gives it: in doubles (SQLite divides integers whole).
_MEAN = "CASE WHEN SUM(t) > 0 THEN CAST(SUM(s) AS DOUBLE PRECISION) / SUM(t) END"


def _rolled_sum(prefix: str) -> str:
    """The sum of a rollup's values kept as ``<prefix>_whole`` (their whole parts, exact)
    and ``<prefix>_part`` (the rest): as doubles, so that no database's SUM overflows."""
    return f"SUM(CAST({prefix}_whole AS DOUBLE PRECISION)) + SUM({prefix}_part)"


@attrs.frozen
class Dialect:
    """How one database takes parameters and text."""

    numbered: bool  # $1, $2 ... instead of ?
    clean: Callable[[str], str] = lambda text: text
    # SQLite's events_by_type leaves out messages (schema 4); PostgreSQL's
    # holds every type (it kept schema 3's: measured, PostgreSQL gained nothing
    # on writes and its messages per hour read the wider events_messages).
    partial_by_type: bool = False
    # Bit *n* (an integer SQL expression, 0 to 61) as a 64-bit integer, and the OR of
    # such values over a group: SQLite has no BIT_OR, but the sum of distinct powers
    # of two is their OR.
    bit: Callable[[str], str] = lambda n: f"(1 << ({n}))"
    bit_or: Callable[[str], str] = lambda bits: f"SUM(DISTINCT {bits})"
    # Whether the customers pass is cut in two by customer (see MetricsPlan._customers):
    # SQLite runs a statement on one core, so the two connections take a half each.
    # PostgreSQL's request measured the same with halves as with the whole.
    split_customers: bool = False
    # Whether a filtered request's tools statement also counts each tool's conversations,
    # which spares the escalation pass when one escalation name is used: SQLite's one
    # pass costs less than two; PostgreSQL's COUNT(DISTINCT) sorts each tool's actions
    # and measured as long as the two statements, which its connections share.
    tool_conversations: bool = False
    # The key of a combination of attributes in the rollups per combination, from
    # rollup_days' combo (its JSON array): PostgreSQL keys them by its MD5, which keeps
    # their B-tree rows within the 2704 bytes a row may hold (schemas 20 and 21).
    combo_key: Callable[[str], str] = lambda combo: combo


SQLITE = Dialect(
    numbered=False, partial_by_type=True, split_customers=True, tool_conversations=True
)
POSTGRES = Dialect(
    numbered=True,
    clean=lambda text: text.replace("\x00", "\ufffd"),
    bit=lambda n: f"(CAST(1 AS BIGINT) << CAST({n} AS INTEGER))",
    bit_or=lambda bits: f"BIT_OR({bits})",
    combo_key=lambda combo: f"md5({combo})",
)


# Ingest bounds every time and number (see _validate), so the two guards
# below only matter for rows stored before it did: a figure that is not
# finite is answered as null (JSON has no Infinity), and a local day past
# year 9999 in the ISO 8601 expanded form.


def _finite(value: Any) -> float | None:
    number = None if value is None else float(value)
    return number if number is not None and math.isfinite(number) else None


def _ms(micros: Any) -> float | None:
    number = _finite(micros)
    return None if number is None else round(number / 1000, 3)


def _rounded(value: Any, digits: int = 3) -> float | None:
    number = _finite(value)
    return None if number is None else round(number, digits)


def _model_calls(
    rows: Rows,
) -> tuple[dict[int, list[int]], dict[tuple[Any, Any], list[int]]]:
    """Rows of (day, model, provider, 4 token sums, cost, priced, calls) summed per day (in
    order) and per (model, provider)."""
    by_day: dict[int, list[int]] = {}
    by_model: dict[tuple[Any, Any], list[int]] = {}

    def add(sums: list[int], values: list[int]) -> None:
        for index, value in enumerate(values):
            sums[index] += value

    for day, model, provider, *figures in sorted(rows, key=lambda r: int(r[0])):
        values = [int(v or 0) for v in figures]
        add(by_day.setdefault(int(day), [0] * len(values)), values)
        add(by_model.setdefault((model, provider), [0] * len(values)), values)
    return by_day, by_model


def cost_figures(nanos: Any, priced: int, unpriced: int) -> dict[str, Any]:
    """``usd`` (``None`` when nothing was priced but some calls were not), and the counts."""
    priced, unpriced = int(priced or 0), int(unpriced or 0)
    return {
        "usd": None if unpriced and not priced else usd(int(nanos or 0)),
        "priced_calls": priced,
        "unpriced_calls": unpriced,
    }


def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 6)


_EPOCH_DATE = dt.date(1970, 1, 1)
_400_YEARS = 146_097  # days: the Gregorian calendar repeats itself every 400 years


def _locate(buckets: Sequence[tuple[int, int]], rank: int) -> tuple[int, int]:
    """The bucket of (bucket, count) pairs, in order, that holds the value of *rank*
    (from 1), and the offset of that value in it."""
    before = 0
    for bucket, count in buckets:
        if before + count >= rank:
            return bucket, rank - before - 1
        before += count
    raise ValueError(f"rank {rank} past {before} values")


def _truncated(dividend: int, divisor: int) -> int:
    """*dividend* / *divisor* (positive) as SQL divides integers: toward zero."""
    quotient = abs(dividend) // divisor
    return quotient if dividend >= 0 else -quotient


def _week(local: int) -> int:
    """The week number the statements give a local time (microseconds)."""
    return _truncated(_truncated(local, MICROS_PER_DAY) + 3, 7)


def _date(day: int) -> str:
    try:
        return (_EPOCH_DATE + dt.timedelta(days=day)).isoformat()
    except OverflowError:
        earlier = _EPOCH_DATE + dt.timedelta(days=day - _400_YEARS)
        return f"+{earlier.year + 400}-{earlier.month:02d}-{earlier.day:02d}"


class MetricsPlan:
    """The statements of one metrics request, and the answer built from their rows.

    Use: run :meth:`totals` first; its row gives the time span that
    :meth:`statements` needs for local days and hours; run those, then the
    statements of :meth:`later`, which needs their rows, under their names;
    then :meth:`assemble` everything.
    """

    def __init__(self, project_id: int, query: MetricsQuery, dialect: Dialect) -> None:
        self._query = query
        self._dialect = dialect
        self._project_id = project_id
        clauses: list[str] = ["c.project_id = ?"]
        params: list[Any] = [project_id]
        filters = query.filters
        for field in _EQUAL_FILTERS:
            value = getattr(filters, field)
            if value is not None:
                clauses.append(f"c.{field} = ?")
                params.append(dialect.clean(value))
        # The project and the attribute filters, without the range: the ragged ends.
        self._attribute_where, self._attribute_params = " AND ".join(clauses), list(params)
        self._attributes = [
            (field, dialect.clean(getattr(filters, field)))
            for field in ATTRIBUTES
            if getattr(filters, field) is not None
        ]
        self._buckets: Buckets | None = None
        self._breakdown_buckets: Buckets | None = None
        if query.rollups:
            chosen = (
                filters.customer_id is not None,
                bool(self._attributes),
                filters.since,
                filters.until,
            )
            self._buckets = choose(*chosen)
            self._breakdown_buckets = choose(*chosen, days=True)
        for field, operator in (("since", ">="), ("until", "<")):
            value = getattr(filters, field)
            if value is not None:
                clauses.append(f"c.started_at {operator} ?")
                params.append(value)
        self._where, self._params = " AND ".join(clauses), params
        self._filtered = len(clauses) > 1
        self._offsets: list[tuple[int, int]] = [(0, 0)]
        self._timed: list[str] = []  # the tools of the ranked percentiles, by position
        self._escalated = 0  # escalated conversations, when no statement counts them
        self._tool_conversations = False  # whether the tools' rows end with conversations
        self._week_base = 0  # the week of bit 0 of the customers' week masks
        self._wide = False  # a range read by a scan (see _covers), once the totals tell

    @property
    def dialect(self) -> Dialect:
        """The database the statements are written for."""
        return self._dialect

    @property
    def rolled(self) -> bool:
        """Whether :meth:`totals` reads the rollups (``False``: the conversations)."""
        return self._buckets is not None

    @property
    def filtered(self) -> bool:
        """Whether a filter or a range selects some of the project's conversations."""
        return self._filtered

    @property
    def narrowed(self) -> bool:
        """Whether a customer filter selects few conversations (found by its index)."""
        return self._query.filters.customer_id is not None

    @property
    def scanned_where(self) -> tuple[str, list[Any]]:
        """:attr:`where` for a statement that reads columns no index holds (see
        :meth:`_scanned`)."""
        return self._scanned(), list(self._params)

    @property
    def where(self) -> tuple[str, list[Any]]:
        """The ``WHERE`` of the selected conversations (alias ``c``) and its parameters."""
        return self._where, list(self._params)

    def statement(self, sql: str, params: list[Any]) -> Statement:
        """*sql* written with ``?`` as this dialect takes it."""
        return self._statement(sql, params)

    def _statement(self, sql: str, params: list[Any]) -> Statement:
        if not self._dialect.numbered:
            return sql, params
        pieces = sql.split("?")
        numbered = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], 1))
        return numbered, params

    def _with(self) -> tuple[str, list[Any]]:
        """The ``WITH`` of the selected conversations, when filters select some."""
        if not self._filtered:
            return "", []
        sql = f"WITH sel AS (SELECT c.conversation_id FROM conversations c WHERE {self._scanned()})"
        return sql, list(self._params)

    def _events(
        self, kind: str, selection: str = "sel", *, marked: str | None = None
    ) -> tuple[str, list[Any]]:
        """``FROM ... WHERE`` of the selected conversations' events of one *kind*
        (*selection*: the conversations, aliased ``sel``; all of them when no filter
        selects some).  *marked*: a column set on exactly the rows wanted (an action's
        name, a user message's wait), named instead of the type so that the index
        of those rows per conversation (schema SQLite 11, PostgreSQL 10) serves."""
        where = f"e.project_id = ? AND e.type = '{kind}'"
        if marked is not None:
            where = f"e.project_id = ? AND e.{marked} IS NOT NULL"
        elif kind != "message" and self._dialect.partial_by_type:
            # Redundant, but SQLite uses the partial index events_by_type
            # (WHERE type <> 'message', schema 4) only when the query's WHERE
            # contains that term; it does not deduce it from type = 'action'.
            where += " AND e.type <> 'message'"
        if not self._filtered:
            return f"FROM events e WHERE {where}", [self._project_id]
        if self._dialect.partial_by_type:
            # SQLite: CROSS JOIN fixes the order, the selection outside: each selected
            # conversation's events by index.  Left to itself SQLite sometimes walked
            # every event of the type in the project, probing the selection for each.
            return (
                f"FROM {selection} CROSS JOIN events e"
                f" WHERE e.conversation_id = sel.conversation_id AND {where}",
                [self._project_id],
            )
        join = f"JOIN {selection} ON sel.conversation_id = e.conversation_id"
        return f"FROM events e {join} WHERE {where}", [self._project_id]

    def _local(self, column: str) -> str:
        """*column* (UTC microseconds) as local microseconds, integer SQL."""
        (_, first), *changes = self._offsets
        if not changes:
            return f"({column} + {first})"
        branches, offset = [], first
        for start, next_offset in changes:
            branches.append(f"WHEN {column} < {start} THEN {column} + {offset}")
            offset = next_offset
        return f"(CASE {' '.join(branches)} ELSE {column} + {offset} END)"

    def totals(self, *, split: bool = True) -> Statement:
        """Counters, engagement, duration, tokens and the span: rows for :meth:`combine`.

        Each row holds the sums of ``FIGURES`` then the first start, the last end,
        the project's first start (with attribute filters and a range, for
        :meth:`_scanned`) and where to cut the customers pass (see :meth:`_split`;
        *split* ``False``: never, for a caller that only counts): read from the
        conversations, or from the rollups' whole buckets, the ragged ends'
        conversations and the project's span (a span wider than the selection's
        only adds branches to the local time).
        """
        cut, cut_params = self._split() if split else (_NO_SPLIT, [])
        if self._buckets is None:
            sql = (
                f"SELECT {conversation_sums()}, MIN(c.started_at), MAX(c.ended_at),"
                f" CAST(NULL AS BIGINT), {cut} FROM conversations c WHERE {self._where}"
            )
            return self._statement(sql, [*cut_params, *self._params])
        parts, params = self._union(
            self._buckets,
            f"SELECT {ROLLUP_SUMS}, {_NO_SPAN}, {_NO_SPLIT}",
            f"SELECT {conversation_sums()}, {_NO_SPAN}, {_NO_SPLIT} FROM conversations c WHERE",
        )
        filters = self._query.filters
        since = filters.since
        first, first_params = "CAST(NULL AS BIGINT)", []
        if self._attributes and (since, filters.until) != (None, None):
            first = "(SELECT MIN(c.started_at) FROM conversations c WHERE c.project_id = ?)"
            first_params = [self._project_id]
        parts.append(
            f"SELECT {', '.join('0' for _ in FIGURES)},"
            " (SELECT MIN(c.started_at) FROM conversations c WHERE c.project_id = ?"
            + ("" if since is None else " AND c.started_at >= ?")
            + "), (SELECT MAX(c.ended_at) FROM conversations c WHERE c.project_id = ?),"
            f" {first}, {cut}"
        )
        params += [
            self._project_id,
            *([] if since is None else [since]),
            self._project_id,
            *first_params,
        ]
        return self._statement(" UNION ALL ".join(parts), [*params, *cut_params])

    def _split(self) -> tuple[str, list[Any]]:
        """SQL of a customer that cuts the customers pass in two halves of about as many
        conversations (``NULL``: no cut), and its parameters.

        Only where the dialect cuts it, and only without attribute or customer filters
        (these read the table, not the customer index).  The customer is the median of
        those of the conversations first started at :data:`_SPLIT_SAMPLES` times spread
        evenly over the selection's span, an index seek each: a cut anywhere gives the
        same figures, a cut near the median the two halves the same work.
        """
        filters = self._query.filters
        if not self._dialect.split_customers or self._attributes or self.narrowed:
            return _NO_SPLIT, []
        within, params = "c.project_id = ?", [self._project_id]
        for field, operator in (("since", ">="), ("until", "<")):
            value = getattr(filters, field)
            if value is not None:
                within += f" AND c.started_at {operator} ?"
                params.append(value)
        # MIN and MAX in statements of their own: each is then one seek of the index.
        bounds = (
            f"(SELECT MIN(c.started_at) FROM conversations c WHERE {within}) AS lo,"
            f" (SELECT MAX(c.started_at) FROM conversations c WHERE {within}) AS hi"
        )
        step = _SPLIT_SAMPLES + 1
        # Each sample looks at no more than `step` starts for one with a customer: without
        # the bound, a project with few customers or none walked the index to its end from
        # every sample (then too few are found: no cut).  The samples are materialised:
        # SQLite would otherwise run each twice, for the WHERE and the ORDER BY.
        sql = (
            f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
            f" WHERE i < {_SPLIT_SAMPLES}), x AS MATERIALIZED (SELECT"
            " (SELECT w.customer_id FROM (SELECT s.customer_id FROM conversations s"
            f" WHERE s.project_id = ? AND s.started_at >= b.lo + (b.hi - b.lo) * n.i / {step}"
            f" ORDER BY s.started_at LIMIT {step}) w"
            " WHERE w.customer_id IS NOT NULL LIMIT 1) AS k"
            f" FROM n, (SELECT {bounds}) b)"
            f" SELECT k FROM x WHERE k IS NOT NULL ORDER BY k LIMIT 1 OFFSET {_SPLIT_SAMPLES // 2})"
        )
        return sql, [self._project_id, *params, *params]

    @staticmethod
    def combine(rows: Rows) -> dict[str, Any]:
        """The rows of :meth:`totals` as one: ``FIGURES`` summed, ``start``, ``end``,
        ``first`` (the project's first start, where it was read) and ``split``."""
        sums = dict.fromkeys(FIGURES, 0)
        starts, ends, firsts, split = [], [], [], None
        count = len(FIGURES)
        for row in rows:
            for figure, value in zip(FIGURES, row[:count], strict=True):
                sums[figure] += int(value or 0)
            start, end, first, cut = row[count : count + 4]
            if start is not None:
                starts.append(int(start))
            if end is not None:
                ends.append(int(end))
            if first is not None:
                firsts.append(int(first))
            if cut is not None:
                split = str(cut)
        return {
            **sums,
            "start": min(starts, default=None),
            "end": max(ends, default=None),
            "first": min(firsts, default=None),
            "split": split,
        }

    def statements(self, totals: Mapping[str, Any]) -> dict[str, Statement]:
        """The other statements, given :meth:`combine` of the rows of :meth:`totals`."""
        start, end = totals["start"], totals["end"]
        self._wide = self._covers(totals.get("first"), end)
        if start is not None:
            # Scores do not date their conversation: one given later than the last
            # event (up to now) still needs its offset, so the span reaches now.
            end = max(int(end), now_micros() + MICROS_PER_DAY)
            self._offsets = utc_offsets(self._query.tz, int(start), end)
        # The longest first (benchmarks/metrics_profile.py): two connections share
        # them in this order (see the backends).
        found = self._customers(totals["start"], totals["end"], totals.get("split"))
        days = self._histogram_days()
        summary = self._query.summary
        if days is None and not self._histograms_read():
            found["response"] = self._response()
        else:
            if not summary:
                found["duration_buckets"] = self._duration_buckets(days)
            found["wait_buckets"] = self._wait_buckets(days)
        found.update(tools=self._tools(), buttons=self._buttons())  # the summary's too
        if not summary:
            found.update(
                hours=self._hours(start),
                days=self._days(start),
                tokens=self._tokens(start),
                breakdowns=self._breakdowns(),
                scores=self._scores(),
                score_values=self._score_values(),
                score_days=self._score_days(start),
            )
        if not self._query.rollups:
            # The feedback entries themselves, to compare with the conversations'
            # counts that the totals sum.
            found["feedback"] = self._feedback()
        return found

    def _response(self) -> Statement:
        """Count, mean, p50 and p95 of the waits (nearest rank; no rank without waits).

        ``t`` counts them once.  Without filters each rank is read in the order of
        the index on the waits, at its offset; with them, the selection's waits are
        gathered once and numbered in one sort (a request with attribute filters
        and rollups reads its own histogram instead: :meth:`_histograms_read`).
        """
        ranks = [f"({percent} * t.n + 99) / 100" for percent in (50, 95)]
        if not self._filtered:  # all waits of the project, in the order of their index
            waits = "FROM events e WHERE e.project_id = ? AND e.response_wait IS NOT NULL"
            read = [
                f"(SELECT e.response_wait {waits} ORDER BY e.response_wait LIMIT 1 OFFSET"
                f" (SELECT CASE WHEN t.n > 0 THEN {rank} - 1 ELSE 0 END FROM t))"
                for rank in ranks
            ]
            sql = (
                "WITH t AS MATERIALIZED (SELECT COUNT(*) AS n, AVG(e.response_wait) AS a"
                f" {waits}) SELECT t.n, t.a, {', '.join(read)} FROM t"
            )
            return self._statement(sql, [self._project_id] * (1 + len(read)))  # t, ranks
        head, params = self._with()
        events, more = self._events("message", marked="response_wait")  # end_user's only
        head = (
            f"{head}, w AS MATERIALIZED (SELECT e.response_wait {events}),"
            " t AS MATERIALIZED (SELECT COUNT(*) AS n, AVG(response_wait) AS a FROM w)"
        )
        picked = ", ".join(f"MAX(CASE WHEN r.rn = {rank} THEN r.v END)" for rank in ranks)
        sql = (
            f"{head} SELECT MAX(t.n), MAX(t.a), {picked} FROM t LEFT JOIN"
            " (SELECT response_wait AS v, ROW_NUMBER() OVER (ORDER BY response_wait) AS rn"
            f" FROM w) r ON r.rn IN ({', '.join(ranks)})"
        )
        return self._statement(sql, params + more)

    def _actions(self) -> tuple[str, str, list[Any]]:
        """(``WITH``, ``FROM ... WHERE``, parameters) of the selection's actions.

        Without filters, actions are the events with an ``action_name``: the
        partial index ``events_actions`` holds them by name and duration.
        """
        if not self._filtered:
            return (
                "",
                "FROM events e WHERE e.project_id = ? AND e.action_name IS NOT NULL",
                [self._project_id],
            )
        head, params = self._with()
        events, more = self._events("action", marked="action_name")
        return head, events, params + more

    def _tools(self) -> Statement:
        """Per tool: actions, errors, timed ones and their mean duration; from
        ``rollup_tools`` (or its kin per combination) where :meth:`_event_rollups`
        allows, directly otherwise."""
        level = self._event_rollups()
        if level is None:
            head, actions, params = self._actions()
            counted = ""
            if self._filtered and self._query.rollups and self._dialect.tool_conversations:
                # The selection's actions are read by conversation (an index that holds
                # it): their conversations per name cost little here, and spare
                # :meth:`_escalation` a second pass when one escalation name is used.
                # Not without rollups, whose answer is the reference.
                counted = ", COUNT(DISTINCT e.conversation_id)"
                self._tool_conversations = True
            sql = (
                f"{head} SELECT e.action_name, COUNT(*), SUM(e.is_error), COUNT({_DURATION}),"
                f" AVG({_DURATION}){counted} {actions} GROUP BY e.action_name"
            )
            return self._statement(sql, params)
        self._tool_conversations = True
        return self._event_union(
            level,
            "SELECT r.action_name AS n, SUM(r.actions) AS k, SUM(r.errors) AS x,"
            f" SUM(r.timed) AS t, {_rolled_sum('r.duration')} AS s, SUM(r.conversations) AS v",
            "tools",
            "actions",
            " GROUP BY r.action_name",
            "action",
            lambda actions: (
                f"SELECT e.action_name, COUNT(*), SUM(e.is_error), COUNT({_DURATION}),"
                f" SUM({_DURATION}), COUNT(DISTINCT e.conversation_id) {actions}"
                " GROUP BY e.action_name"
            ),
            marked="action_name",
            outer=f"SELECT n, SUM(k), SUM(x), SUM(t), {_MEAN}, SUM(v) FROM {{union}} GROUP BY n",
        )

    def later(self, rows: Mapping[str, Rows]) -> dict[str, Statement]:
        """The statements that need the rows of :meth:`statements`: ``response`` (from
        the histogram of the waits, when it was read), ``tool_percentiles`` (when a tool
        is timed) and ``escalation`` (when the escalation actions have a row)."""
        found: dict[str, Statement] = {}
        tools = rows["tools"]
        if "wait_buckets" in rows:
            found["response"] = self._ranked_waits(rows["wait_buckets"])
        if not self._query.summary:
            percentiles = self._ranked_durations(tools, rows.get("duration_buckets"))
            if percentiles is None:
                percentiles = self.tool_percentiles(tools)
            if percentiles is not None:
                found["tool_percentiles"] = percentiles
        escalation = self._escalation(tools)
        if escalation is not None:
            found["escalation"] = escalation
        return found

    def _histogram_days(self) -> Buckets | None:
        """The whole UTC days of conversation starts whose waits and durations the
        histograms count (``rollup_wait_days`` and ``rollup_duration_days``, or their
        kin per combination of attributes with attribute filters): a request that
        :meth:`_event_rollups` allows, whose range holds a whole day; ``None``: the
        percentiles are read directly (from the selection's own histograms where
        :meth:`_histograms_read`)."""
        if self._event_rollups() is None:
            return None
        filters = self._query.filters
        return choose(False, False, filters.since, filters.until, days=True)

    def _histograms_read(self) -> bool:
        """Whether the percentiles of a request that the day histograms do not answer come
        from the selection's own histograms, read directly: a request with attribute
        filters (and no customer filter, which selects few conversations, sorted at
        less cost).  Each rank is then read in its bucket alone, as from the rollups:
        counting the selection's waits per bucket costs less than numbering them all
        in one sort.  Not without rollups, whose answer is the reference."""
        return self._query.rollups and bool(self._attributes) and not self.narrowed

    def _histogram(
        self,
        days: Buckets | None,
        rolled: str,
        table: str,
        nonzero: str,
        group: str,
        kind: str,
        direct: Callable[[str], str],
        *,
        marked: str,
        outer: str,
        negated: str,
    ) -> Statement:
        """A day histogram over *days* (:meth:`_event_union` of its arguments), or, without
        *days*, *direct* over the selection's own events of *kind* (*marked*): its
        histogram read directly."""
        if days is None:
            head, params = self._with()
            events, more = self._events(kind, marked=marked)
            return self._statement(f"{head} {direct(events)}", params + more)
        return self._event_union(
            EventRollups(days, combos=bool(self._attributes)), rolled, table, nonzero,
            group, kind, direct, marked=marked, outer=outer, negated=negated,
        )  # fmt: skip

    def _wait_buckets(self, days: Buckets | None) -> Statement:
        """The selection's waits per histogram bucket: rows (bucket, waits, their sum);
        from the day histograms over *days*, or read directly (``None``)."""
        bucket = bucket_sql("e.response_wait", postgres=self._dialect.numbered)

        def direct(waits: str) -> str:
            return (
                f"SELECT {bucket} AS b, COUNT(*) AS k, SUM(e.response_wait) AS s {waits}"
                f" GROUP BY {bucket}"
            )

        return self._histogram(
            days,
            "SELECT r.bucket AS b, SUM(r.waits) AS k, SUM(r.wait_sum) AS s",
            "wait_days",
            "waits",
            " GROUP BY r.bucket",
            "message",
            direct,
            marked="response_wait",
            outer="SELECT b, SUM(k), SUM(s) FROM {union} GROUP BY b",
            negated="SELECT b, -k, -s",
        )

    def _duration_buckets(self, days: Buckets | None) -> Statement:
        """The selection's durations from 0 per tool and histogram bucket of their whole
        milliseconds: rows (tool, bucket, actions); from the day histograms over *days*,
        or read directly (``None``)."""
        postgres = self._dialect.numbered
        whole = "trunc(e.duration_ms)::bigint" if postgres else "CAST(e.duration_ms AS INTEGER)"
        bucket = bucket_sql(whole, postgres=postgres)

        def direct(actions: str) -> str:
            return (
                f"SELECT e.action_name AS n, {bucket} AS b, COUNT(*) AS k {actions}"
                f" AND e.duration_ms >= 0 AND {_TIMED} GROUP BY e.action_name, {bucket}"
            )

        return self._histogram(
            days,
            "SELECT r.action_name AS n, r.bucket AS b, SUM(r.actions) AS k",
            "duration_days",
            "actions",
            " GROUP BY r.action_name, r.bucket",
            "action",
            direct,
            marked="action_name",
            outer="SELECT n, b, SUM(k) FROM {union} GROUP BY n, b",
            negated="SELECT n, b, -k",
        )

    def _in_range(self) -> tuple[str, str, list[Any]]:
        """(join, ``AND`` terms, parameters) that keep an event ``e`` of the selected
        conversations, for a request whose histograms were read (a range and attribute
        filters at most, see :meth:`_histogram_days` and :meth:`_histograms_read`)."""
        filters = self._query.filters
        terms: list[str] = []
        params: list[Any] = []
        for name, attribute in self._attributes:
            terms.append(f" AND c.{name} = ?")
            params.append(attribute)
        for value, operator in ((filters.since, ">="), (filters.until, "<")):
            if value is not None:
                terms.append(f" AND c.started_at {operator} ?")
                params.append(value)
        if not terms:
            return "", "", []
        on = "c.project_id = e.project_id AND c.conversation_id = e.conversation_id"
        if self._dialect.partial_by_type:  # SQLite: CROSS JOIN keeps the events outside,
            return " CROSS JOIN conversations c", f" AND {on}{''.join(terms)}", params
        return f" JOIN conversations c ON {on}", "".join(terms), params  # in index order

    def _ranked_waits(self, buckets: Rows) -> Statement:
        """Count, mean, p50 and p95 of the waits from their histogram: each rank's value
        is read in its bucket alone, at its offset there (nearest rank, as
        :meth:`_response`); the mean as AVG computes it."""
        counted = sorted((int(b), int(k), int(s)) for b, k, s in buckets if int(k))
        n = sum(k for _, k, _ in counted)
        if not n:
            return self._statement("SELECT 0, NULL, NULL, NULL", [])
        join, terms, where = self._in_range()
        mean = "CAST(? AS NUMERIC) / CAST(? AS NUMERIC)"
        if self._dialect.partial_by_type:  # SQLite's AVG divides the sum as a double
            mean = "CAST(? AS REAL) / ?"
        parts, params = [], [n, sum(s for _, _, s in counted), n]
        for percent in (50, 95):
            bucket, offset = _locate([(b, k) for b, k, _ in counted], (percent * n + 99) // 100)
            low, high = bucket_range(bucket)
            parts.append(
                f"(SELECT e.response_wait FROM events e{join} WHERE e.project_id = ?"
                f" AND e.response_wait >= ? AND e.response_wait <= ?{terms}"
                f" ORDER BY e.response_wait LIMIT 1 OFFSET {offset})"
            )
            params += [self._project_id, low, high, *where]
        sql = f"SELECT CAST(? AS BIGINT), {mean}, {', '.join(parts)}"
        return self._statement(sql, params)

    def _ranked_durations(self, tools: Rows, buckets: Rows | None) -> Statement | None:
        """The p95 of each timed tool from the histogram of its durations, read in the
        bucket of its rank alone: rows (position, p95).  ``None`` when the histograms
        were not read, do not hold every timed duration (a negative one, stored
        before ingest bounded them), or the tools are more than one statement should
        read one by one: the percentiles are then read directly."""
        timed = [(str(row[0]), int(row[3])) for row in tools if row[3]]
        if buckets is None or not timed or len(timed) > _RANKED_TOOLS:
            return None
        per_tool: dict[str, list[tuple[int, int]]] = {}
        for name, bucket, count in buckets:
            if int(count):
                per_tool.setdefault(str(name), []).append((int(bucket), int(count)))
        if any(sum(k for _, k in per_tool.get(name, [])) != count for name, count in timed):
            return None
        join, terms, where = self._in_range()
        parts: list[str] = []
        params: list[Any] = []
        for position, (name, count) in enumerate(timed):
            bucket, offset = _locate(sorted(per_tool[name]), (95 * count + 99) // 100)
            low, high = bucket_range(bucket)
            parts.append(
                f"SELECT {position}, (SELECT e.duration_ms FROM events e{join}"
                " WHERE e.project_id = ? AND e.action_name = ? AND e.duration_ms >= ?"
                f" AND e.duration_ms < ? AND {_TIMED}{terms}"
                f" ORDER BY e.duration_ms LIMIT 1 OFFSET {offset})"
            )
            name = self._dialect.clean(name)
            params += [self._project_id, name, float(low), float(high + 1), *where]
        self._timed = [name for name, _ in timed]
        return self._statement(" UNION ALL ".join(parts), params)

    def tool_percentiles(self, tools: Rows) -> Statement | None:
        """The p95 duration of each tool of the rows of ``tools``.

        Without filters, each is read in index order at its rank (``LIMIT 1
        OFFSET rank - 1``): rows (position, p95).  With filters, or many
        tools, one window ranks them all: rows (name, p95); the ranks come
        from the timed counts of ``tools`` (same snapshot, same rows), so one
        sort numbers them, unless the tools are too many to list.  (A request
        whose durations' histogram was read ranks them there first:
        :meth:`_ranked_durations`.)
        """
        timed = [(str(row[0]), int(row[3])) for row in tools if row[3]]
        if not timed:
            return None
        head, actions, where = self._actions()
        durations = f"{actions} AND {_TIMED}"
        numbered = (
            "SELECT name, d FROM (SELECT e.action_name AS name, e.duration_ms AS d,"
            " ROW_NUMBER() OVER (PARTITION BY e.action_name ORDER BY e.duration_ms) AS rn"
        )
        if len(timed) > _RANKED_TOOLS:
            sql = (
                f"{head} {numbered}, COUNT(*) OVER (PARTITION BY e.action_name) AS nd"
                f" {durations}) r WHERE rn = (95 * nd + 99) / 100"
            )
            return self._statement(sql, where)
        if self._filtered:
            ranks = " ".join(f"WHEN ? THEN {(95 * count + 99) // 100}" for _, count in timed)
            sql = f"{head} {numbered} {durations}) r WHERE rn = CASE name {ranks} END"
            names = [self._dialect.clean(name) for name, _ in timed]
            return self._statement(sql, [*where, *names])
        parts: list[str] = []
        params: list[Any] = []
        for position, (name, count) in enumerate(timed):
            parts.append(
                f"SELECT {position}, (SELECT e.duration_ms {durations} AND e.action_name = ?"
                f" ORDER BY e.duration_ms LIMIT 1 OFFSET {(95 * count + 99) // 100 - 1})"
            )
            params += [*where, self._dialect.clean(name)]
        self._timed = [name for name, _ in timed]
        return self._statement(" UNION ALL ".join(parts), params)

    def _escalation(self, tools: Rows) -> Statement | None:
        """The statement that counts the conversations with an escalation action
        (across the names: one conversation may have several), given the rows of
        ``tools``; ``None`` when none is needed: no escalation action in the rows
        (0), or one, in rows that end with the conversations per name (that count)."""
        names = [self._dialect.clean(n) for n in self._query.escalation_actions]
        used = [row for row in tools if row[0] in names and row[1]]
        if not used:
            return None
        if len(used) == 1 and self._tool_conversations:
            self._escalated = int(used[0][5])
            return None
        head, actions, params = self._actions()
        sql = (
            f"{head} SELECT COUNT(DISTINCT e.conversation_id) {actions}"
            f" AND e.action_name IN ({', '.join('?' for _ in names)})"
        )
        return self._statement(sql, [*params, *names])

    def _hours(self, start: int | None) -> Statement:
        """Messages per local hour: from ``rollup_messages`` where :meth:`_event_buckets`
        allows, directly otherwise."""
        hour = f"h / {MICROS_PER_HOUR}"

        def direct(events: str) -> str:
            return f"SELECT {hour}, COUNT(*) FROM (SELECT {self._local('e.ts')} AS h {events}) x"

        level = self._event_buckets(start)
        if level is None:
            head, params = self._with()
            events, more = self._events("message")
            return self._statement(f"{head} {direct(events)} GROUP BY {hour}", params + more)
        local = f"{self._local(f'r.at * {level.at}')} / {MICROS_PER_HOUR}"
        return self._event_union(
            level,
            f"SELECT {local}, SUM(r.messages)",
            "messages",
            "messages",
            f" GROUP BY {local}",
            "message",
            lambda events: f"{direct(events)} GROUP BY {hour}",
        )

    def _event_buckets(self, start: int | None) -> EventRollups | None:
        """The event rollups that answer per local hour or day: :meth:`_event_rollups`,
        in a zone where each unit of their event times (a quarter hour, an hour) lies in
        one local hour (*start*: the first start, for the zone's offsets); ``None``
        when the events are read directly."""
        level = self._event_rollups()
        if level is None or start is None:
            return None
        return level if self._aligned(level.at, start) else None

    def _event_rollups(self) -> EventRollups | None:
        """The event rollups that answer a request, in any zone (figures without local
        times): per quarter hour of the start without attribute or customer filters,
        per combination of attributes and UTC day of the start with attribute filters;
        ``None`` when the events are read directly (a customer filter, a range near
        1970)."""
        buckets = self._buckets
        if buckets is None:
            return None
        if buckets.table == "rollup_quarters":
            return EventRollups(buckets)
        return EventRollups(buckets, combos=True, at=MICROS_PER_HOUR)

    def _quarters(self) -> Buckets | None:
        """The whole quarters of conversation starts whose events the event rollups
        answer, in any zone (figures without local times): a request without
        attribute or customer filters; ``None`` when its events are read directly."""
        buckets = self._buckets
        return buckets if buckets is not None and buckets.table == "rollup_quarters" else None

    def _event_union(
        self,
        level: EventRollups,
        rolled: str,
        table: str,
        nonzero: str,
        group: str,
        kind: str,
        direct: Callable[[str], str],
        *,
        marked: str | None = None,
        outer: str | None = None,
        negated: str | None = None,
    ) -> Statement:
        """*rolled* (``SELECT ...`` of the event rollup *table* of *level*, alias ``r``)
        over its whole buckets, ``UNION ALL`` *direct* (given ``FROM ... WHERE`` of the
        events of one *kind*, or *marked*, see :meth:`_events`) over the selected
        conversations of each ragged end.  *outer*: a ``SELECT ... FROM`` that takes
        the union as ``u`` (named as *rolled* names its columns) and sums the parts of
        each key.  *negated*: ``SELECT`` of *direct*'s columns (named as *rolled*'s)
        with its sums negated; given, a ragged end is read as its whole bucket less
        the rest (see :meth:`Buckets.complemented`) where the rest is the shorter."""
        buckets = level.buckets
        pieces = [(low, high, 1) for low, high in buckets.ragged()]
        if negated is not None:
            buckets, pieces = buckets.complemented()
        where, params = buckets.where([], nonzero)
        head = ""
        head_params: list[Any] = []
        source = f"rollup_{table} r WHERE r.project_id = ? AND"
        if level.combos:
            # The combinations the filters select, from the conversations' own day
            # rollup (a row per day and combination); then each one's rows by key.
            chosen, head_params = buckets.where(self._attributes)
            head = (
                f"WITH combos AS (SELECT DISTINCT {self._dialect.combo_key('r.combo')} AS combo"
                f" FROM rollup_days r WHERE r.project_id = ? AND {chosen})"
            )
            head_params = [self._project_id, *head_params]
            join = "CROSS JOIN" if self._dialect.partial_by_type else "JOIN"
            source = (
                f"combos k {join} rollup_combo_{table} r"
                " ON r.project_id = ? AND r.combo = k.combo WHERE"
            )
        parts = [f"{rolled} FROM {source} {where}{group}"]
        params = [self._project_id, *params]
        for low, high, sign in pieces:
            chosen = (
                f"(SELECT c.conversation_id FROM conversations c WHERE {self._attribute_where}"
                " AND c.started_at >= ? AND c.started_at < ?)"
            )
            events, more = self._events(kind, f"{chosen} sel", marked=marked)
            part = direct(events)
            parts.append(part if sign > 0 else f"{negated} FROM ({part}) d")
            params += [*self._attribute_params, low, high, *more]
        union = " UNION ALL ".join(parts)
        if outer is not None:
            union = outer.replace("{union}", f"({union}) u")
        return self._statement(f"{head} {union}".lstrip(), [*head_params, *params])

    def _days(self, start: int | None) -> Statement:
        """Conversations per local day: from the rollups where whole buckets fall on one
        local day each (quarter hours: offsets in whole quarter hours; days: a zone at
        UTC), directly otherwise."""
        day = f"{self._local('c.started_at')} / {MICROS_PER_DAY}"
        direct = f"SELECT {day}, COUNT(*) FROM conversations c WHERE"
        buckets = self._buckets
        if buckets is None or start is None or not self._aligned(buckets.size, start):
            # With attribute filters (which no index holds) one scan, as the customers'
            # pass reads them, rather than a table look-up per conversation of the
            # project; without them the start index alone answers.
            where = self._scanned() if self._attributes else self._where
            return self._statement(f"{direct} {where} GROUP BY {day}", list(self._params))
        local = f"{self._local(f'r.{buckets.column} * {buckets.size}')} / {MICROS_PER_DAY}"
        parts, params = self._union(
            buckets,
            f"SELECT {local}, SUM(r.conversations)",
            direct,
            (f" GROUP BY {local}", f" GROUP BY {day}"),
        )
        return self._statement(" UNION ALL ".join(parts), params)

    def _aligned(self, size: int, start: int) -> bool:
        """Whether each bucket of *size* lies in one local day (a quarter hour: in one
        local hour) of the query's zone: its offsets, and the times they change, are
        whole buckets."""
        if start < MICROS_PER_DAY:  # local times near 1970 could be negative
            return False
        return all(offset % size == 0 and since % size == 0 for since, offset in self._offsets)

    def _model_calls(self) -> tuple[str, str, list[Any]]:
        """(``WITH``, ``FROM ... WHERE``, parameters) of the selection's model calls."""
        if self._filtered:
            head, params = self._with()
            calls, more = self._events("token_usage")
            return head, calls, params + more
        # The partial index events_models holds them with their time, model and cost
        # (its condition, total_tokens IS NOT NULL, names a column it holds: SQLite
        # reads such an index alone, without the table).
        return (
            "",
            "FROM events e WHERE e.project_id = ? AND e.total_tokens IS NOT NULL",
            [self._project_id],
        )

    def _tokens(self, start: int | None) -> Statement:
        """Token counts and cost per local day and model (one pass gives both series):
        from ``rollup_models`` where :meth:`_event_buckets` allows, directly otherwise."""
        columns = ", ".join(f"e.{t} AS {t}" for t in (*TOKENS, "cost_nanos", "model", "provider"))
        sums = ", ".join(f"SUM({t})" for t in TOKENS)

        def direct(tokens: str) -> str:
            return (
                f"SELECT d, model, provider, {sums}, SUM(cost_nanos), COUNT(cost_nanos),"
                f" COUNT(*) FROM (SELECT {self._local('e.ts')} / {MICROS_PER_DAY} AS d,"
                f" {columns} {tokens}) x GROUP BY d, model, provider"
            )

        level = self._event_buckets(start)
        if level is None:
            head, tokens, params = self._model_calls()
            return self._statement(f"{head} {direct(tokens)}", params)
        day = f"{self._local(f'r.at * {level.at}')} / {MICROS_PER_DAY}"
        rolled = ", ".join(f"SUM(r.{t})" for t in (*TOKENS, "cost_nanos", "priced_calls", "calls"))
        return self._event_union(
            level,
            f"SELECT {day}, r.model, r.provider, {rolled}",
            "models",
            "calls",
            f" GROUP BY {day}, r.model, r.provider",
            "token_usage",
            direct,
        )

    def _scanned(self, *, always: bool = False) -> str:
        """The ``WHERE`` of the selection for a statement that reads columns no index
        holds: on SQLite, when no range or customer narrows the selection (or
        *always*, or a range that covers much of the project's span: :meth:`_covers`),
        unary + keeps it off the project's indexes, which it would walk with a table
        look-up per conversation (one scan of the table is faster); with one, the
        index on the start or the customer finds the few rows."""
        filters = self._query.filters
        narrowed = (filters.since, filters.until, filters.customer_id) != (None, None, None)
        if (narrowed and not always and not self._wide) or not self._dialect.partial_by_type:
            return self._where
        return self._where.replace("c.project_id = ?", "+c.project_id = ?", 1)

    def _covers(self, first: int | None, end: int | None) -> bool:
        """Whether the range of a request with attribute filters (and no customer) holds
        more than :data:`_SCAN_SHARE` of the project's span from its *first* start to
        its last *end*, as :meth:`_scanned` reads it on SQLite (whose planner has no
        statistics to tell); PostgreSQL's planner decides for itself."""
        filters = self._query.filters
        if first is None or end is None or end <= first or filters.customer_id is not None:
            return False
        low = first if filters.since is None else max(filters.since, first)
        high = end if filters.until is None else min(filters.until, end)
        return (high - low) > _SCAN_SHARE * (end - first)

    def _score_events(self) -> tuple[str, str, list[Any]]:
        """(``WITH``, ``FROM ... WHERE``, parameters) of the selection's scores."""
        if self._filtered:
            head, params = self._with()
            scores, more = self._events("score")
            return head, scores, params + more
        # The partial index events_scores holds them by name with value and time.
        return (
            "",
            "FROM events e WHERE e.project_id = ? AND e.score_name IS NOT NULL",
            [self._project_id],
        )

    def _scores(self) -> Statement:
        """Per score name: scores, numeric ones and their mean; from ``rollup_scores``
        (or its kin per combination) where :meth:`_event_rollups` allows, directly
        otherwise."""
        level = self._event_rollups()
        if level is None:
            head, scores, params = self._score_events()
            sql = (
                f"{head} SELECT e.score_name, COUNT(*), COUNT(e.score_value),"
                f" AVG(e.score_value) {scores} GROUP BY e.score_name"
            )
            return self._statement(sql, params)
        return self._event_union(
            level,
            "SELECT r.score_name AS n, SUM(r.scores) AS k, SUM(r.valued) AS t,"
            f" {_rolled_sum('r.value')} AS s",
            "scores",
            "scores",
            " GROUP BY r.score_name",
            "score",
            lambda scores: (
                "SELECT e.score_name, COUNT(*), COUNT(e.score_value), SUM(e.score_value)"
                f" {scores} GROUP BY e.score_name"
            ),
            outer=f"SELECT n, SUM(k), SUM(t), {_MEAN} FROM {{union}} GROUP BY n",
        )

    def _score_values(self) -> Statement:
        """Scores per name and value; from ``rollup_score_values`` (or its kin per
        combination) where :meth:`_event_rollups` allows (grouped again by value: its
        key tells apart what equality would not, -0.0 from 0.0), directly otherwise."""
        level = self._event_rollups()
        direct = (
            "SELECT e.score_name, e.score_value, e.score_label, COUNT(*) {scores}"
            " GROUP BY e.score_name, e.score_value, e.score_label"
        )
        if level is None:
            head, scores, params = self._score_events()
            return self._statement(f"{head} {direct.format(scores=scores)}", params)
        return self._event_union(
            level,
            "SELECT r.score_name AS n, r.score_value AS v, r.score_label AS l, SUM(r.scores) AS k",
            "score_values",
            "scores",
            " GROUP BY r.score_name, r.score_value, r.score_label",
            "score",
            lambda scores: direct.format(scores=scores),
            outer="SELECT n, v, l, SUM(k) FROM {union} GROUP BY n, v, l",
        )

    def _score_days(self, start: int | None) -> Statement:
        """Per score name and local day of the score: scores and their mean; from
        ``rollup_scores`` where :meth:`_event_buckets` allows, directly otherwise."""
        level = self._event_buckets(start)
        if level is None:
            head, scores, params = self._score_events()
            sql = (
                f"{head} SELECT n, d, COUNT(*), AVG(v) FROM (SELECT e.score_name AS n,"
                f" {self._local('e.ts')} / {MICROS_PER_DAY} AS d, e.score_value AS v {scores}) x"
                " GROUP BY n, d"
            )
            return self._statement(sql, params)
        day = f"{self._local(f'r.at * {level.at}')} / {MICROS_PER_DAY}"
        return self._event_union(
            level,
            f"SELECT r.score_name AS n, {day} AS d, SUM(r.scores) AS k, SUM(r.valued) AS t,"
            f" {_rolled_sum('r.value')} AS s",
            "scores",
            "scores",
            f" GROUP BY r.score_name, {day}",
            "score",
            lambda scores: (
                f"SELECT n, d, COUNT(*), COUNT(v), SUM(v) FROM (SELECT e.score_name AS n,"
                f" {self._local('e.ts')} / {MICROS_PER_DAY} AS d, e.score_value AS v {scores})"
                " x GROUP BY n, d"
            ),
            outer=f"SELECT n, d, SUM(k), {_MEAN} FROM {{union}} GROUP BY n, d",
        )

    def _feedback(self) -> Statement:
        """Feedback entries per sentiment, and the conversations with any, from the entries
        themselves (only without rollups: elsewhere the totals sum the conversations'
        counts): each entry looks up its conversation (by key) and keeps it when the
        filters select it.
        Entries are fewer than conversations, so they lead (on SQLite, CROSS JOIN
        fixes that order)."""
        join = "CROSS JOIN" if self._dialect.partial_by_type else "JOIN"
        sql = (
            f"WITH f AS MATERIALIZED (SELECT f.sentiment, f.conversation_id FROM feedback f"
            f" {join} conversations c ON c.project_id = f.project_id"
            f" AND c.conversation_id = f.conversation_id WHERE f.project_id = ? AND {self._where})"
            " SELECT sentiment, COUNT(*) FROM f GROUP BY sentiment"
            " UNION ALL SELECT NULL, COUNT(DISTINCT conversation_id) FROM f"
        )
        return self._statement(sql, [self._project_id, *self._params])

    def _buttons(self) -> Statement:
        """Button presses by identical payload (the few distinct ones are parsed in Python,
        which adds up a payload's rows): from ``rollup_buttons`` (or its kin per
        combination) where :meth:`_event_rollups` allows, directly otherwise."""
        level = self._event_rollups()
        if level is None:
            head, params = self._with()
            events, more = self._events("button")
            sql = f"{head} SELECT e.payload, COUNT(*) {events} GROUP BY e.payload"
            return self._statement(sql, params + more)
        return self._event_union(
            level,
            "SELECT r.payload, SUM(r.presses)",
            "buttons",
            "presses",
            " GROUP BY r.payload",
            "button",
            lambda events: f"SELECT e.payload, COUNT(*) {events} GROUP BY e.payload",
        )

    def _customers(
        self, start: int | None, end: int | None, split: str | None = None
    ) -> dict[str, Statement]:
        """Unique users, returning customers, weekly cohorts and the top customers by
        cost, from one pass that groups the selection by customer; with a *split*
        customer (see :meth:`_split`), two: ``customers`` of the customers before it,
        ``customers_from`` of the rest (:meth:`_customer_rows` joins them).

        ``customers``: rows ``(kind, customer, a, b, c, d, e, week masks...)``:
        kind 0 ``(customers, returning)``; kind 1 per first week and set of active
        weeks ``(first week, customers)`` with the set as bitmasks, bit *n* of
        column *j* standing for week ``base + 62 j + n`` (:attr:`_week_base`); kind
        2 the top customers by cost ``(cost, priced calls, unpriced calls,
        conversations, rank)``, over their conversations with a priced call.  A span
        too wide for the masks adds ``cohorts``, rows ``(first week, weeks after it,
        customers)``.

        A customer returns when its first and last local days differ (more than
        one distinct day): the local days of its first and last starts, unless a
        change of offset in the span turns a local day back (then MIN and MAX of
        every conversation's day; :meth:`_days_keep_order`).  Weeks start on Monday:
        day 0 (1970-01-01) was a Thursday, so week ``(day + 3) / 7`` begins on
        day ``7 * week - 3``.  Without attribute filters the pass reads
        ``conversations_by_customer`` alone, in its order (it holds the start and
        the cost columns); with them, the table once.
        """
        dialect = self._dialect
        day = f"{self._local('c.started_at')} / {MICROS_PER_DAY}"
        week = f"(({day} + 3) / 7)"
        brief = self._query.summary  # customers and returning ones only
        words = 0 if brief else self._week_words(start, end)
        base = self._week_base
        masks = []
        for word in range(words):
            low = base + word * _WEEK_BITS
            bit = dialect.bit(f"{week} - {low}")
            if words > 1:
                high = low + _WEEK_BITS - 1
                bit = f"CASE WHEN {week} BETWEEN {low} AND {high} THEN {bit} ELSE 0 END"
            masks.append(f"{dialect.bit_or(bit)} AS m{word}")
        first, last, first_week = f"MIN({day})", f"MAX({day})", f"MIN({week})"
        if self._days_keep_order():
            # The first and last local days are those of the first and last starts:
            # the local time of two values per customer, not of every conversation.
            first = f"{self._local('MIN(c.started_at)')} / {MICROS_PER_DAY}"
            last = f"{self._local('MAX(c.started_at)')} / {MICROS_PER_DAY}"
            first_week = f"(({first} + 3) / 7)"
        priced = "c.priced_calls > 0"
        where = self._scanned() if self._attributes else self._where
        names = "".join(f", m{word}" for word in range(words))
        zeros = ", 0" * words
        columns = [f"c.customer_id AS k, {first} AS df, {last} AS dl"]
        if not brief:
            columns += [
                f"{first_week} AS fw",
                f"SUM(CASE WHEN {priced} THEN c.cost_nanos ELSE 0 END) AS cn",
                f"SUM(CASE WHEN {priced} THEN c.priced_calls ELSE 0 END) AS cp",
                f"SUM(CASE WHEN {priced} THEN c.unpriced_calls ELSE 0 END) AS cu",
                f"SUM(CASE WHEN {priced} THEN 1 ELSE 0 END) AS cc",
                *masks,
            ]
        pass_sql = (
            f"WITH pc AS MATERIALIZED (SELECT {', '.join(columns)}"
            f" FROM conversations c WHERE {where} AND c.customer_id IS NOT NULL{{cut}}"
            " GROUP BY c.customer_id)"
            " SELECT 0, CAST(NULL AS TEXT), COUNT(*),"
            f" SUM(CASE WHEN dl > df THEN 1 ELSE 0 END), 0, 0, 0{zeros} FROM pc"
            + (
                f" UNION ALL SELECT 1, NULL, fw, COUNT(*), 0, 0, 0{names}"
                f" FROM pc GROUP BY fw{names}"
                if words
                else ""
            )
            + (
                ""
                if brief
                else f" UNION ALL SELECT * FROM (SELECT 2, k, cn, cp, cu, cc,"
                f" ROW_NUMBER() OVER (ORDER BY cn DESC, k) AS r{zeros} FROM pc WHERE cc > 0) t"
                f" WHERE r <= {TOP_CUSTOMERS}"
            )
        )
        if split is None:
            found = {
                "customers": self._statement(pass_sql.replace("{cut}", ""), list(self._params))
            }
        else:
            found = {
                name: self._statement(
                    pass_sql.replace("{cut}", f" AND c.customer_id {operator} ?"),
                    [*self._params, split],
                )
                for name, operator in (("customers", "<"), ("customers_from", ">="))
            }
        if not words and not brief:
            sql = (
                "SELECT fw, w - fw, COUNT(*) FROM"
                " (SELECT w, MIN(w) OVER (PARTITION BY k) AS fw FROM"
                f" (SELECT DISTINCT c.customer_id AS k, {week} AS w FROM conversations c"
                f" WHERE {where} AND c.customer_id IS NOT NULL) cw) x GROUP BY fw, w - fw"
            )
            found["cohorts"] = self._statement(sql, list(self._params))
        return found

    def _days_keep_order(self) -> bool:
        """Whether a later start never has an earlier local day in :attr:`_offsets`' span:
        no change of offset turns the clock back across midnight (as St. John's did at
        00:01 until 2011), so each customer's first and last local days are those of
        its first and last starts."""
        (_, previous), *changes = self._offsets
        for start, offset in changes:
            before = _truncated(start - 1 + previous, MICROS_PER_DAY)
            if _truncated(start + offset, MICROS_PER_DAY) < before:
                return False
            previous = offset
        return True

    def _week_words(self, start: int | None, end: int | None) -> int:
        """How many bitmask columns hold the selection's local weeks between *start* and
        *end* (0: too many weeks); sets :attr:`_week_base`, the week of bit 0."""
        if start is None or end is None:
            self._week_base = 0
            return 1
        offsets = [offset for _, offset in self._offsets]
        # The SQL's integer division truncates toward zero; it keeps the order of
        # its arguments, so the extreme starts bound every start's week.
        first = _week(start + min(offsets))
        last = _week(max(start, end) + max(offsets))
        self._week_base = first
        words = (last - first) // _WEEK_BITS + 1
        return words if words <= _WEEK_WORDS else 0

    def _breakdowns(self) -> Statement:
        """Conversations and messages per combination of the breakdown columns: one pass
        over the conversations (a GROUP BY per column took five), or the rollups' days
        and the ragged ends' conversations, summed per column in Python."""
        columns = ", ".join(f"c.{field}" for field in BREAKDOWNS)
        direct = f"SELECT {columns}, COUNT(*), SUM(c.message_count) FROM conversations c WHERE"
        buckets = self._breakdown_buckets
        if buckets is None:
            sql = f"{direct} {self._where} GROUP BY {columns}"
            return self._statement(sql, list(self._params))
        rolled = ", ".join(f"r.{field}" for field in BREAKDOWNS)
        parts, params = self._union(
            buckets,
            f"SELECT {rolled}, SUM(r.conversations), SUM(r.messages)",
            direct,
            (f" GROUP BY {rolled}", f" GROUP BY {columns}"),
        )
        return self._statement(" UNION ALL ".join(parts), params)

    def _union(
        self, buckets: Buckets, rolled: str, direct: str, groups: tuple[str, str] = ("", "")
    ) -> tuple[list[str], list[Any]]:
        """The parts of a ``UNION ALL`` and its parameters: *rolled* (``SELECT ...`` of the
        rollup rows, alias ``r``) over the whole buckets, then *direct* (``SELECT ... WHERE``
        of the conversations, alias ``c``) over each ragged end; *groups*: their ``GROUP BY``.
        """
        where, params = buckets.where(self._attributes)
        parts = [f"{rolled} FROM {buckets.table} r WHERE r.project_id = ? AND {where}{groups[0]}"]
        params = [self._project_id, *params]
        for low, high in buckets.ragged():
            parts.append(
                f"{direct} {self._attribute_where} AND c.started_at >= ? AND c.started_at < ?"
                f"{groups[1]}"
            )
            params += [*self._attribute_params, low, high]
        return parts, params

    def assemble(self, totals: Mapping[str, Any], rows: Mapping[str, Rows]) -> dict[str, Any]:
        """The answer of ``GET /v1/metrics`` (or of its summary, see ``MetricsQuery``)
        from :meth:`combine` and the rows of the rest."""
        conversations = totals["conversations"]
        counts = [totals[f] for f in FIGURES[1:6]]
        used = totals["used"]
        token_sums = {t: totals[t] for t in TOKENS}
        cost_nanos, priced, unpriced = (totals[c] for c in COSTS)
        multi = totals["multi"]
        customer_rows = self._customer_rows(rows)
        customers = next(row[2:4] for row in customer_rows if int(row[0]) == 0)
        counted = rows.get("escalation")
        escalated = self._escalated if counted is None else int(counted[0][0])
        head = {
            "tz": self._query.tz,
            "totals": {
                "conversations": conversations,
                "messages": counts[0],
                "end_user_messages": counts[1],
                "agent_messages": counts[2],
                "events": counts[3],
                "actions": counts[4],
                "unique_users": int(customers[0]),
            },
            "engagement": {
                "initialised": conversations,
                "used": used,
                "initialised_only": conversations - used,
                "rate": _ratio(used, conversations),
            },
            "response_time_ms": self._response_time(rows["response"][0]),
            "conversation_duration_ms": {
                "count": multi,
                "avg": _ms(totals["multi_span"] / multi) if multi else None,
            },
        }
        outcomes = {
            "escalation": {
                "actions": list(self._query.escalation_actions),
                "conversations": escalated,
                "rate": _ratio(escalated, conversations),
            },
            "feedback": self._feedback_figures(rows.get("feedback"), totals),
        }
        token_totals = {
            "totals": token_sums,
            "per_conversation": {
                t: _rounded(v / conversations if conversations else None)
                for t, v in token_sums.items()
            },
        }
        cost = {
            **cost_figures(cost_nanos, priced, unpriced),
            "per_conversation_usd": None
            if not priced or not conversations
            else round(cost_nanos / conversations / 1e9, 9),
        }
        buttons = self._button_figures(rows["buttons"])
        if self._query.summary:
            return {
                **head,
                **outcomes,
                "buttons": buttons,
                "customers": self._customer_figures(customers),
                "token_usage": token_totals,
                "cost": cost,
            }
        by_day, by_model = _model_calls(rows["tokens"])
        return {
            **head,
            "peak_hours": self._peak_hours(rows["hours"]),
            "daily": self._daily(rows["days"], rows["hours"]),
            "tools": self._tool_usage(rows["tools"], self._p95(rows.get("tool_percentiles", ()))),
            **outcomes,
            "breakdowns": self._breakdown_lists(rows["breakdowns"]),
            "buttons": buttons,
            "customers": self._customer_figures(customers),
            "retention": self._retention(
                rows["cohorts"] if "cohorts" in rows else self._cohorts(customer_rows)
            ),
            "token_usage": {
                **token_totals,
                "daily": [
                    {"date": _date(day), **dict(zip(TOKENS, sums[:4], strict=True))}
                    for day, sums in by_day.items()
                ],
            },
            "cost": {
                **cost,
                "by_model": self._by_model(by_model),
                "daily": [
                    {"date": _date(day), **cost_figures(nanos, calls_priced, calls - calls_priced)}
                    for day, (*_, nanos, calls_priced, calls) in by_day.items()
                ],
                "top_customers": [
                    {
                        "customer_id": customer,
                        "conversations": int(count),
                        **cost_figures(nanos, int(calls_priced), int(calls_unpriced)),
                    }
                    for _, customer, nanos, calls_priced, calls_unpriced, count, *_ in sorted(
                        (row for row in customer_rows if int(row[0]) == 2),
                        key=lambda row: int(row[6]),
                    )
                ],
            },
            "scores": self._score_figures(rows["scores"], rows["score_values"], rows["score_days"]),
        }

    @staticmethod
    def _by_model(sums: Mapping[tuple[Any, Any], list[int]]) -> list[dict[str, Any]]:
        found = [
            {
                "model": model,
                "provider": provider,
                "calls": calls,
                **cost_figures(nanos, priced, calls - priced),
                **dict(zip(TOKENS, counts, strict=True)),
            }
            for (model, provider), (*counts, nanos, priced, calls) in sums.items()
        ]
        return sorted(
            found,
            key=lambda m: (-(m["usd"] or 0), -m["calls"], m["model"] or "", m["provider"] or ""),
        )

    @staticmethod
    def _score_figures(names: Rows, values: Rows, days: Rows) -> list[dict[str, Any]]:
        per_name: dict[str, dict[str, Any]] = {}
        for name, count, numeric, average in names:
            per_name[name] = {
                "name": name,
                "count": int(count),
                "numeric": int(numeric),
                "avg": _rounded(average, 6),
                "distribution": [],
                "daily": [],
            }
        for name, value, label, count in values:
            shown: Any = label
            if label is None:
                # -0.0 and 0.0 are one value to GROUP BY, which keeps either sign,
                # whichever row it met first: shown without the sign.
                shown = _finite(value)
                shown = 0.0 if shown == 0 else shown
            elif value is not None:  # a boolean: 1/0 with its label
                shown = label == "true"
            per_name[name]["distribution"].append({"value": shown, "count": int(count)})
        for name, day, count, average in sorted(days, key=lambda r: (r[0], int(r[1]))):
            per_name[name]["daily"].append(
                {"date": _date(int(day)), "count": int(count), "avg": _rounded(average, 6)}
            )
        for entry in per_name.values():
            entries = entry["distribution"]
            entries.sort(key=lambda e: (-e["count"], str(e["value"])))
            if len(entries) > SCORE_VALUES:
                rest = entries[SCORE_VALUES:]
                del entries[SCORE_VALUES:]
                entries.append(
                    {"value": "other", "other": True, "count": sum(e["count"] for e in rest)}
                )
        return sorted(per_name.values(), key=lambda e: (-e["count"], e["name"]))

    @staticmethod
    def _response_time(row: Sequence[Any]) -> dict[str, Any]:
        return {"count": int(row[0]), "avg": _ms(row[1]), "p50": _ms(row[2]), "p95": _ms(row[3])}

    @staticmethod
    def _peak_hours(hours: Rows) -> dict[str, Any]:
        grid = [[0] * 24 for _ in range(7)]
        for hour, count in hours:
            day, in_day = divmod(int(hour), 24)
            grid[(day + 3) % 7][in_day] += int(count)  # 1970-01-01 was a Thursday
        return {"metric": "messages", "first_weekday": "Monday", "counts": grid}

    @staticmethod
    def _daily(days: Rows, hours: Rows) -> list[dict[str, Any]]:
        table: dict[int, list[int]] = {}
        for day, count in days:
            table.setdefault(int(day), [0, 0])[0] += int(count)
        for hour, count in hours:
            table.setdefault(int(hour) // 24, [0, 0])[1] += int(count)
        if table and max(table) - min(table) <= _FILL_DAYS:
            for day in range(min(table), max(table)):
                table.setdefault(day, [0, 0])
        return [
            {"date": _date(day), "conversations": c, "messages": m}
            for day, (c, m) in sorted(table.items())
        ]

    def _p95(self, rows: Rows) -> dict[str, Any]:
        """Tool name to p95, from the rows of :meth:`tool_percentiles`."""
        if self._timed:
            return {self._timed[int(position)]: p95 for position, p95 in rows}
        return {name: p95 for name, p95 in rows}

    @staticmethod
    def _tool_usage(tools: Rows, p95s: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = [
            {
                "action_name": name,
                "count": int(count),
                "errors": int(errors or 0),
                "error_rate": _ratio(int(errors or 0), int(count)),
                "timed": int(timed),
                "avg_duration_ms": _rounded(avg),
                "p95_duration_ms": _rounded(p95s.get(name)),
            }
            for name, count, errors, timed, avg, *_ in tools
        ]
        return sorted(found, key=lambda t: (-t["count"], t["action_name"] or ""))

    @staticmethod
    def _feedback_figures(rows: Rows | None, totals: Mapping[str, Any]) -> dict[str, Any]:
        """From the totals (the conversations' counts), or from *rows* of :meth:`_feedback`."""
        by_sentiment = {s: totals[f"feedback_{s}"] for s in ("positive", "neutral", "negative")}
        with_any = totals["with_feedback"]
        if rows is not None:
            by_sentiment, with_any = dict.fromkeys(by_sentiment, 0), 0
        for sentiment, count in rows or ():
            if sentiment is None:
                with_any = int(count)
            else:
                by_sentiment[sentiment] = int(count)
        conversations = totals["conversations"]
        return {
            "by_sentiment": by_sentiment,
            "entries": sum(by_sentiment.values()),
            "conversations": with_any,
            "share": _ratio(with_any, conversations),
        }

    def _button_figures(self, rows: Rows) -> dict[str, Any]:
        presses: dict[tuple[str, str], int] = {}
        ratings: dict[str, int] = {}
        names = self._query.rating_events
        exact = {name for name in names if not name.endswith("*")}
        prefixes = tuple(name[:-1] for name in names if name.endswith("*"))
        for payload, count in rows:
            fields = json.loads(payload)
            event, label, value = fields["button_event"], fields["label"], fields["value"]
            presses[(event, label)] = presses.get((event, label), 0) + int(count)
            if event in exact or event.startswith(prefixes):
                ratings[value] = ratings.get(value, 0) + int(count)
        listed = sorted(presses.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "presses": sum(presses.values()),
            "by_label": [
                {"button_event": event, "label": label, "presses": count}
                for (event, label), count in listed[:TOP_VALUES]
            ],
            "rating": {
                "events": list(self._query.rating_events),
                "presses": sum(ratings.values()),
                "values": [
                    {"value": value, "presses": count}
                    for value, count in sorted(ratings.items(), key=lambda kv: (-kv[1], kv[0]))
                ][:TOP_VALUES],
            },
        }

    @staticmethod
    def _customer_figures(row: Sequence[Any]) -> dict[str, Any]:
        customers, returning = int(row[0]), int(row[1] or 0)
        return {
            "customers": customers,
            "returning": returning,
            "returning_rate": _ratio(returning, customers),
        }

    @staticmethod
    def _customer_rows(rows: Mapping[str, Rows]) -> Rows:
        """The rows of :meth:`_customers`' pass, its halves (when cut) joined as one pass
        would have given them: counts added, week masks kept per row (their counts add
        in :meth:`_cohorts`), the top customers of both ranked together."""
        if "customers_from" not in rows:
            return rows["customers"]
        halves = (rows["customers"], rows["customers_from"])
        counts, joined = [0, 0], []
        top: list[tuple[int, Sequence[Any]]] = []
        for half, part in enumerate(halves):
            for row in part:
                kind = int(row[0])
                if kind == 0:
                    counts[0] += int(row[2])
                    counts[1] += int(row[3] or 0)
                elif kind == 1:
                    joined.append(row)
                else:
                    top.append((half, row))
        zeros = [0] * (len(halves[0][0]) - 7)
        joined.append((0, None, *counts, 0, 0, 0, *zeros))
        # The SQL ranks by cost, then by customer in the database's own order; every
        # customer of the first half comes before the second's in that order.
        top.sort(key=lambda item: (-int(item[1][2]), item[0], int(item[1][6])))
        for rank, (_, row) in enumerate(top[:TOP_CUSTOMERS], 1):
            joined.append((*row[:6], rank, *row[7:]))
        return joined

    def _cohorts(self, rows: Rows) -> Rows:
        """Rows ``(first week, weeks after it, customers)`` from the week masks of
        :meth:`_customers`."""
        counts: dict[tuple[int, int], int] = {}
        for row in rows:
            if int(row[0]) != 1:
                continue
            first, customers = int(row[2]), int(row[3])
            mask = sum(int(word) << (n * _WEEK_BITS) for n, word in enumerate(row[7:]))
            while mask:
                low = mask & -mask
                key = (first, self._week_base + low.bit_length() - 1 - first)
                counts[key] = counts.get(key, 0) + customers
                mask ^= low
        return [(first, after, customers) for (first, after), customers in counts.items()]

    @staticmethod
    def _retention(rows: Rows) -> dict[str, Any]:
        cohorts: dict[int, dict[int, int]] = {}
        for first, offset, count in rows:
            cohorts.setdefault(int(first), {})[int(offset)] = int(count)
        last = max((first + max(weeks) for first, weeks in cohorts.items()), default=0)
        recent = sorted(cohorts)[-COHORTS:]
        return {
            "period": "week",
            "first_weekday": "Monday",
            "cohorts": [
                {
                    "week": _date(7 * first - 3),
                    "customers": cohorts[first].get(0, 0),
                    "active": [cohorts[first].get(n, 0) for n in range(last - first + 1)],
                }
                for first in recent
            ],
        }

    @staticmethod
    def _breakdown_lists(rows: Rows) -> dict[str, list[dict[str, Any]]]:
        sums: dict[str, dict[Any, list[int]]] = {field: {} for field in BREAKDOWNS}
        for row in rows:
            count, messages = int(row[-2]), int(row[-1] or 0)
            for field, value in zip(BREAKDOWNS, row, strict=False):
                entry = sums[field].setdefault(value, [0, 0])
                entry[0] += count
                entry[1] += messages
        lists: dict[str, list[dict[str, Any]]] = {
            field: [
                {"value": value, "conversations": count, "messages": messages}
                for value, (count, messages) in values.items()
            ]
            for field, values in sums.items()
        }
        for field, entries in lists.items():
            entries.sort(key=lambda e: (-e["conversations"], e["value"] is None, e["value"] or ""))
            if len(entries) > TOP_VALUES:
                rest = entries[TOP_VALUES:]
                del entries[TOP_VALUES:]
                entries.append(
                    {
                        "value": "other",
                        "other": True,
                        "conversations": sum(e["conversations"] for e in rest),
                        "messages": sum(e["messages"] for e in rest),
                    }
                )
            lists[field] = entries
        return lists
