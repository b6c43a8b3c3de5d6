"""Analytics reports beyond ``GET /v1/metrics``, written once for SQLite and PostgreSQL.

A report is a generator of statements: it yields a list of statements, is
sent back their rows, may yield more (statements that depend on the first
rows), and returns the JSON-ready answer.  Each backend drives it on one
read-only snapshot (``Storage.report``), so a report's SQL, like the metrics',
is written once with ``?`` parameters and numbered for PostgreSQL.

Reports here:

- :class:`CustomersReport`: one row per customer (conversations, messages,
  first and last seen, feedback, escalations, tokens), sorted, paged;
- :class:`UnhandledReport`: the user messages that came right before an
  escalation action or a conversation's negative feedback, grouped by their
  normalised text;
- :class:`ValuesReport`: the values of source, language and country present
  in a project, for the dashboard's pick-lists;
- :class:`MetadataReport`: the top values of one metadata key, of
  conversations or of messages.

Text and JSON are grouped in Python (``normalise``; ``json.loads`` of
metadata and payloads), so both databases give the same answer whatever
their collations and JSON functions do.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Generator
from typing import Any, Protocol

import attrs

from .._ingest._time import format_ts
from .._metrics import MetricsQuery
from ._metrics_sql import Dialect, MetricsPlan, Rows, Statement, cost_figures

__all__ = [
    "CUSTOMER_SORTS",
    "CustomersReport",
    "MetadataReport",
    "Report",
    "Steps",
    "UnhandledReport",
    "ValuesReport",
    "normalise",
]

Steps = Generator[list[Statement], list[Rows], dict[str, Any]]


class Report(Protocol):
    """What ``Storage.report`` runs: statements in steps, then an answer."""

    def steps(self, dialect: Dialect) -> Steps:
        """Yield lists of statements, receive their rows, return the answer."""
        ...


def _json(text: Any) -> Any:
    try:
        return None if text is None else json.loads(text)
    except ValueError:  # pragma: no cover - the collector only stores JSON it wrote
        return None


_SPACES = re.compile(r"\s+")
_EDGES = "".join(chr(c) for c in range(0x2FFF) if unicodedata.category(chr(c))[0] in "PZS")


def normalise(text: str) -> str:
    """*text* as the unhandled report groups it.

    Unicode NFKC, case-folded, runs of white space as one space, punctuation,
    symbols and spaces stripped from both ends: ``"  Where is MY order?? "``
    and ``"where is my order"`` are one group.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", folded).strip(_EDGES).strip()


def _conversation_actions(dialect: Dialect) -> str:
    """``FROM ... WHERE`` of the actions of conversation ``c``, by its index entries.

    Found through ``events_by_type`` (project, type, conversation): on SQLite
    the WHERE repeats that index's partial term, and ``+`` keeps the action
    name from choosing ``events_actions`` (every action of a name in the
    project, read again for each conversation: minutes at ten million events).
    """
    if dialect.partial_by_type:
        return (
            "FROM events e WHERE e.project_id = c.project_id AND e.type = 'action'"
            " AND e.type <> 'message' AND e.conversation_id = c.conversation_id"
            " AND +e.action_name IS NOT NULL"
        )
    return (
        "FROM events e WHERE e.project_id = c.project_id AND e.type = 'action'"
        " AND e.conversation_id = c.conversation_id"
    )


def _selection(plan: MetricsPlan) -> tuple[str, list[Any]]:
    """``FROM conversations c WHERE ...`` of the query's selection."""
    where, params = plan.where
    return f"FROM conversations c WHERE {where}", params


#: Conversations read per step of the walk by last activity, and the steps before the
#: customers page is grouped directly instead (a range far back, a rare filter).
_WALK = 2000
_WALKS = 10

