"""Response waits kept batch by batch equal the full recomputation, whatever the arrival order.

The write path updates ``events.response_wait`` incrementally (only what the
new messages change).  Random conversations (timestamps and seqs that tie,
agent and user messages in any order, other events in between) are cut into
batches that arrive shuffled, some resent whole or in part, two at a time
through two storages; after every round the stored waits must equal both a
plain Python computation over the stored messages and the migration's SQL
that recomputes every wait from scratch.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from agentsight.server import Storage, open_storage
from agentsight.server.storage import NewEvent
from tests.server.old_schema import rows
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio

_STORED = (
    "SELECT id, conversation_id, ts, seq, sender, response_wait FROM events"
    " WHERE project_id = 1 AND type = 'message'"
)
# What schema 3's migration runs: every wait from scratch.
_RECOMPUTED = (
    "SELECT u.id, (SELECT a.ts FROM events a WHERE a.project_id = u.project_id"
    " AND a.type = 'message' AND a.conversation_id = u.conversation_id AND a.sender = 'agent'"
    " AND (a.ts, a.seq, a.id) > (u.ts, u.seq, u.id) ORDER BY a.ts, a.seq, a.id LIMIT 1) - u.ts"
    " FROM events u WHERE u.project_id = 1 AND u.type = 'message' AND u.sender = 'end_user'"
)


def _conversation(rng: random.Random, cid: str) -> list[NewEvent]:
    """Messages (and a few actions) with few distinct timestamps and seqs, so that they tie."""
    events = []
    for _ in range(rng.randint(1, 30)):
        at = 1_800_000_000_000_000 + rng.randrange(12) * 1_000_000
        seq = rng.randrange(6)
        if rng.random() < 0.15:
            payload: dict[str, Any] = {"action_name": "lookup", "duration_ms": 5}
            events.append(NewEvent(uuid.uuid4().hex, "action", cid, seq, at, payload))
            continue
        sender = rng.choice(("end_user", "end_user", "agent"))
        payload = {"sender": sender, "content": "hi", "metadata": None, "attachments": None}
        events.append(NewEvent(uuid.uuid4().hex, "message", cid, seq, at, payload))
    return events


def _batches(rng: random.Random, events: list[NewEvent]) -> list[list[NewEvent]]:
    """*events* shuffled into batches; some batches come twice, some events again later."""
    rng.shuffle(events)
    batches: list[list[NewEvent]] = []
    while events:
        size = rng.randint(1, 12)
        batches.append(events[:size])
        del events[:size]
        if rng.random() < 0.2:
            batches.append(list(batches[-1]))  # resent after a lost answer
        if rng.random() < 0.2:
            batches[-1].append(rng.choice(batches[rng.randrange(len(batches))]))
    return batches


def _expected(rows: list[Any]) -> dict[str, int | None]:
    """Each end_user message's wait, computed plainly from the stored messages."""
    waits: dict[str, int | None] = {}
    for uid, cid, ts, seq, sender, _ in rows:
        if sender != "end_user":
            continue
        answers = [
            (a_ts, a_seq, a_id)
            for a_id, a_cid, a_ts, a_seq, a_sender, _ in rows
            if a_cid == cid and a_sender == "agent" and (a_ts, a_seq, a_id) > (ts, seq, uid)
        ]
        waits[uid] = min(answers)[0] - ts if answers else None
    return waits


async def _check(db: Path | str) -> None:
    found = await rows(db, _STORED)
    stored = {row[0]: row[5] for row in found if row[4] == "end_user"}
    assert stored == _expected(found)
    assert stored == dict(await rows(db, _RECOMPUTED))


@pytest.mark.parametrize("seed", range(8))
async def test_waits_equal_the_full_recomputation(database: Database, seed: int) -> None:
    """Shuffled, resent and concurrent batches leave every wait as a recomputation gives it."""
    rng = random.Random(seed)
    db = database("waits")
    one: Storage = await open_storage(db)
    two: Storage = await open_storage(db)
    try:
        await one.create_key("p", "hash", "ags_…", scope="admin")  # project 1
        events = [e for n in range(rng.randint(1, 3)) for e in _conversation(rng, f"c{n}")]
        batches = _batches(rng, events)
        for start in range(0, len(batches), 2):
            pair = batches[start : start + 2]
            writers = (one, two)[: len(pair)]
            await asyncio.gather(*(s.write_batch(1, b) for s, b in zip(writers, pair, strict=True)))
            await _check(db)
    finally:
        await one.aclose()
        await two.aclose()
