"""Valid events at the size limits of ingest are stored on both backends.

PostgreSQL holds at most 2704 bytes in a row of a B-tree index after its
in-line compression (8191 before), the columns of ``INCLUDE`` counted; text of
4-byte characters that do not compress fills it fastest.  An index whose row can
outgrow that refuses the whole batch, so a covering index of ``events`` may
hold at most about that much of an event's own text.  The presses' rollup and
the scores' index held more before PostgreSQL's schema 17.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from agentsight import _wire as wire
from agentsight.server import Storage, open_storage
from agentsight.server._metrics import MetricsQuery
from agentsight.server.storage import ConversationQuery, NewEvent
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio
AT = 1_780_000_000_000_000


def _noise(n: int, seed: int) -> str:
    """*n* characters that do not compress: random code points of 4 bytes (CJK ext. B)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x20000, 0x2A6DF)) for _ in range(n))


def _event(kind: str, cid: str, payload: dict[str, Any], timestamp: int = AT) -> NewEvent:
    return NewEvent(uuid.uuid4().hex, kind, cid, timestamp, timestamp, payload)


async def _store(database: Database, events: list[NewEvent]) -> list[str]:
    """Store *events* in a new project; the types of the events read back."""
    storage: Storage = await open_storage(database("sizes"))
    try:
        project = await _project(storage)
        await storage.write_batch(project, events)
        stored = await storage.list_events(project, events[0].conversation_id)
        return [str(event["type"]) for event in stored]
    finally:
        await storage.aclose()


async def test_a_model_call_with_the_longest_names_is_stored(database: Database) -> None:
    call = {
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "embedding_tokens": 0,
        "model": _noise(wire.SHORT, 3),
        "provider": _noise(wire.SHORT, 4),
    }
    cid = _noise(wire.SHORT, 2)
    assert await _store(database, [_event("token_usage", cid, call)]) == ["token_usage"]


async def test_a_press_with_a_long_label_is_stored(database: Database) -> None:
    press = {"button_event": "rate", "label": _noise(450, 1), "value": "up", "metadata": None}
    cid = _noise(wire.SHORT, 5)
    assert await _store(database, [_event("button", cid, press)]) == ["button"]


async def test_presses_with_the_longest_labels_count_apart(database: Database) -> None:
    """Presses of the longest labels, and metadata, are stored and counted per label, with
    labels that differ in their last character apart; their counts follow the conversation
    when its start moves to another day and when it is deleted."""
    label = _noise(wire.LONG, 6)
    other = label[:-1] + chr(ord(label[-1]) ^ 1)
    metadata = {"context": _noise(2000, 10)}
    presses = [
        _event("button", "c1", {"button_event": "rate", "label": text, "value": "up", **extra})
        for text, extra in ((label, {}), (label, {}), (other, {"metadata": metadata}))
    ]
    day = 86_400_000_000
    earlier = {"sender": "end_user", "content": "hello"}
    storage: Storage = await open_storage(database("presses"))
    try:
        project = await _project(storage)
        await storage.write_batch(project, presses)
        assert _labels(await storage.metrics(project, MetricsQuery())) == [(label, 2), (other, 1)]
        # A message from the day before moves the conversation's start (and its presses).
        await storage.write_batch(project, [_event("message", "c1", earlier, timestamp=AT - day)])
        moved = ConversationQuery(since=AT - day - 60_000_000, until=AT - day + 60_000_000)
        for rollups in (True, False):
            figures = await storage.metrics(project, MetricsQuery(moved, rollups=rollups))
            assert _labels(figures) == [(label, 2), (other, 1)], rollups
        assert await storage.delete_conversation(project, "c1")
        assert _labels(await storage.metrics(project, MetricsQuery())) == []
    finally:
        await storage.aclose()


async def test_a_score_with_the_longest_name_and_category_is_stored(database: Database) -> None:
    """The longest score name and category, in a conversation of the longest id, are in the
    metrics' distribution and found by the list's score filter (and only by their own)."""
    name, category, cid = _noise(wire.SHORT, 7), _noise(wire.SHORT, 8), _noise(wire.SHORT, 9)
    storage: Storage = await open_storage(database("scores"))
    try:
        project = await _project(storage)
        score = {"name": name, "value": category}
        await storage.write_batch(project, [_event("score", cid, score)])
        for rollups in (True, False):
            figures = await storage.metrics(project, MetricsQuery(rollups=rollups))
            assert [(s["name"], s["distribution"]) for s in figures["scores"]] == [
                (name, [{"value": category, "count": 1}])
            ], rollups
        for wanted, found in ((category, [cid]), (category[:-1], [])):
            page = await storage.list_conversations(
                project, ConversationQuery(score=name, score_value=wanted)
            )
            assert [c["conversation_id"] for c in page.conversations] == found
    finally:
        await storage.aclose()


async def _project(storage: Storage) -> int:
    await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
    return next(p.id for p in await storage.list_projects() if p.name == "A")


def _labels(figures: dict[str, Any]) -> list[tuple[str, int]]:
    return [(b["label"], b["presses"]) for b in figures["buttons"]["by_label"]]


async def test_the_longest_attributes_with_the_longest_names_are_stored(
    database: Database,
) -> None:
    """A conversation whose source and language are the longest, with a timed action, a
    model call and a score of the longest names and a waited message, is stored and
    counted under its combination of attributes (the rollups per combination key it)."""
    cid = _noise(wire.SHORT, 11)
    attributes = {"source": _noise(wire.SHORT, 12), "language": _noise(wire.SHORT, 13)}
    action = {"action_name": _noise(wire.SHORT, 14), "duration_ms": 120.0}
    call = {
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "embedding_tokens": 0,
        "model": _noise(wire.SHORT, 15),
        "provider": _noise(wire.SHORT, 16),
    }
    score = {"name": _noise(wire.SHORT, 17), "value": _noise(wire.SHORT, 18)}
    events = [
        _event("conversation", cid, attributes),
        _event("message", cid, {"sender": "end_user", "content": "hi"}, AT + 1),
        _event("message", cid, {"sender": "agent", "content": "hello"}, AT + 2_000),
        _event("action", cid, action, AT + 3_000),
        _event("token_usage", cid, call, AT + 4_000),
        _event("score", cid, score, AT + 5_000),
    ]
    storage: Storage = await open_storage(database("attributes"))
    try:
        project = await _project(storage)
        await storage.write_batch(project, events)
        selected = ConversationQuery(source=attributes["source"], language=attributes["language"])
        for rollups in (True, False):
            figures = await storage.metrics(project, MetricsQuery(selected, rollups=rollups))
            assert figures["totals"]["conversations"] == 1, rollups
            tools = [(t["action_name"], t["p95_duration_ms"]) for t in figures["tools"]]
            assert tools == [(action["action_name"], 120.0)], rollups
            assert figures["response_time_ms"]["count"] == 1, rollups
    finally:
        await storage.aclose()