#: How ``GET /v1/customers`` may sort: column of the grouped row, and its order.
CUSTOMER_SORTS = {
    "last_seen": "MAX(c.ended_at) DESC",
    "first_seen": "MIN(c.started_at) DESC",
    "conversations": "COUNT(*) DESC",
    "messages": "SUM(c.message_count) DESC",
    "tokens": "SUM(c.total_tokens) DESC",
    "cost": "SUM(c.cost_nanos) DESC",
}


@attrs.frozen
class CustomersReport:
    """The customers of the conversations a query selects, one page of them.

    Conversations without a ``customer_id`` belong to no customer.  Ties in
    the sort are broken by ``customer_id`` (ascending).
    """

    project_id: int
    query: MetricsQuery
    sort: str = "last_seen"
    limit: int = 50
    offset: int = 0

    def steps(self, dialect: Dialect) -> Steps:
        plan = MetricsPlan(self.project_id, self.query, dialect)
        source, params = _selection(plan)
        source += " AND c.customer_id IS NOT NULL"
        page = (
            "SELECT c.customer_id, COUNT(*), SUM(c.message_count), MIN(c.started_at),"
            f" MAX(c.ended_at), SUM(c.total_tokens), SUM(c.cost_nanos), SUM(c.priced_calls),"
            f" SUM(c.unpriced_calls) {source}{{only}} GROUP BY c.customer_id"
            f" ORDER BY {CUSTOMER_SORTS[self.sort]}, c.customer_id LIMIT ? OFFSET ?"
        )
        total = f"SELECT COUNT(DISTINCT c.customer_id) {source}"
        latest = None
        if self.sort == "last_seen" and not plan.narrowed:
            latest = yield from self._latest(plan, source, params)
        if latest is None:
            paged = plan.statement(page.format(only=""), [*params, self.limit, self.offset])
        elif latest:
            only = f" AND {self._within(latest)}"
            paged = plan.statement(page.format(only=only), [*params, *latest, self.limit, 0])
        else:
            paged = plan.statement("SELECT NULL WHERE 1 = 0", [])
        rows, counted = yield [paged, plan.statement(total, list(params))]
        customers = [str(row[0]) for row in rows]
        feedback: Rows = []
        escalated: Rows = []
        if customers:
            feedback, escalated = yield [
                self._feedback(plan, source, params, customers),
                self._escalations(plan, source, params, customers),
            ]
        return {
            "total": int(counted[0][0]),
            "sort": self.sort,
            "limit": self.limit,
            "offset": self.offset,
            "customers": self._rows(rows, feedback, escalated),
        }

    def _latest(
        self, plan: MetricsPlan, source: str, params: list[Any]
    ) -> Generator[list[Statement], list[Rows], list[str] | None]:
        """The customers of the page by last seen, found by walking the selection's
        conversations from the last activity back (the index on it), or ``None``
        when the walk would read too much (the page is then grouped directly).

        Customers appear in the walk in the order of their last activity; once
        the page's last one is found, the walk goes on through its ties (a
        customer with the same last activity sorts by id), then stops.
        """
        wanted = self.offset + self.limit
        last: dict[str, int] = {}
        position: list[int] = []
        boundary: int | None = None
        after = " AND (c.ended_at < ? OR (c.ended_at = ? AND c.pk < ?))"
        for _ in range(_WALKS):
            sql = (
                f"SELECT c.customer_id, c.ended_at, c.pk {source}{after if position else ''}"
                f" ORDER BY c.ended_at DESC, c.pk DESC LIMIT {_WALK}"
            )
            (rows,) = yield [plan.statement(sql, [*params, *position])]
            for customer, ended, pk in rows:
                if boundary is not None and ended < boundary:
                    break
                last.setdefault(str(customer), int(ended))
                if boundary is None and len(last) == wanted:
                    boundary = int(ended)
                position = [ended, ended, pk]
            else:
                if len(rows) == _WALK:
                    continue
            ordered = sorted(last, key=lambda customer: (-last[customer], customer))
            return ordered[self.offset : wanted]
        return None

    @staticmethod
    def _within(customers: list[str]) -> str:
        return f"c.customer_id IN ({', '.join('?' for _ in customers)})"

    def _feedback(
        self, plan: MetricsPlan, source: str, params: list[Any], customers: list[str]
    ) -> Statement:
        sql = (
            "SELECT c.customer_id, f.sentiment, COUNT(*) FROM conversations c JOIN feedback f"
            " ON f.project_id = c.project_id AND f.conversation_id = c.conversation_id"
            f" {source[len('FROM conversations c') :]} AND {self._within(customers)}"
            " GROUP BY c.customer_id, f.sentiment"
        )
        return plan.statement(sql, [*params, *customers])

    def _escalations(
        self, plan: MetricsPlan, source: str, params: list[Any], customers: list[str]
    ) -> Statement:
        names = [plan.dialect.clean(n) for n in self.query.escalation_actions] or [""]
        sql = (
            f"SELECT c.customer_id, COUNT(*) {source} AND {self._within(customers)}"
            f" AND EXISTS (SELECT 1 {_conversation_actions(plan.dialect)} AND e.action_name IN"
            f" ({', '.join('?' for _ in names)})) GROUP BY c.customer_id"
        )
        return plan.statement(sql, [*params, *customers, *names])

    @staticmethod
    def _rows(rows: Rows, feedback: Rows, escalated: Rows) -> list[dict[str, Any]]:
        sentiments: dict[str, dict[str, int]] = {}
        for customer, sentiment, count in feedback:
            entry = sentiments.setdefault(customer, {"positive": 0, "neutral": 0, "negative": 0})
            entry[sentiment] = int(count)
        escalations = {customer: int(count) for customer, count in escalated}
        empty = {"positive": 0, "neutral": 0, "negative": 0}
        return [
            {
                "customer_id": customer,
                "conversations": int(conversations),
                "messages": int(messages or 0),
                "first_seen": format_ts(int(first)),
                "last_seen": format_ts(int(last)),
                "feedback": sentiments.get(customer, dict(empty)),
                "escalations": escalations.get(customer, 0),
                "total_tokens": int(tokens or 0),
                "cost": cost_figures(*cost),
            }
            for customer, conversations, messages, first, last, tokens, *cost in rows
        ]


