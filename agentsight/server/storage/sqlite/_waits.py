"""Keeping ``events.response_wait`` up to date as batches arrive, in any order.

The response wait of an end_user message is the time to the first agent
message after it in its conversation, in ``(ts, seq, id)`` order (NULL while
there is none).  Recomputing every wait of a conversation on each batch costs
time in proportion to the conversation's length, on every batch.  Instead,
within the batch's transaction, only what the new messages change is written:

- a new end_user message gets its own wait as it is inserted: the first agent
  message after it among those stored and those of the batch;
- a new agent message ``a`` answers exactly the end_user messages between the
  agent message before it (``p``, among all stored after the insert) and
  itself: those before ``p`` are answered by ``p`` or earlier, those after
  ``a`` by later ones.  Their waits become ``a.ts - ts``.

Any end_user message whose first answer changed is answered now by a new
agent message, so this gives what the full recomputation gives, whatever
order the batches arrive in (a property test compares the two).  Everything
runs on the writer thread inside the batch's transaction, which holds
SQLite's write lock: no other write can come between the reads and the writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from .._base import NewEvent

__all__ = ["Messages", "answer", "user_waits"]

Key = tuple[int, int, str]  # (ts, seq, id): the order of a conversation
_NONE_BEFORE: Key = (-1, -1, "")  # below every key: timestamps are never negative

# The stored agent messages of a conversation after a key, in order (events_messages).
_AGENTS_AFTER = (
    "SELECT ts, seq, id FROM events WHERE project_id = ? AND type = 'message'"
    " AND conversation_id = ? AND sender = 'agent' AND (ts, seq, id) > (?, ?, ?)"
    " ORDER BY ts, seq, id"
)
_AGENT_BEFORE = (
    "SELECT ts, seq, id FROM events WHERE project_id = ? AND type = 'message'"
    " AND conversation_id = ? AND sender = 'agent' AND (ts, seq, id) < (?, ?, ?)"
    " ORDER BY ts DESC, seq DESC, id DESC LIMIT 1"
)
_ANSWER = (
    "UPDATE events SET response_wait = ?1 - ts WHERE project_id = ?2 AND type = 'message'"
    " AND conversation_id = ?3 AND sender = 'end_user'"
    " AND (ts, seq, id) > (?4, ?5, ?6) AND (ts, seq, id) < (?1, ?7, ?8)"
    " AND response_wait IS NOT ?1 - ts"
)


class Messages:
    """The new messages of a batch, per conversation and sender, each list in order."""

    def __init__(self, new: Sequence[NewEvent]) -> None:
        self.users: dict[str, list[Key]] = {}
        self.agents: dict[str, list[Key]] = {}
        for event in new:
            if event.type == "message":
                side = self.users if event.payload["sender"] == "end_user" else self.agents
                keys = side.get(event.conversation_id)
                if keys is None:
                    keys = side[event.conversation_id] = []
                keys.append((event.timestamp, event.seq, event.id))
        for side in (self.users, self.agents):
            for keys in side.values():
                keys.sort()


def _first_after(keys: Sequence[Key], agents: Iterator[Key]) -> Iterator[tuple[Key, Key]]:
    """Each of the ordered *keys* that the ordered *agents* answer, with its first answer."""
    agent = next(agents, None)
    for key in keys:
        while agent is not None and agent < key:
            agent = next(agents, None)
        if agent is None:
            return
        yield key, agent


def _merged(stored: Iterator[Any], batch: Sequence[Key]) -> Iterator[Key]:
    """Two ordered streams of keys as one (the stored ones are read only as needed)."""
    pending = iter(batch)
    mine = next(pending, None)
    for row in stored:
        theirs: Key = (row[0], row[1], row[2])
        while mine is not None and mine < theirs:
            yield mine
            mine = next(pending, None)
        yield theirs
    while mine is not None:
        yield mine
        mine = next(pending, None)


def user_waits(
    connection: sqlite3.Connection, project_id: int, messages: Messages
) -> dict[str, int]:
    """The wait of each new end_user message that has an answer, by event id (before insert).

    Reads the stored agent messages after the conversation's first new end_user
    message only as far as the last one needs.
    """
    waits: dict[str, int] = {}
    for cid, keys in messages.users.items():
        cursor = connection.execute(_AGENTS_AFTER, (project_id, cid, *keys[0]))
        try:
            agents = _merged(cursor, messages.agents.get(cid, ()))
            for key, agent in _first_after(keys, agents):
                waits[key[2]] = agent[0] - key[0]
        finally:
            cursor.close()
    return waits


def answer(connection: sqlite3.Connection, project_id: int, messages: Messages) -> None:
    """Set the waits of the end_user messages that the new agent messages answer (after insert)."""
    for cid, keys in messages.agents.items():
        for key in keys:
            row = connection.execute(_AGENT_BEFORE, (project_id, cid, *key)).fetchone()
            before = _NONE_BEFORE if row is None else row
            connection.execute(_ANSWER, (key[0], project_id, cid, *before, key[1], key[2]))
