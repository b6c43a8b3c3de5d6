"""The list's score filters find the same conversations in the same order, with the same
total, whether their scores are few (read first) or many (the scores of each row looked
up in the list's order): every sort, both directions, page by page.

The expected pages are the project's pages without the score filters (with the other
filters) in the same order, kept where the conversation holds a matching score (known
from the events written).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import attrs
import pytest

from agentsight.server import open_storage
from agentsight.server.storage import ConversationChanges, ConversationQuery, Feedback, NewEvent
from agentsight.server.storage._listing import SORTS
from tests.server.collector_helpers import every_page
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio
START = 1_780_000_000_000_000
SECOND = 1_000_000
CONVERSATIONS = 1000


def _events(rng: random.Random) -> tuple[list[NewEvent], dict[str, list[tuple[str, Any]]]]:
    """Conversations of random lengths and starts; every one rated ``resolved``, five
    ``csat`` (one of them twice: fewer scores than a hundredth of the conversations),
    six a ``topic`` (one of them twice); the scores of each conversation by id."""
    events: list[NewEvent] = []
    scores: dict[str, list[tuple[str, Any]]] = {}

    def add(kind: str, cid: str, at: int, payload: dict[str, Any]) -> None:
        events.append(NewEvent(uuid.uuid4().hex, kind, cid, len(events), at, payload))

    rated = {f"c{n}": [1, 4, 5, 2, 5][i] for i, n in enumerate(rng.sample(range(CONVERSATIONS), 5))}
    chosen = rng.sample(range(CONVERSATIONS), len(TOPICS))
    topics = {f"c{n}": topic for n, topic in zip(chosen, TOPICS, strict=True)}
    for n in range(CONVERSATIONS):
        cid = f"c{n}"
        at = START + rng.randrange(86_400) * SECOND
        add("conversation", cid, at, {"source": "web"})
        for k in range(rng.randrange(4)):
            add("message", cid, at + (k + 1) * SECOND, {"sender": "end_user", "content": "hi"})
        scored: list[tuple[str, Any]] = [("resolved", rng.random() < 0.3)]
        if cid in rated:
            scored.append(("csat", rated[cid]))
        if cid == min(rated):
            scored.append(("csat", 3))
        if cid in topics:
            scored.append(("topic", topics[cid]))
        if cid == min(topics):
            scored.append(("topic", "refund"))
        for name, value in scored:
            add("score", cid, at + 10 * SECOND, {"name": name, "value": value})
        scores[cid] = scored
    return events, scores


def _matches(scored: list[tuple[str, Any]], query: ConversationQuery) -> bool:
    for name, value in scored:
        if name != query.score:
            continue
        number = None if isinstance(value, str) else float(value)  # a bool: 0 or 1
        if query.score_min is not None and (number is None or number < query.score_min):
            continue
        if query.score_max is not None and (number is None or number > query.score_max):
            continue
        label = str(value).lower() if isinstance(value, bool) else value
        if query.score_value is not None and label != query.score_value:
            continue
        return True
    return False


#: Categories of few conversations, one of them twice; PostgreSQL finds them by their
#: MD5 and compares them whole (one is as long as a category can be, in 4-byte characters).
TOPICS = ["refund", "refund", "Refund", "billing", "refund", "\U0001f600" * 256]

FILTERS: list[dict[str, Any]] = [
    {"score": "csat"},
    {"score": "csat", "score_min": 4.0},
    {"score": "csat", "score_max": 2.0},
    {"score": "csat", "score_min": 2.5, "score_max": 3.5},
    {"score": "resolved", "score_value": "true"},
    {"score": "resolved", "score_value": "false"},
    {"score": "topic", "score_value": "refund"},
    {"score": "topic", "score_value": "Refund"},
    {"score": "topic", "score_value": "\U0001f600" * 256},
    {"score": "topic", "score_value": "refunds"},
    {"score": "resolved"},
    {"score": "nothing"},
    # With a value range too, and with filters of the conversations.
    {"score": "resolved", "score_value": "true", "score_min": 0.5},
    {"score": "resolved", "score_value": "true", "score_max": 0.5},
    {"score": "topic", "score_value": "refund", "since": START + 43_200 * SECOND},
    {"score": "resolved", "score_value": "false", "until": START + 21_600 * SECOND},
    {"score": "csat", "source": "web"},
]


async def test_score_filters_page_through_every_sort(database: Database) -> None:
    rng = random.Random(21)
    events, scores = _events(rng)
    storage = await open_storage(database("scores"))
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        for start in range(0, len(events), 500):
            await storage.write_batch(1, events[start : start + 500])
        for sort in SORTS:
            for ascending in (False, True):
                order = ConversationQuery(sort=sort, ascending=ascending, limit=100)
                everything, _ = await every_page(storage, order)
                assert len(everything) == CONVERSATIONS
                for filters in FILTERS:
                    query = ConversationQuery(
                        sort=sort, ascending=ascending, limit=3, count=True, **filters
                    )
                    others = {k: v for k, v in filters.items() if not k.startswith("score")}
                    listed = everything
                    if others:
                        listed, _ = await every_page(storage, attrs.evolve(order, **others))
                    expected = [cid for cid in listed if _matches(scores[cid], query)]
                    found, total = await every_page(storage, query)
                    assert (found, total) == (expected, len(expected)), (sort, ascending, filters)
    finally:
        await storage.aclose()


async def test_a_conversation_id_holding_nul_is_found_by_its_score(database: Database) -> None:
    """Few scores, one of them on a conversation whose id holds U+0000 (which ingest
    accepts): both conversations are listed and counted."""
    storage = await open_storage(database("nul"))
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        ids = [f"c{n}" for n in range(300)] + ["a\x00b"]
        events = [NewEvent(f"s{n}", "conversation", cid, 0, START + n, {}) for n, cid in
                  enumerate(ids)]  # fmt: skip
        events += [NewEvent(f"r{n}", "score", cid, 1, START + n, {"name": "csat", "value": 5})
                   for n, cid in enumerate(["c8", "a\x00b"])]  # fmt: skip
        await storage.write_batch(1, events)
        page = await storage.list_conversations(1, ConversationQuery(score="csat", count=True))
        assert (len(page.conversations), page.total) == (2, 2)
        # PostgreSQL text cannot hold U+0000: it stores U+FFFD instead.
        assert {c["conversation_id"] for c in page.conversations} in (
            {"c8", "a\x00b"},
            {"c8", "a\ufffdb"},
        )
    finally:
        await storage.aclose()


#: Sentiment and mark filters, alone and with the others: sentiments of few, some and
#: many conversations (one of the first two rated twice); the marks few, then many.
SPARSE_FILTERS: list[dict[str, Any]] = [
    {"sentiment": "negative"},
    {"sentiment": "positive"},
    {"sentiment": "neutral"},
    {"sentiment": "neutral", "source": "web", "is_used": False},
    {"sentiment": "negative", "is_marked": True},
    {"is_marked": True},
    {"is_marked": False},
    {"is_marked": False, "source": "web", "since": START + 21_600 * SECOND},
    {"is_marked": False, "sentiment": "neutral"},
    {"is_marked": True, "sentiment": "positive"},
    {"is_marked": True, "source": "web"},
    {"sentiment": "negative", "score": "resolved", "score_value": "true"},
    {"sentiment": "positive", "score": "csat"},
    {"sentiment": "positive", "since": START + 43_200 * SECOND},
    {"score": "legacy"},
    {"score": "legacy", "sentiment": "positive"},
    {"score": "legacy", "is_marked": False, "until": START + 43_200 * SECOND},
    {"sentiment": "neutral", "score": "resolved", "score_value": "false"},
    # With text, which a walk tests row by row to the end (no index to fall back on).
    {"sentiment": "neutral", "q": "hi"},
    {"score": "legacy", "is_marked": True, "q": "hi"},
    {"is_marked": True, "until": START + 21_600 * SECOND},
]


async def test_sentiment_and_mark_filters_page_through_every_sort(database: Database) -> None:
    """The sentiment and mark filters find the same pages and totals whether their
    conversations are few (read first by index) or many (tested row by row)."""
    rng = random.Random(7)
    events, scores = _events(rng)
    ids = [f"c{n}" for n in range(CONVERSATIONS)]
    negative = rng.sample(ids, 4)  # fewer than the probe reads: read first
    # More, but a tenth of the conversations or less (a total starts from the feedback):
    # the first 50 created, far back in the newest first, where a walk of that order
    # stops and the page reads them by index.
    neutral = ids[:50]
    positive = rng.sample(ids, 300)  # more still: a total from the rows
    # A score only the 60 earliest started hold (one no longer sent): far back in the
    # latest started first.
    starts = {e.conversation_id: e.timestamp for e in events if e.type == "conversation"}
    for cid in sorted(ids, key=lambda cid: (starts[cid], cid))[:60]:
        legacy = {"name": "legacy", "value": 1}
        at = starts[cid] + 20 * SECOND
        events.append(NewEvent(uuid.uuid4().hex, "score", cid, len(events), at, legacy))
        scores[cid].append(("legacy", 1))
    storage = await open_storage(database("sparse"))
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        for start in range(0, len(events), 500):
            await storage.write_batch(1, events[start : start + 500])
        for cid in [*negative, negative[0]]:
            assert await storage.add_feedback(1, cid, Feedback("negative", "wrong answer"))
        for cid in [*neutral, neutral[0]]:
            assert await storage.add_feedback(1, cid, Feedback("neutral"))
        for cid in positive:
            assert await storage.add_feedback(1, cid, Feedback("positive"))
        feedback: dict[str, set[str]] = {cid: set() for cid in ids}
        for cid in negative:
            feedback[cid].add("negative")
        for cid in neutral:
            feedback[cid].add("neutral")
        for cid in positive:
            feedback[cid].add("positive")
        marked: set[str] = set()
        for more in (6, 200):  # fewer than a hundredth of the conversations, then more
            for cid in rng.sample(sorted(set(ids) - marked), more):
                assert await storage.update_conversation(
                    1, cid, ConversationChanges(is_marked=True)
                )
                marked.add(cid)
            for sort in SORTS:
                for ascending in (False, True):
                    order = ConversationQuery(sort=sort, ascending=ascending, limit=100)
                    everything, _ = await every_page(storage, order)
                    for filters in SPARSE_FILTERS:
                        query = ConversationQuery(sort=sort, ascending=ascending, **filters)
                        others = {
                            k: v
                            for k, v in filters.items()
                            if k in ("source", "since", "until", "is_used", "q")
                        }
                        listed = everything
                        if others:
                            listed, _ = await every_page(storage, attrs.evolve(order, **others))
                        expected = [
                            cid
                            for cid in listed
                            if (query.score is None or _matches(scores[cid], query))
                            and (query.sentiment is None or query.sentiment in feedback[cid])
                            and (query.is_marked is None or query.is_marked == (cid in marked))
                        ]
                        # Pages of 3, or of 40 through the many matches of a dense filter.
                        limit = 3 if len(expected) < 60 else 40
                        query = attrs.evolve(query, limit=limit, count=True)
                        found, total = await every_page(storage, query)
                        assert (found, total) == (expected, len(expected)), (
                            more,
                            sort,
                            ascending,
                            filters,
                        )
    finally:
        await storage.aclose()