@attrs.frozen
class UnhandledReport:
    """User messages the bot did not handle, grouped by normalised text.

    A conversation counts once per reason: its last ``end_user`` message
    before its first escalation action (in ``(timestamp, seq)`` order), and,
    when it has negative feedback, its last ``end_user`` message.
    """

    project_id: int
    query: MetricsQuery
    limit: int = 50

    def steps(self, dialect: Dialect) -> Steps:
        plan = MetricsPlan(self.project_id, self.query, dialect)
        names = [dialect.clean(n) for n in self.query.escalation_actions]
        # Which conversations: all of the project's (no term), a customer's (few:
        # looked up first, then each one's events by index), or those of other
        # filters (a set of ids that the escalations and feedback, found by name
        # and sentiment, are checked in).
        source: str | None = None
        params: list[Any] = []
        if plan.narrowed:
            source, params = _selection(plan)
        elif plan.filtered:
            where, params = plan.scanned_where
            source = f"FROM conversations c WHERE {where}"
        # SQLite, unless a customer narrows: unary + keeps it from walking every event
        # of the project in the window's order (events_by_conversation) instead of
        # finding the escalations by name, and from probing the set by index.
        plus = "+" if dialect.partial_by_type and not plan.narrowed else ""

        def chosen(alias: str) -> str:
            if source is None:
                return ""
            return f" AND {plus}{alias}.conversation_id IN (SELECT c.conversation_id {source})"

        last_message = (
            "(SELECT m.content FROM events m WHERE m.project_id = ? AND m.type = 'message'"
            " AND m.conversation_id = x.cid AND m.sender = 'end_user'{before}"
            " ORDER BY m.ts DESC, m.seq DESC LIMIT 1)"
        )
        statements = []
        if names:
            escalation = (
                "SELECT x.cid, "
                + last_message.format(
                    before=" AND (m.ts < x.ts OR (m.ts = x.ts AND m.seq < x.seq))"
                )
                + " FROM (SELECT e.conversation_id AS cid, e.ts AS ts, e.seq AS seq,"
                f" ROW_NUMBER() OVER (PARTITION BY {plus}e.conversation_id ORDER BY e.ts, e.seq)"
                " AS rn FROM events e WHERE e.project_id = ? AND e.action_name IN"
                f" ({', '.join('?' for _ in names)}){chosen('e')}) x WHERE x.rn = 1"
            )
            statements.append(
                plan.statement(escalation, [self.project_id, self.project_id, *names, *params])
            )
        else:
            statements.append(plan.statement("SELECT NULL, NULL WHERE 1 = 0", []))
        negative = (
            "SELECT x.cid, "
            + last_message.format(before="")
            + " FROM (SELECT DISTINCT f.conversation_id AS cid FROM feedback f"
            f" WHERE f.project_id = ? AND f.sentiment = 'negative'{chosen('f')}) x"
        )
        statements.append(plan.statement(negative, [self.project_id, self.project_id, *params]))
        escalated, negatives = yield statements
        return self._groups(escalated, negatives)

    def _groups(self, escalated: Rows, negatives: Rows) -> dict[str, Any]:
        groups: dict[str, dict[str, Any]] = {}
        for reason, rows in (("escalations", escalated), ("negative_feedback", negatives)):
            for cid, content in rows:
                # A message with no words (a file alone, an emoji) is no text to group by.
                key = "" if content is None else normalise(str(content))
                if not key:
                    continue
                group = groups.setdefault(
                    key,
                    {
                        "text": key,
                        "texts": Counter(),
                        "count": 0,
                        "escalations": 0,
                        "negative_feedback": 0,
                        "conversations": set(),
                    },
                )
                group["texts"][str(content)] += 1
                group["count"] += 1
                group[reason] += 1
                group["conversations"].add(str(cid))
        ordered = sorted(groups.values(), key=lambda g: (-g["count"], g["text"]))
        return {
            "messages": sum(g["count"] for g in ordered),
            "groups": [
                {
                    "text": g["text"],
                    "example": min(g["texts"].items(), key=_commonest)[0],
                    "count": g["count"],
                    "escalations": g["escalations"],
                    "negative_feedback": g["negative_feedback"],
                    "conversations": sorted(g["conversations"])[:5],
                }
                for g in ordered[: self.limit]
            ],
        }


