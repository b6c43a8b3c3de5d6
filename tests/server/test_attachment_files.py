"""The bytes of attachment events never outlive their event (SQLite and PostgreSQL).

Files are stored after their event, in a second step: a conversation deleted
in between (through the API, by retention, by erasure) must not leave them
behind, and databases that already hold such files lose them at the upgrade.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentsight.server import open_storage
from agentsight.server._retention import RETENTION
from tests.server.collector_helpers import (
    BASE_SECONDS,
    Collector,
    attachment,
    conversation,
    message,
    new_id,
)
from tests.server.old_schema import create_at, rows
from tests.server.pg_helpers import Database

#: The schema version of the sweep of files left without their event.
SWEEP = {"sqlite": 14, "postgres": 13}

pytestmark = pytest.mark.anyio
DAY = 86_400.0
SECRET = b"a private scan of a passport"


def _file(data: bytes | None = None, name: str = "scan.png") -> dict[str, Any]:
    """A file descriptor as an SDK sends it; with *data*, its bytes too (base64)."""
    described: dict[str, Any] = {"filename": name, "mime_type": "image/png"}
    if data is not None:
        described["data"] = base64.b64encode(data).decode()
    return described


async def _rows(db: Path | str) -> list[tuple[Any, ...]]:
    """Every row of ``attachment_files``, bytes included, sorted."""
    sql = "SELECT project_id, event_id, idx, conversation_id, data FROM attachment_files"
    found = await rows(db, sql)
    return sorted((p, e, i, c, bytes(d)) for p, e, i, c, d in found)


async def _project(collector: Collector, name: str = "A") -> int:
    return next(p.id for p in await collector.storage.list_projects() if p.name == name)


async def _download(collector: Collector, cid: str, event: str, index: int = 0) -> int:
    url = f"/v1/conversations/{cid}/attachments/{event}/{index}"
    async with collector.session.get(url, headers=collector.auth()) as response:
        return response.status


def _delete_first(collector: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the conversation's deletion land between the event's write and its files'.

    The real storage does both; only the moment of the delete is chosen, the one a
    concurrent ``DELETE`` (or a retention sweep) can hit by chance.
    """
    storage = collector.storage
    put_files = storage.put_files

    async def delete_then_put(
        project_id: int, conversation_id: str, event_id: str, files: Any
    ) -> bool:
        assert await storage.delete_conversation(project_id, conversation_id)
        return await put_files(project_id, conversation_id, event_id, files)

    monkeypatch.setattr(storage, "put_files", delete_then_put)


async def test_files_put_after_their_conversation_was_deleted_are_not_kept(
    collector: Collector,
) -> None:
    """put_files for an event whose conversation is gone stores nothing and answers False."""
    event = attachment("gone", 0, 0.0, _file())
    assert (await collector.send(event))["accepted"] == 1
    status, _ = await collector.call("DELETE", "/v1/conversations/gone")
    assert status == 200
    project = await _project(collector)
    stored = await collector.storage.put_files(project, "gone", event["id"], [SECRET])
    assert stored is False
    assert await _rows(collector.db) == []
    assert await _download(collector, "gone", event["id"]) == 404


async def test_files_of_a_stored_attachment_are_kept(collector: Collector) -> None:
    """put_files for a live attachment event stores its files (True), and again is a no-op."""
    event = attachment("here", 0, 0.0, _file(), _file(name="b.png"))
    await collector.send(event)
    project = await _project(collector)
    assert await collector.storage.put_files(project, "here", event["id"], [b"1", b"2"]) is True
    assert await collector.storage.put_files(project, "here", event["id"], [b"x", b"y"]) is True
    assert await collector.storage.get_file(project, "here", event["id"], 1) == b"2"
    assert await _download(collector, "here", event["id"], 1) == 200


