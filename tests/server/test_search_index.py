"""The list's text filter with the search index (``agentsight search-index``) finds the
same conversations, in the same order and with the same total, as without it: every
sort, page by page, with the other filters, before and after conversations are
added, deleted, expired and erased while the index is kept.

Expected pages come from the messages written: a conversation matches when one of its
messages holds the text, ASCII letters compared without case and every other
character as it is (SQLite's ``LIKE``, which PostgreSQL's ``lower(... COLLATE "C")``
matches); in the project's order with the other filters.  The texts hold what the
index folds differently from that (non-ASCII case, ``İ``), the ``LIKE``'s wildcards
and escape, quotes of FTS5's query syntax, and words at every density: in a handful
of conversations (a total reads them through the index), in the 50 first created (far
back in the newest first: a bounded walk stops and the page reads them by index), and
in most.
"""

from __future__ import annotations

import random
import urllib.parse
import uuid
from typing import Any

import attrs
import pytest

from agentsight.server import Storage, open_storage
from agentsight.server.storage import ConversationChanges, ConversationQuery, Feedback, NewEvent
from agentsight.server.storage._listing import SORTS
from tests.server import pg_helpers
from tests.server.collector_helpers import every_page
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio
START = 1_780_000_000_000_000
SECOND = 1_000_000
HOUR = 3600 * SECOND
CONVERSATIONS = 1000
_FILLER = "abcdefgh"
#: Phrases put into messages, each with the conversations that get it (see ``_events``).
_RARE = ["Refund please", "Straße", "Äpfel", "100% sure", "sicher_x", "a\\b", 'say "hi"']
_RARE += ["İstanbul", "\U0001f600\U0001f600 ok"]

#: Searches: each phrase as written and in other cases, parts of words and across
#: them, wildcards and the escape as text, two characters (no trigram: walked), none.
SEARCHES = [
    "refund",
    "REFUND PLEASE",
    "und pl",
    "straße",
    "STRASSE",
    "äpfel",
    "ÄPFEL",
    "Äpf",
    "100%",
    "0% s",
    "sicher_",
    "er_x",
    "a\\b",
    '"hi"',
    'y "h',
    "istanbul",
    "İst",
    "\U0001f600\U0001f600",
    "\U0001f600 o",
    "legacy word",
    "LEGACY",
    "common",
    "ommo",
    "xq",
    "zzzzzz",
]
#: Searches paged through every sort in both directions (the rest: the default order).
EVERY_SORT = {"refund", "legacy word", "common", "ÄPFEL", "xq"}
#: Other filters combined with a search.
WITH: list[dict[str, Any]] = [
    {},
    {"source": "web"},
    {"since": START + 6 * HOUR, "until": START + 18 * HOUR},
    {"is_marked": True},
    {"sentiment": "negative"},
    {"customer_id": "cust-1"},
    {"is_used": True},
]


def _fold(text: str) -> str:
    """*text* with its ASCII letters in lower case (what ``LIKE`` compares)."""
    return text.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})


