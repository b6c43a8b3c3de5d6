"""The conversation rollups stay equal to the conversations, whatever changes them.

Random conversations, with tools, buttons and scores, arrive in pieces over
several batches (attributes in a later batch than the first events, an
earlier event moving a start into another quarter hour or day, scores that
do not date a conversation, an interaction that a later ``conversation``
event marks used), then are deleted one by one, by retention and by erasure
in small steps.  After each phase, on both backends: the rollup tables equal
a rebuild from the conversations and their events, and ``GET /v1/metrics``'s
figures read through the rollups equal those read directly, for random
filters, ranges and time zones (zones at whole hours, half and three-quarter
hours, and across daylight saving).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import re
import uuid
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from agentsight.server import Storage, open_storage
from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import ConversationQuery, Feedback, NewEvent
from agentsight.server.storage._columns import TOKEN_COLUMNS
from agentsight.server.storage._listing import rolled_total
from agentsight.server.storage._metrics_sql import POSTGRES, SQLITE
from agentsight.server.storage._reports import VALUE_FIELDS, ValuesReport
from agentsight.server.storage._rollups import bucket_sql, choose
from tests.server import pg_helpers
from tests.server.old_schema import (
    LATEST,
    UNDO_BOUNDED_KEYS,
    UNDO_COMBO_ROLLUPS,
    UNDO_EVENT_ROLLUPS,
    UNDO_FEEDBACK_ROLLUPS,
    create_at,
    execute,
    rows,
)
from tests.server.pg_helpers import Database
from tests.server.test_openapi_metrics import headline

pytestmark = pytest.mark.anyio

MINUTE = 60_000_000
DAY = 86_400_000_000
# Three weeks around Europe's and North America's change to winter time.
START = int(dt.datetime(2026, 10, 15, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
SPAN = 21 * DAY
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Eucla",
    "America/St_Johns",
]
SOURCES = ["web", "whatsapp", None]
LANGUAGES = ["en", "de", None]
CUSTOMERS = ["ann", "bob", "cy", None]
_MODELS_USED = [("gpt-4o", "openai"), ("claude", "anthropic"), ("claude", None), (None, None)]
FIGURES = (
    "conversations, used, messages, end_user_messages, agent_messages, events, actions,"
    " multi, multi_span, prompt_tokens, completion_tokens, total_tokens, embedding_tokens,"
    " cost_nanos, priced_calls, unpriced_calls, feedback_positive, feedback_neutral,"
    " feedback_negative, with_feedback"
)
# The conversations with their feedback entries counted from the feedback table (not
# from the conversations' own counts, which the triggers keep).
_WITH_FEEDBACK = (
    "(SELECT c.*, COALESCE(f.p, 0) AS fp, COALESCE(f.u, 0) AS fu, COALESCE(f.n, 0) AS fn,"
    " CASE WHEN f.conversation_id IS NULL THEN 0 ELSE 1 END AS fa FROM conversations c"
    " LEFT JOIN (SELECT project_id, conversation_id,"
    " SUM(CASE WHEN sentiment = 'positive' THEN 1 ELSE 0 END) AS p,"
    " SUM(CASE WHEN sentiment = 'neutral' THEN 1 ELSE 0 END) AS u,"
    " SUM(CASE WHEN sentiment = 'negative' THEN 1 ELSE 0 END) AS n"
    " FROM feedback GROUP BY project_id, conversation_id) f"
    " ON f.project_id = c.project_id AND f.conversation_id = c.conversation_id) x"
)
_QUARTERS = (
    "SELECT project_id, started_at / 900000000, COUNT(*), SUM(CASE WHEN is_used THEN 1 ELSE 0 END),"
    " SUM(message_count), SUM(end_user_message_count), SUM(agent_message_count),"
    " SUM(event_count), SUM(action_count), SUM(CASE WHEN event_count > 1 THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN event_count > 1 THEN ended_at - started_at ELSE 0 END),"
    " SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(embedding_tokens),"
    " SUM(cost_nanos), SUM(priced_calls), SUM(unpriced_calls), SUM(fp), SUM(fu), SUM(fn), SUM(fa)"
    f" FROM {_WITH_FEEDBACK} GROUP BY project_id, started_at / 900000000"
)
_DAYS = (
    _QUARTERS.replace("started_at / 900000000", "started_at / 86400000000, environment,"
                      " source, device, language, country", 1)
    .replace("GROUP BY project_id, started_at / 900000000", "GROUP BY project_id,"
             " started_at / 86400000000, environment, source, device, language, country")
)  # fmt: skip

_STORED = (
    " FROM events e JOIN conversations c"
    " ON c.project_id = e.project_id AND c.conversation_id = e.conversation_id"
)
_MESSAGES = (
    "SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, COUNT(*)"
    f"{_STORED} WHERE e.type = 'message'"
    " GROUP BY c.project_id, c.started_at / 900000000, e.ts / 900000000"
)
_MODEL_SUMS = (
    "calls, prompt_tokens, completion_tokens, total_tokens, embedding_tokens, cost_nanos,"
    " priced_calls"
)
_MODEL_FIGURES = f"project_id, quarter, at, model, provider, {_MODEL_SUMS}"
_MODELS = (
    "SELECT c.project_id, c.started_at / 900000000, e.ts / 900000000, e.model, e.provider,"
    " COUNT(*), SUM(e.prompt_tokens), SUM(e.completion_tokens), SUM(e.total_tokens),"
    " SUM(e.embedding_tokens), COALESCE(SUM(e.cost_nanos), 0), COUNT(e.cost_nanos)"
    f"{_STORED} WHERE e.type = 'token_usage' GROUP BY c.project_id,"
    " c.started_at / 900000000, e.ts / 900000000, e.model, e.provider"
)

_BY_START = "SELECT c.project_id, c.started_at / 900000000"
_TIMED = "e.duration_ms <= 1e12"


def _action_rollups(*, postgres: bool) -> list[tuple[str, str, str]]:
    """Each rollup of actions, buttons and scores: its table, its rows (the count last;
    values grouped again: the key tells -0.0 from 0.0), and the same from the events.
    Sums of doubles are kept as the sum of their whole parts and of the rest."""

    def split(value: str) -> str:
        whole = f"trunc({value})::bigint" if postgres else f"CAST({value} AS INTEGER)"
        rest = f"trunc({value})" if postgres else whole
        return f"COALESCE(SUM({whole}), 0), COALESCE(SUM({value} - {rest}), 0)"

    return [
        (
            "rollup_tools",
            "project_id, quarter, action_name, errors, timed, duration_whole, duration_part,"
            " conversations, actions",
            f"{_BY_START}, e.action_name, SUM(e.is_error), COUNT(CASE WHEN {_TIMED} THEN 1 END),"
            f" {split(f'CASE WHEN {_TIMED} THEN e.duration_ms END')},"
            f" COUNT(DISTINCT e.conversation_id), COUNT(*){_STORED}"
            " WHERE e.type = 'action' GROUP BY 1, 2, 3",
        ),
        (
            "rollup_buttons",
            "project_id, quarter, payload, presses",
            f"{_BY_START}, e.payload, COUNT(*){_STORED} WHERE e.type = 'button' GROUP BY 1, 2, 3",
        ),
        (
            "rollup_scores",
            "project_id, quarter, at, score_name, valued, value_whole, value_part, scores",
            f"{_BY_START}, e.ts / 900000000, e.score_name, COUNT(e.score_value),"
            f" {split('e.score_value')}, COUNT(*){_STORED} WHERE e.type = 'score'"
            " GROUP BY 1, 2, 3, 4",
        ),
        (
            "rollup_score_values",
            "project_id, quarter, score_name, score_value, score_label, SUM(scores)",
            f"{_BY_START}, e.score_name, e.score_value, e.score_label, COUNT(*){_STORED}"
            " WHERE e.type = 'score' GROUP BY 1, 2, 3, 4, 5",
        ),
    ]


def _histograms(*, postgres: bool) -> list[tuple[str, str, str]]:
    """The histograms of the waits and the durations, as :func:`_action_rollups`."""
    whole = "trunc(e.duration_ms)::bigint" if postgres else "CAST(e.duration_ms AS INTEGER)"
    by_day = "SELECT c.project_id, c.started_at / 86400000000"
    return [
        (
            "rollup_wait_days",
            "project_id, day, bucket, wait_sum, waits",
            f"{by_day}, {bucket_sql('e.response_wait', postgres=postgres)},"
            f" SUM(e.response_wait), COUNT(*){_STORED} WHERE e.response_wait IS NOT NULL"
            " GROUP BY 1, 2, 3",
        ),
        (
            "rollup_duration_days",
            "project_id, day, action_name, bucket, actions",
            f"{by_day}, e.action_name, {bucket_sql(whole, postgres=postgres)}, COUNT(*){_STORED}"
            f" WHERE e.type = 'action' AND e.duration_ms >= 0 AND {_TIMED} GROUP BY 1, 2, 3, 4",
        ),
    ]


def _combo_rollups(*, postgres: bool) -> list[tuple[str, str, str]]:
    """The event rollups per combination of attributes and UTC day of the start (UTC hour
    of the event), as :func:`_action_rollups` (whose rebuilds, and those of the
    messages, the models and the histograms, they take with the selection changed)."""
    build = "json_build_array" if postgres else "json_array"
    combo = f"{build}(c.environment, c.source, c.device, c.language, c.country)"
    combo = f"md5({combo}::text)" if postgres else combo  # PostgreSQL's key (schema 21)
    quarter_level = [
        ("rollup_messages", "project_id, quarter, at, messages", _MESSAGES),
        ("rollup_models", _MODEL_FIGURES, _MODELS),
        *_action_rollups(postgres=postgres),
    ]
    found = []
    for table, stored, rebuilt in [*quarter_level, *_histograms(postgres=postgres)]:
        rebuilt = (
            rebuilt.replace("c.started_at / 900000000", "c.started_at / 86400000000")
            .replace("c.started_at / 86400000000", f"{combo}, c.started_at / 86400000000")
            .replace("e.ts / 900000000", "e.ts / 3600000000")
        )
        rebuilt = re.sub(
            r"GROUP BY (\d+(, \d+)*)$",
            lambda m: f"GROUP BY {m.group(1)}, {m.group(1).count(',') + 2}",
            rebuilt,
        )
        stored = re.sub(r"^project_id, (quarter|day), ", "project_id, combo, day, ", stored)
        found.append((table.replace("rollup_", "rollup_combo_"), stored, rebuilt))
    return found


_EMPTIED = [
    ("rollup_tools", "actions, errors, timed, duration_whole, duration_part, conversations"),
    ("rollup_scores", "scores, valued, value_whole, value_part"),
    ("rollup_wait_days", "waits, wait_sum"),
]


def _event(kind: str, cid: str, at: int, payload: dict[str, Any], **extra: Any) -> NewEvent:
    return NewEvent(uuid.uuid4().hex, kind, cid, at, at, payload, **extra)


def _conversation(rng: random.Random, cid: str) -> list[list[NewEvent]]:
    """The events of one conversation, in the batches they arrive in."""
    at = START + rng.randrange(SPAN)
    attributes = {
        "customer_id": rng.choice(CUSTOMERS),
        "customer_ip_address": None,
        "device": rng.choice(["desktop", "mobile", None]),
        "source": rng.choice(SOURCES),
        "language": rng.choice(LANGUAGES),
        "name": None,
        "metadata": None,
        "environment": rng.choice(["production", "development", None]),
    }
    country = rng.choice(["DE", "IN", None])
    kind = "conversation" if rng.random() < 0.7 else "interaction"
    events = [_event(kind, cid, at, attributes, country=country)]
    t = at
    for _ in range(rng.randrange(4)):
        t += rng.randrange(1, 20 * MINUTE)
        user = {"sender": "end_user", "content": "hi", "metadata": None}
        events.append(_event("message", cid, t, user))
        if rng.random() < 0.5:
            t += rng.randrange(1, 5 * MINUTE)
            events.append(_event("action", cid, t, _tool(rng)))
        if rng.random() < 0.3:
            t += rng.randrange(1, MINUTE)
            events.append(_event("button", cid, t, _button(rng)))
        t += rng.randrange(1, 5 * MINUTE)
        agent = {"sender": "agent", "content": "hello", "metadata": None}
        events.append(_event("message", cid, t, agent))
        if rng.random() < 0.6:
            tokens: dict[str, Any] = dict(zip(TOKEN_COLUMNS, (10, 5, 15, 0), strict=True))
            tokens["model"], tokens["provider"] = rng.choice(_MODELS_USED)
            cost = rng.choice([None, 1_500, 20_000])
            events.append(_event("token_usage", cid, t, tokens, cost_nanos=cost))
    for _ in range(rng.choice([0, 0, 1, 2])):  # scores do not date their conversation
        score = {"name": rng.choice(["helpful", "csat"]), "value": rng.choice(_SCORES)}
        events.append(_event("score", cid, t + rng.randrange(3 * DAY), {**score, "comment": None}))
    rng.shuffle(events)
    cut = sorted(rng.sample(range(1, len(events) + 1), min(len(events), rng.randrange(1, 4))))
    batches = [events[a:b] for a, b in zip([0, *cut], cut, strict=False)]
    if rng.random() < 0.3:  # much later: a used conversation event, and an earlier message
        earlier = at - rng.randrange(1, DAY)
        late = [_event("message", cid, earlier, {"sender": "end_user", "content": "?"})]
        late[0].payload["metadata"] = None
        late.append(_event("conversation", cid, at + 1, attributes, country=country))
        batches.append(late)
    return [b for b in batches if b]


# Durations and values that doubles sum exactly, so that means read from the rollups'
# sums equal AVG's to the last bit (other values differ in the rounding of a double).
_DURATIONS = [None, 0, 120.0, 37.5, 2048, 0.25, 1e12, 1e12 + 1]  # past 1e12: not timed
_SCORES = [1, 0, 4.5, -2, True, False, "good", "bad", -0.0]


_TOOLS = ["kb_search", "lookup", "fallback_to_human", "open_ticket"]


def _tool(rng: random.Random) -> dict[str, Any]:
    return {
        # Two escalation actions, one rare: ranges with one of them (its conversations
        # from the rollups) and ranges with both (counted across the names, directly).
        "action_name": rng.choices(_TOOLS, weights=[5, 5, 3, 0.3])[0],
        "duration_ms": rng.choice(_DURATIONS),
        "error_msg": rng.choice([None, None, "timeout"]),
    }


def _button(rng: random.Random) -> dict[str, Any]:
    pressed = [("rate", "👍", "up"), ("rate", "👎", "down"), ("menu", "Help", "help")]
    event, label, value = rng.choice([*pressed, ("menu", "Help", "h")])
    return {"button_event": event, "label": label, "value": value}


def _near(rng: random.Random, starts: list[int]) -> int:
    """A time a few minutes from a stored conversation's start: the ragged ends of a range
    (read directly) then hold conversations, as they seldom would by chance."""
    return rng.choice(starts) + rng.randrange(-20 * MINUTE, 20 * MINUTE)


def _query(rng: random.Random, starts: list[int]) -> MetricsQuery:
    chosen: dict[str, Any] = {}
    for field, pool in (
        ("source", SOURCES[:2]),
        ("device", ["desktop"]),
        ("language", LANGUAGES[:2]),
        ("environment", ["production"]),
        ("country", ["DE"]),
        ("customer_id", CUSTOMERS[:2]),
    ):
        if rng.random() < 0.2:
            chosen[field] = rng.choice(pool)
    if rng.random() < 0.6:
        chosen["since"] = START - DAY + rng.randrange(SPAN + DAY)
        if starts and rng.random() < 0.5:
            chosen["since"] = _near(rng, starts)
        if rng.random() < 0.3:
            chosen["since"] -= chosen["since"] % (15 * MINUTE)  # on a quarter hour
    if rng.random() < 0.6:
        chosen["until"] = START + rng.randrange(SPAN + DAY)
        if starts and rng.random() < 0.5:
            chosen["until"] = _near(rng, starts)
    if rng.random() < 0.1:  # the edges the rollups leave to the direct path: before 1970, near it
        chosen[rng.choice(["since", "until"])] = rng.choice([-DAY, 0, 1, 15 * MINUTE - 1, DAY])
    return MetricsQuery(filters=ConversationQuery(**chosen), tz=rng.choice(ZONES))


def _noise(rng: random.Random, n: int) -> str:
    """*n* characters that do not compress: random code points of 4 bytes (CJK ext. B), the
    text that fills a PostgreSQL B-tree row fastest."""
    return "".join(chr(rng.randrange(0x20000, 0x2A6DF)) for _ in range(n))


def _longest(rng: random.Random, cid: str) -> list[NewEvent]:
    """A conversation *cid* of the longest source and language with a timed action of the
    longest name, none of them compressible: with the combination's JSON array as their
    key, its rows in the rollups per combination outgrew a PostgreSQL B-tree row."""
    source, language, name = (_noise(rng, 256) for _ in range(3))
    attributes = {"source": source, "language": language}
    action = {"action_name": name, "duration_ms": 5.0}
    return [
        NewEvent(f"{cid}0", "conversation", cid, 0, START, attributes),
        NewEvent(f"{cid}1", "action", cid, 1, START + 1, action),
    ]


async def _rows(db: Path | str, sql: str) -> list[tuple[Any, ...]]:
    """:func:`rows`, PostgreSQL's numeric sums as integers."""
    return [tuple(int(v) if type(v).__name__ == "Decimal" else v for v in row)
            for row in await rows(db, sql)]  # fmt: skip


