"""Retention, erasure of one customer, the audit log and last use, over HTTP (issue 17).

Each test runs on SQLite and PostgreSQL (the ``collector`` fixture): the
retention sweep, the erasure and the audit log answer the same on both.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import anyio
import pytest

from agentsight._keys import hash_key
from agentsight.server import ServerOptions
from agentsight.server._retention import RETENTION
from tests.server.collector_helpers import (
    BASE_SECONDS,
    Collector,
    action,
    conversation,
    message,
    run_collector,
    tokens,
)
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio
DAY = 86_400.0


def _days_ago(days: float) -> float:
    """The offset from collector_helpers' base time of *days* before now."""
    return time.time() - days * DAY - BASE_SECONDS


def _chat(cid: str, days: float, customer: str = "u1", events: int = 3) -> list[dict[str, Any]]:
    """A conversation whose last event was *days* ago, with messages, an action and tokens."""
    at = _days_ago(days)
    chat = [conversation(cid, 0, at - 60, customer_id=customer)]
    chat += [message(cid, n, at - 50 + n) for n in range(1, events + 1)]
    chat += [action(cid, events + 1, at - 1), tokens(cid, events + 2, at)]
    return chat


async def _status(collector: Collector, cid: str, project: str = "A") -> int:
    status, _ = await collector.call("GET", f"/v1/conversations/{cid}", project)
    return status


async def _audit(collector: Collector, project: str = "A", **params: Any) -> list[dict[str, Any]]:
    status, answer = await collector.call("GET", "/v1/audit", project, params=params)
    assert status == 200, answer
    entries: list[dict[str, Any]] = answer["entries"]
    return entries


async def test_retention_deletes_conversations_past_the_period(collector: Collector) -> None:
    """With 30 days set, the sweep deletes A's older conversations (events and feedback too)."""
    await collector.send(*_chat("old", 45), *_chat("recent", 3), *_chat("edge", 29.9))
    await collector.send(*_chat("old-in-b", 45), project="B")
    status, answer = await collector.call(
        "POST", "/v1/conversations/old/feedback", json={"sentiment": "negative"}
    )
    assert status == 201, answer
    status, answer = await collector.call("PUT", "/v1/retention", json={"retention_days": 30})
    assert (status, answer) == (200, {"project": "A", "retention_days": 30})
    assert await collector.call("GET", "/v1/retention") == (
        200,
        {"project": "A", "retention_days": 30},
    )

    assert collector.app is not None
    deleted = await collector.app[RETENTION].sweep()
    assert {name: d.as_dict() for name, d in deleted.items()} == {
        "A": {"conversations": 1, "events": 6, "feedback": 1}
    }
    assert await _status(collector, "old") == 404
    assert await _status(collector, "recent") == 200
    assert await _status(collector, "edge") == 200
    assert await _status(collector, "old-in-b", "B") == 200  # B keeps everything
    status, metrics = await collector.call("GET", "/v1/metrics")
    assert metrics["totals"]["conversations"] == 2
    entries = await _audit(collector)
    assert [e["action"] for e in entries[:2]] == ["retention.delete", "retention.set"]
    assert entries[0]["actor"] == "collector"
    assert entries[0]["details"] == {"conversations": 1, "events": 6, "feedback": 1, "days": 30}
    assert entries[1]["details"] == {"days": 30, "was": None}
    assert entries[1]["actor"].startswith("key ") and entries[1]["address"] == "127.0.0.1"

    # Kept for ever again: nothing more goes.
    status, _ = await collector.call("PUT", "/v1/retention", json={"retention_days": None})
    assert status == 200
    assert await collector.app[RETENTION].sweep() == {}


async def test_the_collector_sweeps_in_the_background(database: Database) -> None:
    """Without anyone asking, the collector's own sweep deletes what is past its time."""
    options = ServerOptions(retention_interval=0.05)
    async with run_collector(database("sweeping"), options) as collector:
        await collector.send(*_chat("old", 10), *_chat("recent", 1))
        status, _ = await collector.call("PUT", "/v1/retention", json={"retention_days": 7})
        assert status == 200
        assert collector.app is not None
        retention = collector.app[RETENTION]
        with anyio.fail_after(20):
            while await _status(collector, "old") != 404:
                await retention.wait_for_sweep()
        assert retention.sweeps >= 1
        assert await _status(collector, "recent") == 200


@pytest.mark.parametrize("days", [0, -1, 36_501, 1.5, "30", True])
async def test_a_bad_retention_period_is_refused(collector: Collector, days: Any) -> None:
    """retention_days must be an integer from 1 to 36500 or null: 400 naming it, unchanged."""
    status, answer = await collector.call("PUT", "/v1/retention", json={"retention_days": days})
    assert status == 400 and answer["error"].startswith("retention_days:"), answer
    status, answer = await collector.call("PUT", "/v1/retention", json={})
    assert status == 400 and answer["error"].startswith("retention_days:"), answer
    assert (await collector.call("GET", "/v1/retention"))[1]["retention_days"] is None


