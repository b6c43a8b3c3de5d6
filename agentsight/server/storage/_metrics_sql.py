"""The SQL of ``GET /v1/metrics``, written once for SQLite and PostgreSQL.

Every figure is an aggregate computed by the database: counts and sums over
the ``conversations`` table (which keeps per-conversation counters), window
functions over ``events`` for response times and percentiles, and
``GROUP BY`` for the buckets.  Python only shapes the few aggregated rows
into the answer.  The statements use only what both databases evaluate the
same way (integer arithmetic, ``ROW_NUMBER``, ``MIN ... OVER``), so both
backends give the same figures; the dialect differs only in how a JSON field
of an event's payload is read and in how parameters are written.

Definitions (the API documents them too):

- percentiles are nearest-rank: the value at rank ``ceil(p * n / 100)`` of
  the ``n`` values in ascending order;
- a response time is, for each user message followed later in its
  conversation by an agent message, the time to the first such message;
- a conversation's duration is from its first to its last event, averaged
  over conversations of more than one event;
- days and hours are local to the query's time zone (offsets inlined as a
  ``CASE`` over the transitions of the span, see ``utc_offsets``); weekday
  0 is Monday.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .._analytics import MICROS_PER_DAY, MICROS_PER_HOUR, MetricsQuery, utc_offsets

__all__ = ["POSTGRES", "SQLITE", "Dialect", "MetricsPlan", "Statement"]

Statement = tuple[str, list[Any]]
Rows = Sequence[Sequence[Any]]
_EQUAL_FILTERS = ("customer_id", "environment", "source", "device", "language", "country")
BREAKDOWNS = ("country", "device", "source", "language", "environment")
TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens")
_TOP = 100  # breakdown entries listed; the rest add up to one "other" entry
_FILL_DAYS = 1000  # days without activity are listed as zeros within spans up to this


@attrs.frozen
class Dialect:
    """How one database reads JSON fields and takes parameters."""

    json_text: Callable[[str, str], str]
    json_number: Callable[[str, str], str]
    numbered: bool  # $1, $2 ... instead of ?
    clean: Callable[[str], str] = lambda text: text


SQLITE = Dialect(
    json_text=lambda column, key: f"json_extract({column}, '$.{key}')",
    json_number=lambda column, key: f"json_extract({column}, '$.{key}')",
    numbered=False,
)
POSTGRES = Dialect(
    json_text=lambda column, key: f"({column}::json ->> '{key}')",
    json_number=lambda column, key: f"({column}::json ->> '{key}')::float8",
    numbered=True,
    clean=lambda text: text.replace("\x00", "\ufffd"),
)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _ms(micros: Any) -> float | None:
    return None if micros is None else round(float(micros) / 1000, 3)


def _rounded(value: Any, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 6)


def _date(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


class MetricsPlan:
    """The statements of one metrics request, and the answer built from their rows.

    Use: run :meth:`totals` first; its row gives the time span that
    :meth:`statements` needs for local days and hours; run those, then
    :meth:`assemble` everything.
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
        for field, operator in (("since", ">="), ("until", "<")):
            value = getattr(filters, field)
            if value is not None:
                clauses.append(f"c.started_at {operator} ?")
                params.append(value)
        self._where, self._params = " AND ".join(clauses), params
        self._filtered = len(clauses) > 1
        self._offsets: list[tuple[int, int]] = [(0, 0)]

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
        sql = f"WITH sel AS (SELECT c.conversation_id FROM conversations c WHERE {self._where})"
        return sql, list(self._params)

    def _events(self, kind: str) -> tuple[str, list[Any]]:
        """``FROM ... WHERE`` of the selected conversations' events of one *kind*."""
        join = " JOIN sel ON sel.conversation_id = e.conversation_id" if self._filtered else ""
        return f"FROM events e{join} WHERE e.project_id = ? AND e.type = '{kind}'", [
            self._project_id
        ]

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

    def totals(self) -> Statement:
        """Counters, users, engagement, duration, tokens and the span, from conversations."""
        sql = (
            "SELECT COUNT(*), SUM(c.message_count), SUM(c.end_user_message_count),"
            " SUM(c.agent_message_count), SUM(c.event_count), SUM(c.action_count),"
            " COUNT(DISTINCT c.customer_id), SUM(CASE WHEN c.is_used THEN 1 ELSE 0 END),"
            " MIN(c.started_at), MAX(c.ended_at),"
            " SUM(CASE WHEN c.event_count > 1 THEN 1 ELSE 0 END),"
            " AVG(CASE WHEN c.event_count > 1 THEN c.ended_at - c.started_at END), "
            + ", ".join(f"SUM(c.{t})" for t in TOKENS)
            + f" FROM conversations c WHERE {self._where}"
        )
        return self._statement(sql, list(self._params))

    def statements(self, totals: Sequence[Any]) -> dict[str, Statement]:
        """The other statements, given the row of :meth:`totals`."""
        start, end = totals[8], totals[9]
        if start is not None:
            self._offsets = utc_offsets(self._query.tz, int(start), int(end))
        return {
            "response": self._response(),
            "tools": self._tools(),
            "escalation": self._escalation(),
            "hours": self._hours(),
            "days": self._days(),
            "tokens": self._tokens(),
            "feedback": self._feedback(),
            "breakdowns": self._breakdowns(),
        }

    def _response(self) -> Statement:
        head, params = self._with()
        events, more = self._events("message")
        sender = self._dialect.json_text("e.payload", "sender")
        head = f"{head}, " if head else "WITH "
        sql = (
            f"{head}msg AS (SELECT e.conversation_id, e.ts, e.seq, e.id,"
            f" {sender} AS sender {events}),"
            " m AS (SELECT ts, sender, MIN(CASE WHEN sender = 'agent' THEN ts END) OVER"
            " (PARTITION BY conversation_id ORDER BY ts DESC, seq DESC, id DESC"
            " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS answered FROM msg),"
            " d AS (SELECT answered - ts AS wait FROM m"
            " WHERE sender = 'end_user' AND answered IS NOT NULL),"
            " r AS (SELECT wait, ROW_NUMBER() OVER (ORDER BY wait) AS rn,"
            " COUNT(*) OVER () AS n FROM d)"
            " SELECT COUNT(*), AVG(wait), MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN wait END),"
            " MAX(CASE WHEN rn = (95 * n + 99) / 100 THEN wait END) FROM r"
        )
        return self._statement(sql, params + more)

    def _tools(self) -> Statement:
        head, params = self._with()
        events, more = self._events("action")
        text, number = self._dialect.json_text, self._dialect.json_number
        head = f"{head}, " if head else "WITH "
        sql = (
            f"{head}a AS (SELECT {text('e.payload', 'action_name')} AS name,"
            f" {number('e.payload', 'duration_ms')} AS d,"
            f" CASE WHEN {text('e.payload', 'error_msg')} IS NULL THEN 0 ELSE 1 END AS err"
            f" {events}),"
            " r AS (SELECT name, d, err, ROW_NUMBER() OVER (PARTITION BY name"
            " ORDER BY CASE WHEN d IS NULL THEN 1 ELSE 0 END, d) AS rn,"
            " COUNT(d) OVER (PARTITION BY name) AS nd FROM a)"
            " SELECT name, COUNT(*), SUM(err), COUNT(d), AVG(d),"
            " MAX(CASE WHEN rn = (95 * nd + 99) / 100 THEN d END) FROM r GROUP BY name"
        )
        return self._statement(sql, params + more)

    def _escalation(self) -> Statement:
        head, params = self._with()
        events, more = self._events("action")
        names = [self._dialect.clean(n) for n in self._query.escalation_actions]
        name = self._dialect.json_text("e.payload", "action_name")
        among = f"{name} IN ({', '.join('?' for _ in names)})" if names else "1 = 0"
        sql = f"{head} SELECT COUNT(DISTINCT e.conversation_id) {events} AND {among}"
        return self._statement(sql, params + more + names)

    def _hours(self) -> Statement:
        head, params = self._with()
        events, more = self._events("message")
        sql = (
            f"{head} SELECT h / {MICROS_PER_HOUR}, COUNT(*) FROM"
            f" (SELECT {self._local('e.ts')} AS h {events}) x GROUP BY h / {MICROS_PER_HOUR}"
        )
        return self._statement(sql, params + more)

    def _days(self) -> Statement:
        day = f"{self._local('c.started_at')} / {MICROS_PER_DAY}"
        sql = f"SELECT {day}, COUNT(*) FROM conversations c WHERE {self._where} GROUP BY {day}"
        return self._statement(sql, list(self._params))

    def _tokens(self) -> Statement:
        head, params = self._with()
        events, more = self._events("token_usage")
        number = self._dialect.json_number
        columns = ", ".join(f"{number('e.payload', t)} AS {t}" for t in TOKENS)
        sums = ", ".join(f"SUM({t})" for t in TOKENS)
        sql = (
            f"{head} SELECT d, {sums} FROM (SELECT {self._local('e.ts')} / {MICROS_PER_DAY}"
            f" AS d, {columns} {events}) x GROUP BY d"
        )
        return self._statement(sql, params + more)

    def _feedback(self) -> Statement:
        sql = (
            "WITH sel AS (SELECT c.conversation_id FROM conversations c WHERE "
            f"{self._where}), f AS (SELECT f.sentiment, f.conversation_id FROM feedback f"
            " JOIN sel ON sel.conversation_id = f.conversation_id WHERE f.project_id = ?)"
            " SELECT sentiment, COUNT(*) FROM f GROUP BY sentiment"
            " UNION ALL SELECT NULL, COUNT(DISTINCT conversation_id) FROM f"
        )
        return self._statement(sql, [*self._params, self._project_id])

    def _breakdowns(self) -> Statement:
        parts, params = [], []
        for field in BREAKDOWNS:
            parts.append(
                f"SELECT '{field}', c.{field}, COUNT(*), SUM(c.message_count)"
                f" FROM conversations c WHERE {self._where} GROUP BY c.{field}"
            )
            params += self._params
        return self._statement(" UNION ALL ".join(parts), params)

    def assemble(self, totals: Sequence[Any], rows: Mapping[str, Rows]) -> dict[str, Any]:
        """The answer of ``GET /v1/metrics`` from the rows of every statement."""
        conversations = int(totals[0])
        counts = [int(v or 0) for v in totals[1:6]]
        used = int(totals[7] or 0)
        token_sums = {t: int(v or 0) for t, v in zip(TOKENS, totals[12:16], strict=True)}
        return {
            "tz": self._query.tz,
            "totals": {
                "conversations": conversations,
                "messages": counts[0],
                "end_user_messages": counts[1],
                "agent_messages": counts[2],
                "events": counts[3],
                "actions": counts[4],
                "unique_users": int(totals[6]),
            },
            "engagement": {
                "initialised": conversations,
                "used": used,
                "initialised_only": conversations - used,
                "rate": _ratio(used, conversations),
            },
            "response_time_ms": self._response_time(rows["response"][0]),
            "conversation_duration_ms": {
                "count": int(totals[10] or 0),
                "avg": _ms(totals[11]),
            },
            "peak_hours": self._peak_hours(rows["hours"]),
            "daily": self._daily(rows["days"], rows["hours"]),
            "tools": self._tool_usage(rows["tools"]),
            "escalation": {
                "actions": list(self._query.escalation_actions),
                "conversations": int(rows["escalation"][0][0]),
                "rate": _ratio(int(rows["escalation"][0][0]), conversations),
            },
            "feedback": self._feedback_figures(rows["feedback"], conversations),
            "breakdowns": self._breakdown_lists(rows["breakdowns"]),
            "token_usage": {
                "totals": token_sums,
                "per_conversation": {
                    t: _rounded(v / conversations if conversations else None)
                    for t, v in token_sums.items()
                },
                "daily": [
                    {
                        "date": _date(int(day)),
                        **{t: int(v or 0) for t, v in zip(TOKENS, sums, strict=True)},
                    }
                    for day, *sums in sorted(rows["tokens"], key=lambda r: int(r[0]))
                ],
            },
        }

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

    @staticmethod
    def _tool_usage(tools: Rows) -> list[dict[str, Any]]:
        found = [
            {
                "action_name": name,
                "count": int(count),
                "errors": int(errors or 0),
                "error_rate": _ratio(int(errors or 0), int(count)),
                "timed": int(timed),
                "avg_duration_ms": _rounded(avg),
                "p95_duration_ms": _rounded(p95),
            }
            for name, count, errors, timed, avg, p95 in tools
        ]
        return sorted(found, key=lambda t: (-t["count"], t["action_name"] or ""))

    @staticmethod
    def _feedback_figures(rows: Rows, conversations: int) -> dict[str, Any]:
        by_sentiment = {"positive": 0, "neutral": 0, "negative": 0}
        with_any = 0
        for sentiment, count in rows:
            if sentiment is None:
                with_any = int(count)
            else:
                by_sentiment[sentiment] = int(count)
        return {
            "by_sentiment": by_sentiment,
            "entries": sum(by_sentiment.values()),
            "conversations": with_any,
            "share": _ratio(with_any, conversations),
        }

    @staticmethod
    def _breakdown_lists(rows: Rows) -> dict[str, list[dict[str, Any]]]:
        lists: dict[str, list[dict[str, Any]]] = {field: [] for field in BREAKDOWNS}
        for field, value, count, messages in rows:
            lists[field].append(
                {"value": value, "conversations": int(count), "messages": int(messages or 0)}
            )
        for field, entries in lists.items():
            entries.sort(key=lambda e: (-e["conversations"], e["value"] is None, e["value"] or ""))
            if len(entries) > _TOP:
                rest = entries[_TOP:]
                del entries[_TOP:]
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
