"""The storage contract of issue 17, on SQLite and PostgreSQL alike.

Keys with scopes and last use, users with grants, sessions, retention and
erasure in small steps, the audit log; and a database made by the previous
schema upgrading in place, its keys keeping every right.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import Storage, open_storage
from agentsight.server._ingest._time import now_micros
from agentsight.server.storage import AuditEntry, Deleted, Feedback, NewEvent
from agentsight.server.storage.postgres._schema import SCHEMA_VERSION as POSTGRES_VERSION
from agentsight.server.storage.sqlite._schema import SCHEMA_VERSION as SQLITE_VERSION
from tests.server.access_helpers import add_user, password_hash
from tests.server.collector_helpers import Collector, message, run_collector
from tests.server.old_schema import ACCESS_VERSION, create_at, execute, rows
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio
LATEST = {"sqlite": SQLITE_VERSION, "postgres": POSTGRES_VERSION}
DAY = 86_400_000_000


@pytest.fixture
async def storage(database: Database) -> AsyncIterator[Storage]:
    """An open storage on an empty database, with projects A and B."""
    opened = await open_storage(database("access"))
    try:
        for project in ("A", "B"):
            await opened.create_key(project, f"hash-{project}", "ags_…_000000", scope="ingest")
        yield opened
    finally:
        await opened.aclose()


def _events(cid: str, at: int, count: int, customer: str | None = "u1") -> list[NewEvent]:
    start = dict.fromkeys(("customer_ip_address", "device", "source", "language", "name"))
    start.update(customer_id=customer, metadata=None, is_used=True, environment="production")
    events = [NewEvent(uuid.uuid4().hex, "conversation", cid, 0, at, start)]
    for n in range(1, count):
        payload = {"sender": "end_user", "content": f"m{n}", "metadata": None}
        events.append(NewEvent(uuid.uuid4().hex, "message", cid, n, at + n, payload))
    return events


async def _ids(storage: Storage, name: str) -> int:
    return next(p.id for p in await storage.list_projects() if p.name == name)


async def test_keys_have_a_scope_and_a_last_use(storage: Storage) -> None:
    """create_key keeps the scope; find_key answers it; record_use never moves a time back."""
    key = await storage.create_key("A", "hash-read", "ags_…_111111", scope="read")
    assert (key.scope, key.last_used_at) == ("read", None)
    found = await storage.find_key("hash-read")
    assert found is not None and (found.id, found.scope) == (key.id, "read")
    assert found.project_id == await _ids(storage, "A")
    await storage.record_use({key.id: 2_000_000}, {})
    await storage.record_use({key.id: 1_000_000}, {})  # an older note of another collector
    listed = {k.id: k for k in await storage.list_keys()}
    assert listed[key.id].last_used_at == "1970-01-01T00:00:02.000000Z"
    assert await storage.revoke_key_id(key.id)
    assert not await storage.revoke_key_id(key.id)
    assert await storage.find_key("hash-read") is None
    assert {k.scope for k in await storage.list_keys()} == {"ingest", "read"}


async def test_retention_is_per_project(storage: Storage) -> None:
    """set_retention changes one project; an unknown project is False."""
    a = await _ids(storage, "A")
    assert await storage.set_retention(a, 30)
    assert not await storage.set_retention(999, 30)
    assert {p.name: p.retention_days for p in await storage.list_projects()} == {
        "A": 30,
        "B": None,
    }


async def test_expired_conversations_go_in_steps_of_bounded_size(storage: Storage) -> None:
    """delete_expired takes about max_events events per call, the conversation at the end."""
    a, b = await _ids(storage, "A"), await _ids(storage, "B")
    now = now_micros()
    await storage.write_batch(a, _events("big", now - 40 * DAY, 250))
    await storage.write_batch(a, _events("small", now - 41 * DAY, 3))
    await storage.write_batch(a, _events("fresh", now - DAY, 3))
    await storage.write_batch(b, _events("big", now - 40 * DAY, 5))
    assert await storage.add_feedback(a, "big", Feedback("negative"))
    before = now - 30 * DAY
    steps = []
    while (step := await storage.delete_expired(a, before, 100)) != Deleted():
        steps.append(step)
    # The oldest first: "small" (3 events), then "big" 97 + 100 + 53 events, then its row.
    assert steps == [
        Deleted(1, 3, 0) + Deleted(0, 97, 0),
        Deleted(0, 100, 0),
        Deleted(1, 53, 1),
    ]
    assert await storage.get_conversation(a, "big") is None
    assert await storage.list_events(a, "big") == []
    assert await storage.get_conversation(a, "fresh") is not None
    assert len(await storage.list_events(b, "big")) == 5  # another project's, same id


async def test_erasure_goes_in_steps_and_keeps_other_customers(storage: Storage) -> None:
    """erase_customer deletes one customer's conversations of one project, step by step."""
    a, b = await _ids(storage, "A"), await _ids(storage, "B")
    now = now_micros()
    for n in range(3):
        await storage.write_batch(a, _events(f"u1-{n}", now - n, 40))
    await storage.write_batch(a, _events("u2", now, 4, customer="u2"))
    await storage.write_batch(a, _events("anonymous", now, 4, customer=None))
    await storage.write_batch(b, _events("u1-b", now, 4))
    total = Deleted()
    calls = 0
    while (step := await storage.erase_customer(a, "u1", 50)) != Deleted():
        assert step.events <= 50 + 40
        total += step
        calls += 1
    assert total == Deleted(3, 120, 0) and calls >= 2
    assert [c["conversation_id"] for c in (await _listing(storage, a))] == ["anonymous", "u2"]
    assert await storage.get_conversation(b, "u1-b") is not None