async def _project(storage: Storage) -> int:
    """A new project "A" (made with its ingest key), by id."""
    await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
    return next(p.id for p in await storage.list_projects() if p.name == "A")


async def _check(db: Path | str, storage: Storage, project: int, rng: random.Random) -> None:
    stored_quarters = await _rows(
        db, f"SELECT project_id, quarter, {FIGURES} FROM rollup_quarters WHERE conversations <> 0"
    )
    assert sorted(stored_quarters) == sorted(await _rows(db, _QUARTERS))
    days = await _rows(
        db,
        "SELECT project_id, day, environment, source, device, language, country,"
        f" {FIGURES} FROM rollup_days WHERE conversations <> 0",
    )
    key = repr  # NULLs sort with the text
    assert sorted(days, key=key) == sorted(await _rows(db, _DAYS), key=key)
    for table in ("rollup_quarters", "rollup_days"):  # rows emptied by a move or a deletion
        left = await _rows(db, f"SELECT {FIGURES} FROM {table} WHERE conversations = 0")
        assert all(not any(row) for row in left), table
    messages = await _rows(
        db, "SELECT project_id, quarter, at, messages FROM rollup_messages WHERE messages <> 0"
    )
    assert sorted(messages) == sorted(await _rows(db, _MESSAGES))
    models = await _rows(db, f"SELECT {_MODEL_FIGURES} FROM rollup_models WHERE calls <> 0")
    assert sorted(models, key=key) == sorted(await _rows(db, _MODELS), key=key)
    for table, figures in (("rollup_messages", "messages"), ("rollup_models", _MODEL_SUMS)):
        first = figures.split(",")[0]
        left = await _rows(db, f"SELECT {figures} FROM {table} WHERE {first} = 0")
        assert all(not any(row) for row in left), table
    postgres = isinstance(db, str)
    for table, stored, rebuilt in [
        *_action_rollups(postgres=postgres),
        *_histograms(postgres=postgres),
    ]:
        count = stored.split(", ")[-1]
        grouped = " GROUP BY 1, 2, 3, 4, 5" if count.startswith("SUM") else ""
        found = await _rows(
            db,
            f"SELECT {stored} FROM {table} WHERE scores <> 0{grouped}"
            if grouped
            else f"SELECT {stored} FROM {table} WHERE {count} <> 0",
        )
        assert sorted(found, key=key) == sorted(await _rows(db, rebuilt), key=key), table
    for table, stored, rebuilt in _combo_rollups(postgres=postgres):
        count = "calls" if table == "rollup_combo_models" else stored.split(", ")[-1]
        width = stored.count(",")
        grouped = f" GROUP BY {', '.join(map(str, range(1, width + 1)))}"
        found = await _rows(
            db,
            f"SELECT {stored} FROM {table} WHERE scores <> 0{grouped}"
            if count.startswith("SUM")
            else f"SELECT {stored} FROM {table} WHERE {count} <> 0",
        )
        assert sorted(found, key=key) == sorted(await _rows(db, rebuilt), key=key), table
    combos = [(t.replace("rollup_", "rollup_combo_"), f) for t, f in _EMPTIED]
    for table, figures in [*_EMPTIED, *combos]:  # rows emptied by a move or a deletion
        first = figures.split(",")[0]  # add nothing
        left = await _rows(db, f"SELECT {figures} FROM {table} WHERE {first} = 0")
        assert all(not any(row) for row in left), table
    starts = [int(row[0]) for row in await _rows(db, "SELECT started_at FROM conversations")]
    dialect = POSTGRES if postgres else SQLITE
    counted_by_rollups = 0
    for _ in range(12):
        query = _query(rng, starts)
        rolled = await storage.metrics(project, query)
        direct_query = MetricsQuery(query.filters, query.tz, rollups=False)
        direct = await storage.metrics(project, direct_query)
        assert rolled == direct, query
        summary = await storage.metrics(project, attrs.evolve(query, summary=True))
        assert summary == headline(rolled), query
        # The list's total (from the rollups where they answer) is the number of its rows.
        listed = attrs.evolve(query.filters, limit=1000, count=True)
        counted_by_rollups += rolled_total(project, listed, dialect) is not None
        page = await storage.list_conversations(project, listed)
        assert page.total == len(page.conversations), listed
    assert counted_by_rollups, "no list total was counted from the rollups"
    # The list's pick-lists: each attribute's values with their conversations.
    values = await storage.report(ValuesReport(project))
    for field in VALUE_FIELDS:
        counted = await _rows(
            db,
            f"SELECT {field}, COUNT(*) FROM conversations WHERE project_id = {project}"
            f" AND {field} IS NOT NULL GROUP BY {field}",
        )
        offered = {(v["value"], v["conversations"]) for v in values[field]}
        assert offered == {(value, int(n)) for value, n in counted}, field


