"""Which part of a metrics request the conversation rollups answer, and its statements.

The tables ``rollup_quarters`` (per project and UTC quarter hour of a
conversation's start) and ``rollup_days`` (per project, UTC day of the start
and combination of the attributes the metrics filter on) hold the sums of the
conversations' counters.  Triggers on ``conversations`` keep them (migrations
``sqlite_0008_rollups`` and ``postgres_0007_rollups``): every change of a
row takes back its old contribution and adds its new one, whatever path
changes it, so the sums equal a direct computation at every commit.

The tables ``rollup_messages`` and ``rollup_models`` (per project, UTC
quarter hour of a conversation's start and UTC quarter hour of the event, and
per model for the second) hold the messages and the model calls of the stored
conversations; triggers on ``events`` and ``conversations`` keep them
(``sqlite_0009_event_rollups``, ``postgres_0008_event_rollups``).  They answer
the messages per local hour and the tokens and cost per local day and model
of a request without attribute or customer filters, in a zone whose offsets
and changes of offset fall on whole quarter hours (elsewhere those are read
directly).

The conversations' feedback entries per sentiment (their columns
``feedback_positive``, ``feedback_neutral`` and ``feedback_negative``, kept by
triggers on ``feedback``) are summed in both tables with the conversations
that have any (``with_feedback``), by triggers of their own that fire only
for a conversation with feedback (``sqlite_0016_feedback_rollups``,
``postgres_0015_feedback_rollups``).

The same triggers' kin (``sqlite_0012_action_rollups``,
``postgres_0011_action_rollups``) keep, per UTC quarter hour of the start,
``rollup_tools`` (per action name: actions, errors, timed ones, their summed
durations, the conversations with any), ``rollup_buttons`` (presses per
payload), ``rollup_scores`` (per event quarter hour and name: scores, numeric
ones, their sum) and ``rollup_score_values``; and per UTC day of the start
the histograms ``rollup_wait_days`` (response waits per bucket of
:func:`bucket_sql`, with their sum) and ``rollup_duration_days`` (timed
durations from 0 per tool and bucket of their whole milliseconds).  These
answer requests without attribute or customer filters in any zone (the score
days: in a zone on quarter hours).  A percentile finds its rank's bucket in a
histogram and reads only that bucket's values, so it stays exact.  A sum of
durations or score values is kept in two columns, the sum of their whole parts
(exact) and the sum of the rest (each less than one, as a double): a large
value that leaves again, when its conversation moves or goes, takes nothing of
the small ones with it, as one running double would have.

The same event rollups per combination of attributes and UTC day of the
start, with the event times per UTC hour (``rollup_combo_messages``,
``rollup_combo_models``, ``rollup_combo_tools``, ``rollup_combo_buttons``,
``rollup_combo_scores``, ``rollup_combo_score_values``; ``combo`` is the key of
``rollup_days``, or on PostgreSQL its MD5, which keeps their rows within its B-tree
limit; ``sqlite_0019_combo_rollups``, ``postgres_0020_combo_rollups``)
answer the event figures of a request with attribute filters: it reads the
combinations its filters select from ``rollup_days``, then each one's rows by
key.  A conversation whose day of start or whose attributes change takes its
events along.  The histograms of the waits and the durations have their kin
there too (``rollup_combo_wait_days``, ``rollup_combo_duration_days``;
``sqlite_0020_combo_histograms``, ``postgres_0021_combo_histograms``): they hold
about a row per value (a day's values of one combination rarely share a
bucket), but a filtered request reads its combinations' rows in key order
instead of each selected conversation's events by an index seek.

A request is answered from them in three parts: the whole buckets between
``since`` and ``until`` from the rollups, and the conversations of the two
ragged ends (started inside a bucket that the range cuts) directly, by the
index on their start (for the day histograms, whose rows count integers, a
ragged end of more than half a day is its whole day's rows less the rest of
the day, read directly: :meth:`Buckets.complemented`).  Without attribute
filters the quarters serve (the
local days of any time zone whose offsets are whole quarter hours are unions
of them); with attribute filters, the days (the conversations per local day only
in a zone at UTC; the events per local hour or day in a zone on whole hours).
A customer filter selects few conversations: it is always direct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from .._metrics import MICROS_PER_DAY

__all__ = [
    "ATTRIBUTES",
    "FIGURES",
    "MICROS_PER_QUARTER",
    "ROLLUP_SUMS",
    "Buckets",
    "EventRollups",
    "bucket_range",
    "bucket_sql",
    "choose",
    "conversation_sums",
]

MICROS_PER_QUARTER = 900_000_000
ATTRIBUTES = ("environment", "source", "device", "language", "country")
#: The rollup columns, in the order of :func:`conversation_sums`.
FIGURES = (
    "conversations",
    "messages",
    "end_user_messages",
    "agent_messages",
    "events",
    "actions",
    "used",
    "multi",
    "multi_span",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "embedding_tokens",
    "cost_nanos",
    "priced_calls",
    "unpriced_calls",
    "feedback_positive",
    "feedback_neutral",
    "feedback_negative",
    "with_feedback",
)


def conversation_sums(alias: str = "c") -> str:
    """The sums of :data:`FIGURES` over conversations (alias *alias*), read directly."""
    c = alias
    return ", ".join(
        (
            "COUNT(*)",
            f"SUM({c}.message_count)",
            f"SUM({c}.end_user_message_count)",
            f"SUM({c}.agent_message_count)",
            f"SUM({c}.event_count)",
            f"SUM({c}.action_count)",
            f"SUM(CASE WHEN {c}.is_used THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN {c}.event_count > 1 THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN {c}.event_count > 1 THEN {c}.ended_at - {c}.started_at ELSE 0 END)",
            f"SUM({c}.prompt_tokens)",
            f"SUM({c}.completion_tokens)",
            f"SUM({c}.total_tokens)",
            f"SUM({c}.embedding_tokens)",
            f"SUM({c}.cost_nanos)",
            f"SUM({c}.priced_calls)",
            f"SUM({c}.unpriced_calls)",
            f"SUM({c}.feedback_positive)",
            f"SUM({c}.feedback_neutral)",
            f"SUM({c}.feedback_negative)",
            f"SUM(CASE WHEN {c}.feedback_positive + {c}.feedback_neutral"
            f" + {c}.feedback_negative > 0 THEN 1 ELSE 0 END)",
        )
    )


ROLLUP_SUMS = ", ".join(f"SUM(r.{figure})" for figure in FIGURES)


@attrs.frozen
class Buckets:
    """The rollup table a request reads, and the whole buckets of its range.

    ``first``/``end``: the buckets ``first <= bucket < end`` are whole inside
    ``since``/``until`` (``None``: open).  The conversations of the ragged ends
    are those of :meth:`ragged`.
    """

    table: str  # rollup_quarters or rollup_days
    column: str  # quarter or day
    size: int  # microseconds per bucket
    first: int | None
    end: int | None
    since: int | None
    until: int | None

    def where(
        self, attributes: Sequence[tuple[str, str]], nonzero: str = "conversations"
    ) -> tuple[str, list[Any]]:
        """The ``WHERE`` terms (after the project) of the whole buckets, alias ``r``, whose
        *nonzero* column is not 0 (a row emptied by a move or a deletion adds nothing)."""
        clauses: list[str] = []
        params: list[Any] = []
        for name, value in attributes:
            clauses.append(f"r.{name} = ?")
            params.append(value)
        if self.first is not None:
            clauses.append(f"r.{self.column} >= ?")
            params.append(self.first)
        if self.end is not None:
            clauses.append(f"r.{self.column} < ?")
            params.append(self.end)
        clauses.append(f"r.{nonzero} <> 0")
        return " AND ".join(clauses), params

    def complemented(self) -> tuple[Buckets, list[tuple[int, int, int]]]:
        """These buckets, each ragged end that holds more than half of its bucket taken as
        the whole bucket less the rest of it: the buckets whose rows are read, and the
        ranges ``(from, to, sign)`` of ``c.started_at`` read directly, added (``1``)
        or taken away (``-1``).  For sums of integers only (a double's sum would not
        give back its parts exactly); at most half a bucket is then read directly."""
        first, end, size = self.first, self.end, self.size
        since, until = self.since, self.until
        pieces = [(low, high, 1) for low, high in self.ragged()]
        # More than half of the cut bucket inside the range (so the end is ragged):
        if since is not None and first is not None and 2 * since < (2 * first - 1) * size:
            first -= 1
            pieces[0] = (first * size, since, -1)
        if until is not None and end is not None and 2 * until > (2 * end + 1) * size:
            pieces[-1] = (until, (end + 1) * size, -1)
            end += 1
        return attrs.evolve(self, first=first, end=end), pieces

    def ragged(self) -> list[tuple[int, int]]:
        """The ranges ``[from, to)`` of ``c.started_at`` at the ragged ends (0 to 2)."""
        ends, first, end = [], self.first, self.end
        if self.since is not None and first is not None and self.since < first * self.size:
            ends.append((self.since, first * self.size))
        if self.until is not None and end is not None and end * self.size < self.until:
            ends.append((end * self.size, self.until))
        return ends


@attrs.frozen
class EventRollups:
    """The event rollups a request reads, and the whole buckets of starts they answer.

    ``combos``: the tables per combination of attributes and UTC day of the start
    (``rollup_combo_*``, for requests with attribute filters), else those per UTC
    quarter hour of the start (``rollup_*``; the day histograms too, whose buckets
    are days).  ``at``: microseconds per unit of their event times (``at``).
    """

    buckets: Buckets
    combos: bool = False
    at: int = MICROS_PER_QUARTER


def bucket_sql(value: str, *, postgres: bool) -> str:
    """SQL of the histogram bucket of *value*, a whole number from 0: its number of
    digits and its first three digits (``digits * 1000 + first``), so buckets follow
    the values' order and hold at most a thousandth of a decade each.  The triggers
    of ``rollup_wait_days`` and ``rollup_duration_days`` write the same."""
    if postgres:
        return f"length(({value})::text) * 1000 + substr(({value})::text, 1, 3)::int"
    return (
        f"length(CAST({value} AS TEXT)) * 1000"
        f" + CAST(substr(CAST({value} AS TEXT), 1, 3) AS INTEGER)"
    )


def bucket_range(bucket: int) -> tuple[int, int]:
    """The whole numbers ``(low, high)``, both included, of a bucket of :func:`bucket_sql`."""
    digits, first = divmod(bucket, 1000)
    if digits <= 3:
        return first, first
    scale = 10 ** (digits - 3)
    return first * scale, (first + 1) * scale - 1


def choose(
    customer: bool, attributes: bool, since: int | None, until: int | None, *, days: bool = False
) -> Buckets | None:
    """The buckets that answer a request, or ``None`` when it is read directly.

    *days*: the per-attribute days even without attribute filters (the
    breakdowns, which list every combination).  Bucket numbers are integer
    divisions of non-negative times: a range reaching before 1970 is direct.
    """
    if customer:
        return None
    if attributes or days:
        table, column, size = "rollup_days", "day", MICROS_PER_DAY
    else:
        table, column, size = "rollup_quarters", "quarter", MICROS_PER_QUARTER
    if since is not None and since <= 0:  # bucket 0 would also hold times before 1970
        return None
    if until is not None and until < size:
        return None
    first = None if since is None else -(-since // size)  # the first bucket wholly inside
    end = None if until is None else until // size
    if first is not None and end is not None and first >= end:
        return None  # no whole bucket: the range is read directly
    return Buckets(table, column, size, first, end, since, until)