async def _listing(storage: Storage, project_id: int) -> list[dict[str, Any]]:
    from agentsight.server.storage import ConversationQuery

    return (await storage.list_conversations(project_id, ConversationQuery())).conversations


async def test_users_grants_and_sessions(storage: Storage) -> None:
    """Users are unique by address; a viewer's session opens its grants, an admin's all."""
    viewer = await add_user(storage, "v@example.com", "viewer", ("B",))
    admin = await add_user(storage, "a@example.com", "admin")
    assert await storage.create_user("v@example.com", "admin", password_hash()) is None
    assert [(u.email, u.role, u.projects) for u in await storage.list_users()] == [
        ("v@example.com", "viewer", ("B",)),
        ("a@example.com", "admin", ()),
    ]
    record = await storage.login_record("v@example.com")
    assert record is not None and record.password_hash == password_hash()
    assert await storage.login_record("nobody@example.com") is None

    end = now_micros() + DAY
    await storage.create_session("s-viewer", viewer, end, "10.0.0.1")
    await storage.create_session("s-admin", admin, end, None)
    seen = await storage.find_session("s-viewer")
    assert seen is not None and seen.projects == {"B": await _ids(storage, "B")}
    assert seen.expires_at == end and (seen.email, seen.role) == ("v@example.com", "viewer")
    every = await storage.find_session("s-admin")
    assert every is not None and list(every.projects) == ["A", "B"]

    assert await storage.set_grants(viewer, [await _ids(storage, "A")])
    assert not await storage.set_grants(9999, [])
    again = await storage.find_session("s-viewer")
    assert again is not None and list(again.projects) == ["A"]

    later = now_micros() + 5_000_000
    await storage.record_use({}, {"s-viewer": later})
    seen_later = await storage.find_session("s-viewer")
    assert seen_later is not None and seen_later.last_seen_at == later

    assert await storage.set_password(viewer, "scrypt$new")  # ends the viewer's sessions
    assert await storage.find_session("s-viewer") is None
    assert await storage.delete_user(admin)
    assert await storage.find_session("s-admin") is None
    assert not await storage.delete_user(admin)
    assert [u.email for u in await storage.list_users()] == ["v@example.com"]