@pytest.mark.parametrize("seed", [1, 2])
async def test_rollups_follow_every_change(database: Database, seed: int) -> None:
    rng = random.Random(seed)
    db = database("rollups")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        pending = [_conversation(rng, f"c{n}") for n in range(60)]
        while any(pending):  # the batches of many conversations, interleaved
            batch: list[NewEvent] = []
            for parts in pending:
                if parts and rng.random() < 0.5:
                    batch += parts.pop(0)
            if batch:
                await storage.write_batch(project, batch)
            for _ in range(rng.randrange(3)):  # feedback between batches: later ones move it
                sentiment = rng.choice(["positive", "neutral", "negative"])
                cid = f"c{rng.randrange(60)}"
                await storage.add_feedback(project, cid, Feedback(sentiment, None, None))
        assert (await _rows(db, "SELECT COUNT(*) FROM feedback"))[0][0] > 5
        await _check(db, storage, project, rng)

        for n in rng.sample(range(60), 8):
            await storage.delete_conversation(project, f"c{n}")
        await _check(db, storage, project, rng)

        while any((await storage.erase_customer(project, "ann", max_events=3)).as_dict().values()):
            await _check(db, storage, project, rng)  # also between the steps of one erasure
        cutoff = START + SPAN // 3
        while any((await storage.delete_expired(project, cutoff, max_events=4)).as_dict().values()):
            pass
        await _check(db, storage, project, rng)
    finally:
        await storage.aclose()