def _commonest(entry: tuple[str, int]) -> tuple[int, int, str]:
    """The example of a group: its most frequent text, then the shortest, then the first."""
    text, count = entry
    return -count, len(text), text


#: The attributes whose present values fill the dashboard's pick-lists.
VALUE_FIELDS = ("source", "language", "country", "environment", "device")
_MOST_VALUES = 200


@attrs.frozen
class ValuesReport:
    """The distinct values of a few conversation attributes, most frequent first.

    The conversations per combination of the attributes come from
    ``rollup_days`` (per day and combination, kept at every commit: exact,
    and a few rows per day instead of every conversation), summed per
    attribute here.
    """

    project_id: int

    def steps(self, dialect: Dialect) -> Steps:
        plan = MetricsPlan(self.project_id, MetricsQuery(), dialect)
        columns = ", ".join(f"r.{field}" for field in VALUE_FIELDS)
        (rows,) = yield [
            plan.statement(
                f"SELECT {columns}, SUM(r.conversations) FROM rollup_days r"
                f" WHERE r.project_id = ? GROUP BY {columns}",
                [self.project_id],
            )
        ]
        counts: dict[str, Counter[str]] = {field: Counter() for field in VALUE_FIELDS}
        for row in rows:
            for field, value in zip(VALUE_FIELDS, row, strict=False):
                if value is not None and row[-1]:  # a combination whose rows all left: 0
                    counts[field][value] += int(row[-1])
        answer: dict[str, Any] = {}
        for field, found in counts.items():
            ordered = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:_MOST_VALUES]
            answer[field] = [{"value": v, "conversations": n} for v, n in ordered]
        return answer