def _events(
    rng: random.Random, names: list[str], at: int
) -> tuple[list[NewEvent], dict[str, list[str]]]:
    """Conversations *names*, started over 24 hours from *at*, of 0 to 4 messages each:
    random words of ``_FILLER``'s letters, ``common`` in most, ``legacy word`` in the 50
    first created, each ``_RARE`` phrase in three.  The messages of each, by id."""
    events: list[NewEvent] = []
    texts: dict[str, list[str]] = {}
    rare = {name: rng.sample(names, 3) for name in _RARE}
    for n, cid in enumerate(names):
        start = at + rng.randrange(86_400) * SECOND
        attributes = {
            "source": rng.choice(["web", "whatsapp"]),
            "customer_id": f"cust-{rng.randrange(20)}",
            "is_used": rng.random() < 0.8,
        }
        events.append(NewEvent(uuid.uuid4().hex, "conversation", cid, 0, start, attributes))
        said: list[str] = []
        for _ in range(rng.randrange(5)):
            words = [
                "".join(rng.choice(_FILLER) for _ in range(rng.randrange(2, 7)))
                for _ in range(rng.randrange(1, 6))
            ]
            if rng.random() < 0.5:
                words.insert(rng.randrange(len(words) + 1), "Common")
            said.append(" ".join(words))
        extra = [phrase for phrase, chosen in rare.items() if cid in chosen]
        if n < 50:
            extra.append("a legacy word")
        for phrase in extra:
            if not said:
                said.append("")
            k = rng.randrange(len(said))
            said[k] = f"{said[k]} {phrase}".strip()
        for k, text in enumerate(said):
            payload = {"sender": rng.choice(["end_user", "agent"]), "content": text}
            events.append(
                NewEvent(uuid.uuid4().hex, "message", cid, k + 1, start + (k + 1) * SECOND, payload)
            )
        texts[cid] = said
    return events, texts


async def _check(storage: Storage, texts: dict[str, list[str]], when: str) -> None:
    """Every search, with every set of other filters, against the messages in *texts*."""
    for sort in SORTS:
        for ascending in (False, True):
            order = ConversationQuery(sort=sort, ascending=ascending, limit=100)
            listed: dict[int, list[str]] = {}
            for n, others in enumerate(WITH):
                listed[n], _ = await every_page(storage, attrs.evolve(order, **others))
            for text in SEARCHES:
                if (sort, ascending) != ("created", False) and text not in EVERY_SORT:
                    continue
                for n, others in enumerate(WITH):
                    expected = [
                        cid
                        for cid in listed[n]
                        if any(_fold(text) in _fold(said) for said in texts[cid])
                    ]
                    # Pages of 3 (a walk of 400 rows), or of 40 through many matches.
                    limit = 3 if len(expected) < 60 else 40
                    query = ConversationQuery(
                        q=text, sort=sort, ascending=ascending, limit=limit, count=True, **others
                    )
                    found = await every_page(storage, query)
                    assert found == (expected, len(expected)), (when, sort, ascending, text, others)


async def _integrity(storage: Storage, database: str | Any) -> None:
    """SQLite: FTS5's own check of the index against the messages it indexes."""
    if isinstance(database, str):
        return
    import sqlite3

    connection = sqlite3.connect(database)
    try:
        connection.execute(
            "INSERT INTO events_text (events_text, rank) VALUES ('integrity-check', 1)"
        )
    finally:
        connection.close()


async def test_searches_find_the_same_pages_with_the_index(database: Database) -> None:
    rng = random.Random(3)
    names = [f"c{n:04d}" for n in range(CONVERSATIONS)]
    events, texts = _events(rng, names, START)
    db = database("search")
    storage = await open_storage(db)
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        for start in range(0, len(events), 500):
            await storage.write_batch(1, events[start : start + 500])
        for cid in rng.sample(names, 40):
            assert await storage.update_conversation(1, cid, ConversationChanges(is_marked=True))
        for cid in rng.sample(names, 60):
            assert await storage.add_feedback(1, cid, Feedback("negative"))
        await _check(storage, texts, "without the index")
        assert not await storage.search_index()
        assert await storage.set_search_index(True)
        assert await storage.search_index()
        assert not await storage.set_search_index(True)  # built already
        await _integrity(storage, db)
        await _check(storage, texts, "with the index")

        # Kept by every path that stores or removes messages: new conversations (and a
        # batch sent again), a deleted one, the oldest expired, a customer erased.
        more, more_texts = _events(rng, [f"d{n:04d}" for n in range(200)], START + 30 * HOUR)
        await storage.write_batch(1, more)
        assert (await storage.write_batch(1, more)).duplicates == len(more)
        texts.update(more_texts)
        gone = [cid for cid in names if any("legacy" in said for said in texts[cid])][:5]
        gone += [cid for cid in names if any("Refund" in said for said in texts[cid])][:1]
        for cid in gone:
            assert await storage.delete_conversation(1, cid)
            del texts[cid]
        while (await storage.delete_expired(1, START + 3 * HOUR, 100)).conversations:
            pass
        while (await storage.erase_customer(1, "cust-7", 100)).conversations:
            pass
        kept = await every_page(storage, ConversationQuery(limit=100))
        texts = {cid: texts[cid] for cid in kept[0]}
        assert len(texts) < CONVERSATIONS + 200 - len(gone)  # some did expire and go
        await _integrity(storage, db)
        await _check(storage, texts, "after additions and deletions")

        assert await storage.set_search_index(False)
        assert not await storage.search_index()
        await _check(storage, texts, "the index dropped")
    finally:
        await storage.aclose()