async def test_a_batch_whose_conversation_goes_meanwhile_leaves_no_files(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/v1/batch still answers the event accepted (the delete came after it), and its files
    are not kept: no row, no download."""
    _delete_first(collector, monkeypatch)
    event = attachment("racing", 0, 0.0, _file(SECRET))
    answer = await collector.send(conversation("racing"), event)
    assert (answer["accepted"], answer["rejected"]) == (2, [])
    assert await _rows(collector.db) == []
    assert await _download(collector, "racing", event["id"]) == 404
    status, _ = await collector.call("GET", "/v1/conversations/racing")
    assert status == 404


async def test_the_official_route_answers_404_when_the_conversation_goes_meanwhile(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /api/attachments/ answers 404 {"detail"} (the conversation is gone) and keeps
    none of the files."""
    _delete_first(collector, monkeypatch)
    body = {
        "timestamp": "2026-12-04T13:52:25.662790+00:00",
        "attachments": [{"filename": "a.png", "mime_type": "image/png", "data": "aGk="}],
        "conversation_id": "official",
    }
    headers = {"Authorization": f"Api-Key {collector.keys['A']}"}
    async with collector.session.post("/api/attachments/", json=body, headers=headers) as response:
        assert response.status == 404
        assert "official" in (await response.json())["detail"]
    assert await _rows(collector.db) == []


async def test_files_racing_a_delete_never_outlive_it(collector: Collector) -> None:
    """Whichever of put_files and the conversation's delete runs first, no file is left."""
    project = await _project(collector)
    for round_ in range(10):
        cid = f"race-{round_}"
        event = attachment(cid, 0, 0.0, _file())
        await collector.send(event)
        put = collector.storage.put_files(project, cid, event["id"], [SECRET])
        delete = collector.storage.delete_conversation(project, cid)
        jobs = (delete, put) if round_ % 2 else (put, delete)
        await asyncio.gather(*jobs)
        assert await _rows(collector.db) == [], cid


@contextlib.asynccontextmanager
async def _deleting(db: Path | str, project: int, cid: str) -> AsyncIterator[Any]:
    """A deletion of conversation *cid* under way: done on a connection of its own, not yet
    committed; committed on leaving the block.  Yields that connection (asyncpg) or None."""
    tables = ("events", "conversations")
    if isinstance(db, Path):
        connection = sqlite3.connect(db, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            for table in tables:
                sql = f"DELETE FROM {table} WHERE project_id = ? AND conversation_id = ?"
                connection.execute(sql, (project, cid))
            yield None
            connection.execute("COMMIT")
        finally:
            connection.close()
        return
    import asyncpg

    connection = await asyncpg.connect(db)
    try:
        async with connection.transaction():
            for table in tables:
                sql = f"DELETE FROM {table} WHERE project_id = $1 AND conversation_id = $2"
                await connection.execute(sql, project, cid)
            yield connection
    finally:
        await connection.close()


async def test_files_put_during_a_deletion_wait_for_it_and_are_not_kept(
    collector: Collector,
) -> None:
    """put_files while the conversation's deletion is not yet committed waits for it, then
    keeps nothing (False)."""
    event = attachment("deleting", 0, 0.0, _file())
    await collector.send(event)
    project = await _project(collector)
    async with _deleting(collector.db, project, "deleting") as connection:
        put = asyncio.ensure_future(
            collector.storage.put_files(project, "deleting", event["id"], [SECRET])
        )
        with anyio.fail_after(10):
            if connection is None:  # SQLite: the writer thread waits for the write lock
                await anyio.wait_all_tasks_blocked()
            else:  # PostgreSQL: until put_files waits for a lock, or has finished
                waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted"
                while not put.done() and not await connection.fetchval(waiting):  # noqa: ASYNC110 - no event tells of a lock wait
                    await anyio.sleep(0.01)
    assert await put is False
    assert await _rows(collector.db) == []


async def test_files_under_another_events_id_are_not_kept(collector: Collector) -> None:
    """An attachment resent with the id of a message, or of another conversation's
    attachment, is a duplicate: its files are not kept (nothing would delete them)."""
    said = message("c1", 0, 0.0)
    first = attachment("c1", 1, 1.0, _file())
    await collector.send(said, first)
    copies = [
        {**attachment("c1", 2, 2.0, _file(SECRET)), "id": said["id"]},
        {**attachment("c2", 0, 0.0, _file(SECRET)), "id": first["id"]},
    ]
    assert (await collector.send(*copies))["duplicates"] == 2
    assert await _rows(collector.db) == []
    assert await _download(collector, "c1", said["id"]) == 404
    assert await _download(collector, "c2", first["id"]) == 404


def _days_ago(days: float) -> float:
    return time.time() - days * DAY - BASE_SECONDS


async def test_every_deletion_takes_the_files_along(collector: Collector) -> None:
    """A conversation deleted through the API, by erasure or by retention leaves no file."""
    old = _days_ago(45)
    chats = [
        (conversation("deleted"), attachment("deleted", 1, 1.0, _file(b"d"))),
        (conversation("erased", customer_id="u9"), attachment("erased", 1, 1.0, _file(b"e"))),
        (conversation("expired", 0, old), attachment("expired", 1, old + 1, _file(b"x"))),
    ]
    await collector.send(*(event for chat in chats for event in chat))
    await collector.send(attachment("other", 0, 0.0, _file(b"kept")), project="B")
    assert len(await _rows(collector.db)) == 4
    status, _ = await collector.call("DELETE", "/v1/conversations/deleted")
    assert status == 200
    status, answer = await collector.call("POST", "/v1/erasure", json={"customer_id": "u9"})
    assert (status, answer["conversations"]) == (200, 1)
    status, _ = await collector.call("PUT", "/v1/retention", json={"retention_days": 30})
    assert status == 200
    assert collector.app is not None
    deleted = await collector.app[RETENTION].sweep()
    assert deleted["A"].conversations == 1
    assert [row[3:] for row in await _rows(collector.db)] == [("other", b"kept")]


_EVENT = "INSERT INTO events (project_id, id, conversation_id, type, seq, ts, payload)"
_FILE = "INSERT INTO attachment_files (project_id, event_id, idx, conversation_id, data)"


async def _insert(
    db: Path | str, events: list[tuple[Any, ...]], files: list[tuple[Any, ...]]
) -> None:
    """Insert rows as an older collector left them: events and files, written directly."""
    if isinstance(db, Path):
        connection = sqlite3.connect(db, isolation_level=None)
        try:
            connection.executemany(_EVENT + " VALUES (?, ?, ?, ?, ?, ?, ?)", events)
            connection.executemany(_FILE + " VALUES (?, ?, ?, ?, ?)", files)
        finally:
            connection.close()
        return
    import asyncpg

    connection = await asyncpg.connect(db)
    try:
        await connection.executemany(_EVENT + " VALUES ($1, $2, $3, $4, $5, $6, $7)", events)
        await connection.executemany(_FILE + " VALUES ($1, $2, $3, $4, $5)", files)
    finally:
        await connection.close()


async def test_the_upgrade_deletes_files_left_without_their_event(
    database: Database, backend: str
) -> None:
    """Files whose attachment event is gone (or is not theirs) go at the upgrade; the files
    of stored attachments stay, downloadable."""
    db = database("old")
    await create_at(db, SWEEP[backend] - 1)
    kept, message_id, deleted = new_id(), new_id(), new_id()
    events = [
        (1, kept, "c1", "attachment", 0, 1_000, '{"files": []}'),
        (1, message_id, "c1", "message", 1, 2_000, '{"sender": "end_user"}'),
    ]
    files = [
        (1, kept, 0, "c1", b"kept 0"),
        (1, kept, 1, "c1", b"kept 1"),
        (1, deleted, 0, "c1", b"its event was deleted"),
        (2, kept, 0, "c1", b"another project's id"),
        (1, message_id, 0, "c1", b"under a message's id"),
        (1, kept, 2, "c2", b"under another conversation"),
    ]
    await _insert(db, events, files)
    storage = await open_storage(db)
    try:
        assert await storage.get_file(1, "c1", kept, 1) == b"kept 1"
        assert await storage.get_file(1, "c1", deleted, 0) is None
    finally:
        await storage.aclose()
    assert await _rows(db) == [(1, kept, 0, "c1", b"kept 0"), (1, kept, 1, "c1", b"kept 1")]