_TOP_VALUES = 50


@attrs.frozen
class MetadataReport:
    """The values of metadata key *key* of conversations, or of messages, with counts.

    A value that is not a string, number or boolean (an object, a list) is
    counted under its compact JSON text.  Rows where the key is absent count
    as ``missing``.  Without a *key*, the keys found, with how many rows have
    each (this reads every row's metadata: a discovery call, not a figure).
    """

    project_id: int
    query: MetricsQuery
    key: str | None
    of: str = "conversations"

    def steps(self, dialect: Dialect) -> Steps:
        plan = MetricsPlan(self.project_id, self.query, dialect)
        source, params = _selection(plan)
        # A prefilter only: rows whose JSON text holds the key as a JSON string
        # (both storages write JSON without escaping non-ASCII); Python checks.
        if self.key is not None:
            needle = "%" + _like(json.dumps(self.key, ensure_ascii=False)) + "%"
        elif self.of == "conversations":
            needle = "%"
        else:  # the payload of a message with metadata, as both storages write it
            needle = '%"metadata":{%'

        if self.of == "conversations":
            sql = (
                f"SELECT c.metadata, COUNT(*) {source} AND c.metadata LIKE ? ESCAPE '\\'"
                " GROUP BY c.metadata"
            )
            total = f"SELECT COUNT(*) {source}"
        else:
            inner = (
                f"FROM events e WHERE e.project_id = ? AND e.type = 'message' AND"
                f" e.conversation_id IN (SELECT c.conversation_id {source})"
            )
            sql = (
                f"SELECT e.payload, COUNT(*) {inner} AND e.payload LIKE ? ESCAPE '\\'"
                " GROUP BY e.payload"
            )
            total = f"SELECT COUNT(*) {inner}"
            params = [self.project_id, *params]
        rows, counted = yield [
            plan.statement(sql, [*params, needle]),
            plan.statement(total, list(params)),
        ]
        count = int(counted[0][0])
        documents = []
        for text, n in rows:
            document = _json(text)
            if self.of == "messages":
                document = document.get("metadata") if isinstance(document, dict) else None
            if isinstance(document, dict):
                documents.append((document, int(n)))
        if self.key is None:
            return self._keys(documents, count)
        values: Counter[Any] = Counter()
        for document, n in documents:
            if self.key not in document:
                continue
            value = document[self.key]
            if isinstance(value, (dict, list)):
                value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            values[(type(value).__name__, value)] += n
        found = sum(values.values())
        ordered = sorted(values.items(), key=lambda kv: (-kv[1], str(kv[0][1])))
        return {
            "key": self.key,
            "of": self.of,
            "total": count,
            "missing": count - found,
            "values": [{"value": v, "count": n} for (_, v), n in ordered[:_TOP_VALUES]],
            "other": sum(n for _, n in ordered[_TOP_VALUES:]),
        }

    def _keys(self, documents: list[tuple[dict[str, Any], int]], count: int) -> dict[str, Any]:
        keys: Counter[str] = Counter()
        for document, n in documents:
            for key in document:
                keys[key] += n
        ordered = sorted(keys.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "key": None,
            "of": self.of,
            "total": count,
            "keys": [{"key": k, "count": n} for k, n in ordered[:_TOP_VALUES]],
        }


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def drive(report: Report, dialect: Dialect, run: Any) -> dict[str, Any]:
    """Run *report* with *run* (statements -> rows), synchronously (SQLite's reader thread)."""
    steps = report.steps(dialect)
    rows: list[Rows] | None = None
    try:
        while True:
            statements = steps.send(rows) if rows is not None else next(steps)
            rows = run(statements)
    except StopIteration as done:
        result: dict[str, Any] = done.value
        return result