def test_a_cut_day_is_read_directly_for_its_shorter_part() -> None:
    """The day histograms read a range's cut day directly: the part inside the range, or,
    when that is longer, the whole day's rows less the part outside (so at most half a
    day; the random ranges above check the figures)."""
    hour = 60 * MINUTE
    late_cuts = choose(False, False, 10 * DAY + hour, 20 * DAY + 22 * hour, days=True)
    assert late_cuts is not None
    read, pieces = late_cuts.complemented()
    assert (read.first, read.end) == (10, 21)  # both cut days whole from the rollups
    assert pieces == [(10 * DAY, 10 * DAY + hour, -1), (20 * DAY + 22 * hour, 21 * DAY, -1)]
    early_cuts = choose(False, False, 10 * DAY + 23 * hour, 20 * DAY + hour, days=True)
    assert early_cuts is not None
    read, pieces = early_cuts.complemented()
    assert (read.first, read.end) == (11, 20)
    assert pieces == [(10 * DAY + 23 * hour, 11 * DAY, 1), (20 * DAY, 20 * DAY + hour, 1)]


async def test_cut_days_at_every_edge_give_the_direct_answer(database: Database) -> None:
    """Ranges whose ends fall at a day's start, just after it, around its middle and at its
    last moment, two and nine days apart, open at either end, ending far in the future
    or starting in 1970's first day: the rollups' answer (the day histograms' cut days
    read for their shorter part) is the direct path's, in UTC and in a half-hour zone,
    and with an attribute filter (the histograms per combination)."""
    rng = random.Random(5)
    db = database("edges")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        for n in range(150):
            for batch in _conversation(rng, f"c{n}"):
                await storage.write_batch(project, batch)
        day = START - START % DAY
        offsets = [0, 1, DAY // 2 - 1, DAY // 2, DAY // 2 + 1, DAY - 1]
        ranges: list[tuple[int | None, int | None]] = []
        for a in offsets:
            for b in offsets:
                ranges.append((day + 3 * DAY + a, day + 5 * DAY + b))
                ranges.append((day + 3 * DAY + a, day + 12 * DAY + b))
        ranges += [(None, day + 7 * DAY + o) for o in offsets]
        ranges += [(day + 7 * DAY + o, None) for o in offsets]
        ranges += [(day + 2 * DAY + DAY // 4, START + SPAN + 30 * DAY + DAY // 3)]
        ranges += [(DAY // 4, day + 9 * DAY + DAY // 3)]
        for since, until in ranges:
            for selection, tz in (
                (ConversationQuery(since=since, until=until), "UTC"),
                (ConversationQuery(since=since, until=until), "Asia/Kolkata"),
                (ConversationQuery(since=since, until=until, source=SOURCES[0]), "UTC"),
            ):
                rolled = await storage.metrics(project, MetricsQuery(selection, tz))
                direct = await storage.metrics(project, MetricsQuery(selection, tz, rollups=False))
                assert rolled == direct, (selection, tz)
    finally:
        await storage.aclose()


async def test_pick_lists_forget_values_whose_conversations_left(database: Database) -> None:
    """The list's pick-lists offer the values stored conversations have: a value whose only
    conversation was deleted, or erased with its customer, is no longer offered."""
    db = database("values")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        conversations = {
            "kept": ("web", "ann"),
            "deleted": ("kiosk", "bob"),
            "erased": ("fax", "cy"),
        }
        await storage.write_batch(
            project,
            [
                _event("conversation", cid, START, {"source": source, "customer_id": customer})
                for cid, (source, customer) in conversations.items()
            ],
        )
        values = await storage.report(ValuesReport(project))
        assert {v["value"] for v in values["source"]} == {"web", "kiosk", "fax"}
        await storage.delete_conversation(project, "deleted")
        while any((await storage.erase_customer(project, "cy", max_events=10)).as_dict().values()):
            pass
        values = await storage.report(ValuesReport(project))
        assert values["source"] == [{"value": "web", "conversations": 1}]
    finally:
        await storage.aclose()


async def test_starts_crossing_in_one_batch_keep_every_sum(database: Database) -> None:
    """Two conversations whose starts move in one batch, one out of a quarter hour and one
    into it, with the same tool and the same model (calls in the same quarter hour): the
    counts under that start net to zero, the durations, errors and tokens do not.  On
    PostgreSQL one statement moves both; each sum must decide whether its row changes."""
    quarter = 15 * MINUTE
    base = START - START % quarter + 10 * quarter
    db = database("crossing")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        out, into = "leaves", "arrives"
        tokens = dict(zip(TOKEN_COLUMNS, (10, 5, 15, 0), strict=True))
        fewer = dict(zip(TOKEN_COLUMNS, (1, 2, 3, 0), strict=True))
        model = {"model": "gpt-4o", "provider": "openai"}
        await storage.write_batch(
            project,
            [
                _event("message", out, base + MINUTE, _said("agent")),
                _event("action", out, base + 2 * quarter, _tool_run("kb_search", 37.5, "boom")),
                _event("token_usage", out, base + 2 * quarter, {**tokens, **model}),
                _event("message", into, base + quarter + MINUTE, _said("agent")),
                _event("action", into, base + 2 * quarter + 1, _tool_run("kb_search", 2, None)),
                _event("token_usage", into, base + 2 * quarter + 1, {**fewer, **model}),
            ],
        )
        await storage.write_batch(  # "leaves" moves a quarter back, "arrives" into its quarter
            project,
            [
                _event("message", out, base - quarter, _said("end_user")),
                _event("message", into, base + 2 * MINUTE, _said("end_user")),
            ],
        )
        await _check(db, storage, project, random.Random(4))
    finally:
        await storage.aclose()


async def test_feedback_follows_its_conversation_into_other_attributes(
    database: Database,
) -> None:
    """Feedback on a conversation whose attributes arrive later, with its start unchanged:
    its counts leave the day's row of no attributes for the row of the new ones."""
    db = database("attributes")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        await storage.write_batch(project, [_event("message", "a", START, _said("end_user"))])
        for sentiment in ("negative", "positive"):
            await storage.add_feedback(project, "a", Feedback(sentiment, None, None))
        attributes = {"source": "web", "device": "mobile", "customer_id": None, "metadata": None}
        await storage.write_batch(project, [_event("interaction", "a", START + MINUTE, attributes)])
        moved = await _rows(
            db,
            "SELECT source, feedback_negative, with_feedback FROM rollup_days"
            " WHERE with_feedback <> 0",
        )
        assert moved == [("web", 1, 1)]
        await _check(db, storage, project, random.Random(6))
    finally:
        await storage.aclose()


async def test_small_values_outlive_a_large_one(database: Database) -> None:
    """A duration of ingest's longest and a score near its largest share their rollup rows
    with small ones, then leave: one conversation moves its start into an earlier quarter
    hour, the other is deleted.  The small values' means are what they were before the
    large ones came: a single running double would have rounded them away."""
    quarter = 15 * MINUTE
    base = START - START % quarter + 20 * quarter
    db = database("large")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        scored = base + 3 * MINUTE
        batch = [_event("message", "small", base + MINUTE, _said("end_user"))]
        batch.append(_event("action", "small", base + 2 * MINUTE, _tool_run("kb", 0.00053, None)))
        batch.append(_event("score", "small", scored, _rated(0.5)))
        for big in ("moves", "goes"):
            batch.append(_event("message", big, base + MINUTE, _said("end_user")))
            batch.append(_event("action", big, base + 2 * MINUTE, _tool_run("kb", 1e12, None)))
            batch.append(_event("score", big, scored, _rated(9e18)))
        await storage.write_batch(project, batch)
        # "moves" starts a quarter hour earlier; "goes" is deleted.
        await storage.write_batch(project, [_event("message", "moves", base - 1, _said("agent"))])
        await storage.delete_conversation(project, "goes")

        in_range = ConversationQuery(since=base, until=base + quarter)
        for rollups in (True, False):
            figures = await storage.metrics(project, MetricsQuery(in_range, rollups=rollups))
            assert figures["totals"]["conversations"] == 1
            (tool,) = figures["tools"]
            assert (tool["count"], tool["avg_duration_ms"]) == (1, 0.001), rollups
            (score,) = figures["scores"]
            assert (score["count"], score["avg"]) == (1, 0.5), rollups
        await _check(db, storage, project, random.Random(5))
    finally:
        await storage.aclose()


async def test_score_categories_differing_after_a_nul_stay_apart(database: Database) -> None:
    """Two categories that differ only after a NUL character (SQLite's quote() stops at
    it): two values in the rollup, as read directly."""
    db = database("nul")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        labels = ["x\x00one", "x\x00two", "x\x00two"]
        await storage.write_batch(
            project,
            [_event("message", "c", START, _said("end_user"))]
            + [_event("score", "c", START + n, _rated(label)) for n, label in enumerate(labels)],
        )
        whole_day = ConversationQuery(since=START - START % DAY, until=START - START % DAY + DAY)
        found = []
        for rollups in (True, False):
            figures = await storage.metrics(project, MetricsQuery(whole_day, rollups=rollups))
            (score,) = figures["scores"]
            found.append(sorted((e["value"], e["count"]) for e in score["distribution"]))
        assert found[0] == found[1]
        assert [count for _, count in found[0]] == [1, 2]
        await _check(db, storage, project, random.Random(6))
    finally:
        await storage.aclose()


async def test_more_tools_than_one_statement_ranks(database: Database) -> None:
    """Hundreds of timed tools in a day's range: their p95s come from one window (SQLite
    would refuse a compound statement of one subquery per tool), equal to the direct
    path's."""
    db = database("tools")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        day = START - START % DAY
        batch = [_event("message", "c", day + MINUTE, _said("end_user"))]
        for n in range(520):
            duration = float(n % 7 * 100 + n)
            batch.append(
                _event("action", "c", day + 2 * MINUTE + n, _tool_run(f"t{n}", duration, None))
            )
            batch.append(_event("action", "c", day + 3 * MINUTE + n, _tool_run(f"t{n}", 5.0, None)))
        await storage.write_batch(project, batch)
        whole_day = ConversationQuery(since=day, until=day + DAY)
        rolled = await storage.metrics(project, MetricsQuery(whole_day))
        direct = await storage.metrics(project, MetricsQuery(whole_day, rollups=False))
        assert rolled == direct
        p95s = {t["action_name"]: t["p95_duration_ms"] for t in rolled["tools"]}
        assert len(p95s) == 520
        assert p95s["t8"] == 108.0 and p95s["t0"] == 5.0  # the larger of the two
    finally:
        await storage.aclose()


def _rated(value: Any) -> dict[str, Any]:
    return {"name": "csat", "value": value, "comment": None}


def _tool_run(name: str, duration: float, error: str | None) -> dict[str, Any]:
    return {"action_name": name, "duration_ms": duration, "error_msg": error}


def _said(sender: str) -> dict[str, Any]:
    return {"sender": sender, "content": "hi", "metadata": None}


async def _first_batches(
    storage: Storage, project: int, rng: random.Random, prefix: str, count: int
) -> list[NewEvent]:
    """Write the first batch of *count* random conversations; return the rest's events."""
    later = []
    for n in range(count):
        parts = _conversation(rng, f"{prefix}{n}")
        await storage.write_batch(project, parts[0])
        later += [event for batch in parts[1:] for event in batch]
    return later


async def test_the_upgrade_builds_the_event_rollups(database: Database) -> None:
    """A database of the schema before the event rollups, holding conversations and their
    events, gets them from its migration equal to its events, and they follow from then on."""
    rng = random.Random(3)
    db = database("upgrade")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        later = await _first_batches(storage, project, rng, "u", 40)
    finally:
        await storage.aclose()
    await execute(db, UNDO_EVENT_ROLLUPS["sqlite" if isinstance(db, Path) else "postgres"])
    storage = await open_storage(db)  # migrates: the event rollups again, backfilled
    try:
        if not isinstance(db, Path):  # the histograms per combination, analyzed as built
            analyzed = "SELECT COUNT(*) FROM pg_stats WHERE tablename = 'rollup_combo_wait_days'"
            assert (await _rows(db, analyzed))[0][0] > 0
        await _check(db, storage, project, rng)
        for start in range(0, len(later), 40):  # the rest of the conversations arrives
            await storage.write_batch(project, later[start : start + 40])
        await _check(db, storage, project, rng)
    finally:
        await storage.aclose()


async def test_the_upgrade_counts_the_stored_feedback(database: Database) -> None:
    """A database of the schema before feedback was rolled up, holding feedback, gets each
    conversation's counts and the rollups' sums from its migration, and they follow later
    feedback and moves."""
    rng = random.Random(5)
    db = database("feedback")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        later = await _first_batches(storage, project, rng, "f", 30)
        for n in range(30):
            for sentiment in ["negative", "positive", "negative"][: n % 4]:
                await storage.add_feedback(project, f"f{n}", Feedback(sentiment, None, None))
    finally:
        await storage.aclose()
    await execute(db, UNDO_FEEDBACK_ROLLUPS["sqlite" if isinstance(db, Path) else "postgres"])
    storage = await open_storage(db)  # migrates: the counts again, backfilled
    try:
        stored = await _rows(
            db,
            "SELECT SUM(feedback_positive), SUM(feedback_negative), SUM(with_feedback)"
            " FROM rollup_quarters",
        )
        # 1, 2 or 3 entries (n % 4) on 8, 7 and 7 of the 30: 7 + 7 positive, 8 + 7 + 2 * 7
        # negative.
        assert stored == [(14, 29, 22)]
        await _check(db, storage, project, rng)
        for start in range(0, len(later), 20):  # the rest arrives, with more feedback
            await storage.write_batch(project, later[start : start + 20])
            await storage.add_feedback(project, f"f{start % 30}", Feedback("neutral", None, None))
        await _check(db, storage, project, rng)
    finally:
        await storage.aclose()


async def test_postgres_upgrade_keys_the_presses_by_their_hash(postgres_database: str) -> None:
    """A database of PostgreSQL's schema 16, holding presses and scores, keeps its rollups
    through the migration that bounds their keys (schema 17); they follow the batches that
    come after it, among them presses too long for the old key."""
    rng = random.Random(9)
    url = pg_helpers.create_schema(postgres_database)
    presses = "SELECT project_id, quarter, payload, presses FROM rollup_buttons"
    try:
        storage = await open_storage(url)
        try:
            project = await _project(storage)
            later = await _first_batches(storage, project, rng, "k", 30)
        finally:
            await storage.aclose()
        await execute(url, UNDO_BOUNDED_KEYS)
        before = await _rows(url, presses)
        storage = await open_storage(url)  # migrates: the presses keyed anew
        try:
            assert sorted(await _rows(url, presses)) == sorted(before) != []
            await _check(url, storage, project, rng)
            noise = _noise(rng, 4096)
            long = {"button_event": "rate", "label": noise, "value": "up"}  # 16 KB
            later += [NewEvent(f"long{n}", "button", f"k{n}", 0, START + n * DAY, long)
                      for n in range(3)]  # fmt: skip
            for start in range(0, len(later), 30):  # the rest arrives
                await storage.write_batch(project, later[start : start + 30])
            await _check(url, storage, project, rng)
            assert await storage.delete_conversation(project, "k1")
            await _check(url, storage, project, rng)
        finally:
            await storage.aclose()
    finally:
        pg_helpers.drop_schema(url)


async def test_postgres_upgrade_keys_the_combinations_by_their_hash(
    postgres_database: str,
) -> None:
    """A database of PostgreSQL's schema 20 as first written, whose rollups per combination
    were keyed by the combination's JSON array, gets them keyed by its MD5 from schema
    21's migration, its triggers write that from then on, and the batches that come
    after it follow, among them one of the longest attributes and names (with which the
    array outgrew a B-tree row)."""
    import asyncpg

    from agentsight.server.storage.postgres._schema import _migrations

    rng = random.Random(10)
    url = pg_helpers.create_schema(postgres_database)
    try:
        storage = await open_storage(url)
        try:
            project = await _project(storage)
            later = await _first_batches(storage, project, rng, "h", 30)
        finally:
            await storage.aclose()
        await execute(url, UNDO_COMBO_ROLLUPS["postgres"])  # back to schema 19
        first_written = dict(_migrations())[20]
        for alias in "cno":
            array = f"json_build_array({alias}.environment, {alias}.source, {alias}.device,"
            array += f" {alias}.language, {alias}.country)::text"
            first_written = first_written.replace(f"md5({array})", array)
        assert "md5(json_build_array(" not in first_written
        connection = await asyncpg.connect(url)
        try:  # the migration as first written, as the collector ran it
            async with connection.transaction():
                await connection.execute(first_written)
                await connection.execute("INSERT INTO schema_version (version) VALUES (20)")
        finally:
            await connection.close()
        assert (await _rows(url, "SELECT combo FROM rollup_combo_tools LIMIT 1"))[0][0][0] == "["
        storage = await open_storage(url)  # migrates: the combinations rehashed
        try:
            await _check(url, storage, project, rng)
            for start in range(0, len(later), 30):  # the rest arrives
                await storage.write_batch(project, later[start : start + 30])
            await storage.write_batch(project, _longest(rng, "long"))
            await _check(url, storage, project, rng)
        finally:
            await storage.aclose()
    finally:
        pg_helpers.drop_schema(url)


async def test_upgrade_builds_the_rollups_per_combination_of_the_longest(
    database: Database,
) -> None:
    """A database from before the rollups per combination that holds a conversation of
    the longest attributes and names gets them from its migrations (the combination's
    JSON array as their key outgrew a PostgreSQL B-tree row and failed the migration)."""
    rng = random.Random(11)
    db = database("longest")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        await storage.write_batch(project, _longest(rng, "l"))
    finally:
        await storage.aclose()
    await execute(db, UNDO_COMBO_ROLLUPS["sqlite" if isinstance(db, Path) else "postgres"])
    storage = await open_storage(db)  # migrates: the rollups per combination, built
    try:
        await _check(db, storage, project, rng)
    finally:
        await storage.aclose()


async def test_concurrent_writers_keep_the_rollups(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Batches written at once, each adding to rollup rows of many quarters and attribute
    combinations in no common order (PostgreSQL: several connections), all commit the first
    time (the storage retries a deadlocked batch: none may be) and leave the rollups equal
    to the conversations."""
    caplog.set_level(logging.DEBUG, logger="agentsight")
    rng = random.Random(7)
    db = database("concurrent")
    storage = await open_storage(db)
    try:
        project = await _project(storage)
        batches = [
            [event for parts in (_conversation(rng, f"w{w}-{n}") for n in range(40))
             for batch in parts for event in batch]
            for w in range(8)
        ]  # fmt: skip

        async def write(batch: list[NewEvent]) -> None:
            for start in range(0, len(batch), 60):
                await storage.write_batch(project, batch[start : start + 60])

        async with anyio.create_task_group() as group:
            for batch in batches:
                group.start_soon(write, batch)
        await _check(db, storage, project, rng)
        assert not [r for r in caplog.records if "retrying a batch" in r.getMessage()]
    finally:
        await storage.aclose()


async def test_postgres_upgrade_waits_for_a_batch_in_progress(postgres_database: str) -> None:
    """A batch of an older collector that commits while the rollups' migration runs is in
    the rollups: the migration waits for it before it sums the conversations."""
    import asyncpg

    url = pg_helpers.create_schema(postgres_database)
    try:
        await create_at(url, 6)  # the schema before the rollups
        old = await asyncpg.connect(url)
        try:
            await old.execute("INSERT INTO projects (name, created_at) VALUES ('A', 0)")
            insert = (
                "INSERT INTO conversations (project_id, conversation_id, started_at, ended_at,"
                " created_at, event_count) SELECT id, $1, $2, $2, 0, 1 FROM projects"
            )
            await old.execute(insert, "before", START)
            transaction = old.transaction()
            await transaction.start()
            await old.execute(insert, "during", START + DAY)  # not committed yet
            upgrade = asyncio.ensure_future(open_storage(url))
            await asyncio.sleep(0.5)  # the migration is under way, waiting or not
            await transaction.commit()
            storage = await asyncio.wait_for(upgrade, 30)
            await storage.aclose()
        finally:
            await old.close()
        sums = await _rows(url, "SELECT SUM(conversations) FROM rollup_quarters")
        days = await _rows(url, "SELECT SUM(conversations) FROM rollup_days")
        assert sums == days == [(2,)]
    finally:
        pg_helpers.drop_schema(url)


async def test_postgres_feedback_upgrade_waits_for_a_retention_step(postgres_database: str) -> None:
    """An older collector's retention step, which locks conversation rows and then deletes
    them, finishes while the feedback migration waits for the table: neither deadlocks
    (a migration that took a weaker lock first and then added its columns did)."""
    import asyncpg

    url = pg_helpers.create_schema(postgres_database)
    try:
        await create_at(url, 14)  # the schema before the feedback rollups
        old = await asyncpg.connect(url)
        upgrade = None
        try:
            await old.execute("INSERT INTO projects (name, created_at) VALUES ('A', 0)")
            for cid in ("old", "kept"):
                await old.execute(
                    "INSERT INTO conversations (project_id, conversation_id, started_at,"
                    " ended_at, created_at, event_count) SELECT id, $1, $2, $2, 0, 1 FROM projects",
                    cid,
                    START if cid == "old" else START + DAY,
                )
            transaction = old.transaction()
            await transaction.start()
            await old.fetch(  # the step's first statement: the expired rows, locked
                "SELECT conversation_id FROM conversations WHERE project_id = 1 AND ended_at < $1"
                " ORDER BY ended_at LIMIT 10 FOR UPDATE SKIP LOCKED",
                START + 1,
            )
            upgrade = asyncio.ensure_future(open_storage(url))
            await asyncio.sleep(0.5)  # the migration is under way, waiting for the table
            with anyio.fail_after(20):
                await old.execute(
                    "DELETE FROM feedback WHERE project_id = 1 AND conversation_id = 'old'"
                )
                await old.execute(
                    "DELETE FROM conversations WHERE project_id = 1 AND conversation_id = 'old'"
                )
                await transaction.commit()
        finally:
            await old.close()  # a failed step's locks go with it
            if upgrade is not None:  # the migration ends before its schema is dropped
                with anyio.fail_after(30):
                    storage = await upgrade
                await storage.aclose()
        left = await _rows(url, "SELECT conversation_id, feedback_negative FROM conversations")
        assert left == [("kept", 0)]
        assert await _rows(url, "SELECT MAX(version) FROM schema_version") == [
            (LATEST["postgres"],)
        ]
    finally:
        pg_helpers.drop_schema(url)