async def test_stale_sessions_are_deleted(storage: Storage) -> None:
    """delete_stale_sessions removes the ended and the idle, keeps the live."""
    user = await add_user(storage, "v@example.com", "viewer")
    now = now_micros()
    await storage.create_session("ended", user, now - 1, None)
    await storage.create_session("live", user, now + DAY, None)
    await storage.create_session("idle", user, now + DAY, None)
    await storage.record_use({}, {"live": now + DAY // 2})
    assert await storage.delete_stale_sessions(now + DAY // 4, DAY // 8) == 2
    assert await storage.find_session("live") is not None
    assert await storage.find_session("idle") is None


async def test_the_audit_log(storage: Storage) -> None:
    """Entries come back newest first, by project or all, pageable, details as JSON."""
    a = await _ids(storage, "A")
    await storage.add_audit(AuditEntry("cli (ops)", "key.create", a, "key 1", {"scope": "read"}))
    await storage.add_audit(AuditEntry("ops@example.com", "user.create", None, "x@example.com"))
    await storage.add_audit(AuditEntry("key 1", "retention.set", a, None, {"days": 7}, "::1"))
    every = await storage.list_audit(None, 10)
    assert [e["action"] for e in every] == ["retention.set", "user.create", "key.create"]
    assert every[0]["project"] == "A" and every[0]["address"] == "::1"
    assert every[1]["project"] is None
    assert every[2]["details"] == {"scope": "read"} and every[2]["actor"] == "cli (ops)"
    assert [e["action"] for e in await storage.list_audit(a, 10)] == [
        "retention.set",
        "key.create",
    ]
    assert [e["action"] for e in await storage.list_audit(a, 10, every[0]["id"])] == ["key.create"]
    with_users = await storage.list_audit(a, 10, collector_wide=True)
    assert with_users == every
    assert await storage.list_audit(a, 1) == every[:1]


async def _old_database(db: Path | str, backend: str, key: str) -> None:
    """The schema before issue 17, with a project, a key and a conversation written as it did."""
    await create_at(db, ACCESS_VERSION[backend] - 1)
    now = now_micros()
    await execute(
        db,
        [
            f"INSERT INTO projects (name, created_at) VALUES ('legacy', {now})",
            "INSERT INTO api_keys (project_id, key_hash, redacted, created_at)"
            f" VALUES (1, '{hash_key(key)}', '{redact(key)}', {now})",
            "INSERT INTO conversations (project_id, conversation_id, customer_id, started_at,"
            f" ended_at, created_at) VALUES (1, 'c1', 'u1', {now}, {now}, {now})",
            "INSERT INTO events (project_id, id, conversation_id, type, seq, ts, payload, content,"
            f" sender) VALUES (1, 'e1', 'c1', 'message', 1, {now},"
            " '{\"sender\": \"end_user\", \"metadata\": null}', 'hello', 'end_user')",
        ],
    )


async def test_an_older_database_upgrades_and_its_keys_keep_every_right(
    database: Database, backend: str
) -> None:
    """A database of the previous schema opens; its key is an admin key that still does all."""
    db = database("legacy")
    key = generate_key()
    await _old_database(db, backend, key)
    async with run_collector(db) as collector:
        legacy = Collector(collector.url, collector.session, {"L": key}, collector.storage, db)
        [listed] = [k for k in await collector.storage.list_keys() if k.project == "legacy"]
        assert (listed.scope, listed.last_used_at, listed.revoked_at) == ("admin", None, None)
        assert (await legacy.conversation("c1", "L"))["events"][0]["content"] == "hello"
        for method, path, body, expected in [
            ("GET", "/v1/metrics", None, 200),
            ("PATCH", "/v1/conversations/c1", {"name": "kept"}, 200),
            ("POST", "/v1/conversations/c1/feedback", {"sentiment": "positive"}, 201),
            ("PUT", "/v1/retention", {"retention_days": 365}, 200),
            ("GET", "/v1/audit", None, 200),
            ("POST", "/v1/erasure", {"customer_id": "nobody"}, 200),
            ("DELETE", "/v1/conversations/c1", None, 200),
        ]:
            status, answer = await legacy.call(method, path, "L", json=body)
            assert status == expected, (method, path, answer)
        await legacy.send(message("c2", 0, 0.0), project="L")  # and batches still go in
    rows = await _versions(db)
    assert rows[-1] == LATEST[backend]


async def _versions(db: Path | str) -> list[int]:
    return [r[0] for r in await rows(db, "SELECT version FROM schema_version")]
