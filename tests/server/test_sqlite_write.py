"""SQLite's write path stores a big batch with a few multi-row INSERTs: every event, once.

The rows go in statements of 512, 256, ... rows (as many as SQLite's limit
on parameters allows); a low limit makes statements of 5, 2 and 1 rows, so
both the usual split and the smallest pieces are exercised.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentsight.server.storage import NewEvent
from agentsight.server.storage.sqlite._schema import connect, migrate
from agentsight.server.storage.sqlite._write import write_batch

_START = 1_800_000_000_000_000


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    path = tmp_path / "events.db"
    migrate(path, 5.0)
    connection = connect(path, 5.0, writer=True)
    connection.execute("INSERT INTO projects (name, created_at) VALUES ('p', 0)")
    try:
        yield connection
    finally:
        connection.close()


def _message(n: int) -> NewEvent:
    sender = "agent" if n % 3 == 2 else "end_user"
    payload = {"sender": sender, "content": f"message {n}", "metadata": {"n": n}}
    return NewEvent(uuid.uuid4().hex, "message", f"c{n % 7}", n, _START + n, payload)


@pytest.mark.parametrize("limit", [None, 100], ids=["sqlite-limit", "100-parameters"])
def test_big_batch_is_stored_whole_and_once(
    connection: sqlite3.Connection, limit: int | None
) -> None:
    if limit is not None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)  # type: ignore[attr-defined]  # 3.11+
    events = [_message(n) for n in range(1_237)]

    result = write_batch(connection, 1, events)

    assert (result.accepted, result.duplicates) == (1_237, 0)
    stored = connection.execute(
        "SELECT id, conversation_id, seq, ts, sender, content, payload FROM events ORDER BY seq"
    ).fetchall()
    assert stored == [
        (
            e.id,
            e.conversation_id,
            e.seq,
            e.timestamp,
            e.payload["sender"],
            e.payload["content"],
            f'{{"sender":"{e.payload["sender"]}","metadata":{{"n":{e.seq}}}}}',
        )
        for e in events
    ]
    counts = dict(connection.execute("SELECT conversation_id, message_count FROM conversations"))
    assert counts == {f"c{c}": len(range(c, 1_237, 7)) for c in range(7)}

    # Resent in part, with one new event: only the new one is stored.
    again = write_batch(connection, 1, [*events[::3], _message(1_237)])
    assert (again.accepted, again.duplicates) == (1, len(events[::3]))
    assert connection.execute("SELECT count(*) FROM events").fetchone() == (1_238,)