async def test_erasure_deletes_one_customer_of_one_project(collector: Collector) -> None:
    """POST /v1/erasure deletes u1's conversations, events and feedback in A and answers counts."""
    await collector.send(*_chat("u1-a", 2), *_chat("u1-b", 1, events=1), *_chat("u2", 1, "u2"))
    await collector.send(*_chat("u1-in-b", 1), project="B")
    for cid in ("u1-a", "u1-b", "u2"):
        status, _ = await collector.call(
            "POST", f"/v1/conversations/{cid}/feedback", json={"sentiment": "positive"}
        )
        assert status == 201
    status, answer = await collector.call("POST", "/v1/erasure", json={"customer_id": "u1"})
    assert status == 200, answer
    assert answer == {"customer_id": "u1", "conversations": 2, "events": 6 + 4, "feedback": 2}
    assert await _status(collector, "u1-a") == 404
    assert await _status(collector, "u1-b") == 404
    assert await _status(collector, "u2") == 200
    assert await _status(collector, "u1-in-b", "B") == 200
    listed = await collector.listing("A", customer_id="u1")
    assert listed["conversations"] == []
    # Again: nothing left.
    status, answer = await collector.call("POST", "/v1/erasure", json={"customer_id": "u1"})
    assert (answer["conversations"], answer["events"], answer["feedback"]) == (0, 0, 0)

    [entry, *_] = await _audit(collector)
    assert entry["action"] == "customer.erase"
    # The log finds the erasure by the identifier's hash, and keeps no identifier in clear.
    assert entry["target"] == "sha256:" + hashlib.sha256(b"u1").hexdigest()[:32]
    assert "u1" not in str(await _audit(collector))


@pytest.mark.parametrize(
    "body", [{}, {"customer_id": ""}, {"customer_id": 5}, {"customer_id": "a\x00b"}, {"x": 1}]
)
async def test_a_bad_erasure_is_refused(collector: Collector, body: dict[str, Any]) -> None:
    """customer_id must be 1 to 256 characters: 400 naming the field."""
    await collector.send(*_chat("kept", 1))
    status, answer = await collector.call("POST", "/v1/erasure", json=body)
    assert status == 400, answer
    assert answer["error"].split(":")[0] in ("customer_id", "x"), answer
    assert await _status(collector, "kept") == 200


async def test_the_audit_log_pages_and_keeps_to_its_project(collector: Collector) -> None:
    """Deletions are logged with the key and address; B's admin key never sees A's entries."""
    for n in range(5):
        await collector.send(*_chat(f"c{n}", 1))
        status, _ = await collector.call("DELETE", f"/v1/conversations/c{n}")
        assert status == 200
    entries = await _audit(collector)
    assert [e["target"] for e in entries] == [f"c{n}" for n in reversed(range(5))]
    key_id = next(k.id for k in await collector.storage.list_keys() if k.project == "A")
    assert {e["actor"] for e in entries} == {f"key {key_id} ags_…_{collector.keys['A'][-6:]}"}
    assert {e["project"] for e in entries} == {"A"}
    status, page = await collector.call("GET", "/v1/audit", params={"limit": "2"})
    assert [e["target"] for e in page["entries"]] == ["c4", "c3"]
    status, rest = await collector.call(
        "GET", "/v1/audit", params={"limit": "2", "before": str(page["next_before"])}
    )
    assert [e["target"] for e in rest["entries"]] == ["c2", "c1"]
    assert await _audit(collector, "B") == []
    for params in ({"limit": "0"}, {"limit": "x"}, {"before": "-1"}, {"since": "1"}):
        status, answer = await collector.call("GET", "/v1/audit", params=params)
        assert status == 400, (params, answer)


async def test_last_use_is_written_in_the_background_not_by_the_request(
    database: Database,
) -> None:
    """A batch does not write its key's last use; the collector does, later or at stop."""
    db = database("usage")
    options = ServerOptions(usage_interval=3600)
    async with run_collector(db, options) as collector:
        await collector.send(*_chat("c1", 1))
        keys = {k.project: k for k in await collector.storage.list_keys()}
        assert keys["A"].last_used_at is None  # noted in memory only
        storage_keys = collector.keys
    from agentsight.server import open_storage

    storage = await open_storage(db)
    try:
        keys = {k.project: k for k in await storage.list_keys()}
        assert keys["A"].last_used_at is not None  # written when the collector stopped
        assert keys["B"].last_used_at is None
        found = await storage.find_key(hash_key(storage_keys["A"]))
        assert found is not None and found.scope == "admin"
    finally:
        await storage.aclose()