async def test_a_role_that_may_not_create_pg_trgm_is_told_what_to_run(backend: str) -> None:
    """PostgreSQL: without pg_trgm, and a role that may not create it, building the index
    fails with a message that names the statement an owner can run; nothing is left."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's extension")
    server = pg_helpers.require_server()
    url = pg_helpers.create_database(server)  # a database of its own: no pg_trgm in it
    role = f"r_{uuid.uuid4().hex[:8]}"
    try:
        # It may create tables (the collector's own), not extensions (CREATE on the
        # database, which PUBLIC does not have).
        await pg_helpers.fetch(url, f'CREATE ROLE "{role}" LOGIN')
        await pg_helpers.fetch(url, f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"')
        parts = urllib.parse.urlsplit(url)
        limited = parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}").geturl()
        storage = await open_storage(limited)
        try:
            with pytest.raises(RuntimeError, match="CREATE EXTENSION pg_trgm"):
                await storage.set_search_index(True)
            assert not await storage.search_index()
        finally:
            await storage.aclose()
    finally:
        pg_helpers.drop_database(server, url)
        await pg_helpers.fetch(server, f'DROP ROLE IF EXISTS "{role}"')


async def test_postgres_reads_the_index_only_where_a_search_asks_for_it(
    backend: str, database: Database
) -> None:
    """PostgreSQL: the row-by-row test of a walk cannot use the search index (the
    planner would read every match of a common text for a page's few rows), while the
    statements that ask for the search's conversations do: among 1,500 conversations,
    the three with the text are found through it.  Sequential scans and nested loops
    are disabled, so the walk's test would take the index if it could."""
    if backend != "postgres":
        pytest.skip("PostgreSQL's planner")
    import asyncpg

    from agentsight.server.storage.postgres import _read

    url = database("plans")
    rng = random.Random(5)
    events, _ = _events(rng, [f"c{n}" for n in range(1500)], START)
    storage = await open_storage(url)
    try:
        await storage.create_key("A", "hash-A", "ags_…_000000", scope="ingest")
        for start in range(0, len(events), 1000):
            await storage.write_batch(1, events[start : start + 1000])
        assert await storage.set_search_index(True)  # and analysed
    finally:
        await storage.aclose()
    query = ConversationQuery(q="Refund please", count=True)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET enable_seqscan = off")

        async def plan(where: str, params: list[Any]) -> str:
            sql = f"EXPLAIN SELECT COUNT(*) FROM conversations c WHERE {where}"
            return "\n".join(row[0] for row in await connection.fetch(sql, *params))

        indexed = await plan(*_read._indexed(1, query, True))
        # A semi-join of the matches' (as it planned at 10M events), not a look-up of
        # each conversation's messages, which would never ask the index anyway.
        await connection.execute("SET enable_nestloop = off")
        walked = await plan(*_read._where(1, query, walk=True))
    finally:
        await connection.close()
    assert "events_text" not in walked, walked
    assert "Bitmap Index Scan on events_text" in indexed, indexed
