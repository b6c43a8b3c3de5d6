"""Three ``agentsight serve`` processes over one PostgreSQL, 20 SDK clients, one collector killed.

Clients write the same conversations through different collectors, each
client setting other attributes of them (so the merged answer does not
depend on who commits first).  Every batch the clients send is recorded;
replayed into one collector on SQLite, it must give the same answer to every
query as the three collectors give from PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest

from agentsight import ConversationTracker
from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import open_storage
from agentsight.server.storage.postgres._schema import SCHEMA_VERSION as POSTGRES_VERSION
from agentsight.transports import Batch, HttpTransport, Outcome, SendResult
from tests.server import pg_helpers
from tests.server.collector_helpers import Collector, run_collector

pytestmark = pytest.mark.anyio

CLIENTS = 20
COLLECTORS = 3
CONVERSATIONS = 200
EVENTS_PER_CLIENT = 2_500  # 50,000 in all
KILL_AFTER = 20_000  # events delivered in all when collector 1 is killed
_LISTENING = re.compile(r"listening on (http://\S+)")
_CLI = [sys.executable, "-m", "agentsight._cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServeProcess:
    """``agentsight serve`` on a fixed loopback port; can be killed and started again."""

    def __init__(self, db: str, port: int) -> None:
        self.db, self.port = db, port
        self.url = f"http://127.0.0.1:{port}"
        self.log: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        started = threading.Event()
        process = subprocess.Popen(
            [*_CLI, "serve", "--db", self.db, "--port", str(self.port)],
            stderr=subprocess.PIPE,
            text=True,
        )

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:  # drained to the end, so the pipe never fills
                self.log.append(line)
                if _LISTENING.search(line):
                    started.set()

        self._process = process
        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not started.wait(60):
            self.stop()
            raise RuntimeError("collector did not start:\n" + "".join(self.log[-30:]))

    def kill(self) -> None:
        """SIGKILL: no shutdown, transactions in flight are cut."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(30)
        self._join()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(30)
        self._join()

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(10)
        if self._process is not None and self._process.stderr is not None:
            self._process.stderr.close()


class RecordingTransport:
    """The SDK's HTTP transport, keeping a copy of every batch's first attempt."""

    needs_asyncio = True  # aiohttp inside (the runtime asks, though Transport does not declare it)

    def __init__(
        self,
        endpoint: str,
        api_key: str,
        record: dict[tuple[str, ...], bytes],
        progress: dict[str, Any],
    ) -> None:
        self._http = HttpTransport(endpoint, api_key)
        self._record = record
        self._progress = progress

    async def send(self, batch: Batch) -> SendResult:
        body = gzip.decompress(batch.body) if batch.gzipped else batch.body
        self._record.setdefault(batch.ids, body)
        result = await self._http.send(batch)
        if result.outcome is Outcome.DELIVERED:
            self._progress["delivered"] += batch.count
            if self._progress["delivered"] >= KILL_AFTER:
                self._progress["kill"].set()
        return result

    async def aclose(self) -> None:
        await self._http.aclose()


@pytest.fixture
def database_url(postgres_database: str) -> Iterator[str]:
    """A fresh PostgreSQL schema."""
    url = pg_helpers.create_schema(postgres_database)
    try:
        yield url
    finally:
        pg_helpers.drop_schema(url)


@pytest.fixture
def collectors(database_url: str) -> Iterator[list[ServeProcess]]:
    """Three collector processes over the schema, started at once (they migrate it once)."""
    processes = [ServeProcess(database_url, _free_port()) for _ in range(COLLECTORS)]
    starters = [threading.Thread(target=p.start) for p in processes]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join(90)
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


async def _add_key(db: str | Path, key: str) -> None:
    storage = await open_storage(db)
    try:
        await storage.create_key("A", hash_key(key), redact(key), scope="admin")
    finally:
        await storage.aclose()


def _owners(index: int) -> tuple[int, int]:
    """The two clients writing conversation *index*: neighbours, so on different collectors."""
    first = index % CLIENTS
    return first, (first + 1) % CLIENTS


async def _client(
    number: int,
    endpoint: str,
    key: str,
    record: dict[tuple[str, ...], bytes],
    progress: dict[str, Any],
) -> dict[str, int]:
    mine = [i for i in range(CONVERSATIONS) if number in _owners(i)]
    tracker = ConversationTracker(
        key,
        endpoint,
        transport=RecordingTransport(endpoint, key, record, progress),
        retry_initial_delay=0.05,
        retry_max_delay=0.5,
        shutdown_timeout=90,
        flush_interval=0.05,
        max_batch_events=250,
    )
    tracked = 0
    async with tracker:
        for index in mine:
            cid = f"conv-{index:03d}"
            if number == _owners(index)[0]:
                await tracker.get_or_create_conversation(
                    cid,
                    customer_id=f"user-{index % 37}",
                    customer_ip_address="81.2.69.160" if index % 2 else None,
                    source=("web", "telegram", "api")[index % 3],
                    metadata={"owner": number, "shared": {"first": index}},
                )
            else:
                await tracker.get_or_create_conversation(
                    cid,
                    device=("desktop", "mobile")[index % 2],
                    language=("en", "de", "fr", "es")[index % 4],
                    metadata={"helper": number, "shared": {"second": index}},
                )
            tracked += 1
        step = 0
        while tracked < EVENTS_PER_CLIENT:
            cid = f"conv-{mine[step % len(mine)]:03d}"
            kind = step % 5
            if kind == 0:
                await tracker.track_human_message(
                    f"question {step} from {number}", conversation_id=cid
                )
            elif kind == 1:
                await tracker.track_agent_message(
                    f"Answer {step} about Refunds", metadata={"model": "m"}, conversation_id=cid
                )
            elif kind == 2:
                await tracker.track_action(
                    "lookup", duration_ms=step % 300, response="found", conversation_id=cid
                )
            elif kind == 3:
                await tracker.track_button("rate", "Good", "up", conversation_id=cid)
            else:
                await tracker.track_token_usage(step % 50, step % 20, conversation_id=cid)
            tracked += 1
            step += 1
            if step % 50 == 0:  # a bot's pace: deliveries and the kill happen meanwhile
                await anyio.sleep(0.002)
    stats = tracker.stats()
    return {
        "tracked": tracked,
        "accepted": stats.accepted,
        "dropped": stats.dropped,
        "rejected": stats.rejected,
        "duplicates": stats.duplicates,
        "retried": stats.retried,
    }


async def _all_conversations(
    session: aiohttp.ClientSession, url: str, key: str, **filters: str
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"limit": "37", **filters}
    headers = {"Authorization": f"Bearer {key}"}
    while True:
        async with session.get(f"{url}/v1/conversations", params=params, headers=headers) as r:
            assert r.status == 200, await r.text()
            page = await r.json()
        found += page["conversations"]
        if not page["next_cursor"]:
            return sorted(found, key=lambda c: c["conversation_id"])
        params["cursor"] = page["next_cursor"]


async def _detail(session: aiohttp.ClientSession, url: str, key: str, cid: str) -> Any:
    headers = {"Authorization": f"Bearer {key}"}
    async with session.get(f"{url}/v1/conversations/{cid}", headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _manage(session: aiohttp.ClientSession, url: str, key: str) -> None:
    """The same marks and feedback on both sides, for the is_marked and sentiment filters."""
    headers = {"Authorization": f"Bearer {key}"}
    for index in range(0, CONVERSATIONS, 7):
        cid = f"conv-{index:03d}"
        body = {"is_marked": True, "metadata": {"reviewed": index}}
        async with session.patch(f"{url}/v1/conversations/{cid}", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
        feedback = {"sentiment": ("positive", "negative")[index % 2], "comment": "ok"}
        path = f"{url}/v1/conversations/{cid}/feedback"
        async with session.post(path, json=feedback, headers=headers) as r:
            assert r.status in (200, 201), await r.text()


FILTERS: list[dict[str, str]] = [
    {},
    {"customer_id": "user-5"},
    {"source": "telegram"},
    {"device": "mobile"},
    {"language": "de"},
    {"environment": "development"},
    {"country": "GB"},
    {"is_used": "true"},
    {"is_marked": "true"},
    {"sentiment": "negative"},
    {"q": "refunds"},
    {"q": "question 7 from"},
    {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
    {"since": "2100-01-01T00:00:00Z"},
]


@pytest.mark.timeout(240)
async def test_three_collectors_one_killed_equal_one_collector(
    collectors: list[ServeProcess], database_url: str, tmp_path: Path
) -> None:
    """50,000 events from 20 clients via 3 collectors (one SIGKILLed): stored once, same answers."""
    key = generate_key()
    await _add_key(database_url, key)
    record: dict[tuple[str, ...], bytes] = {}
    progress: dict[str, Any] = {"delivered": 0, "kill": anyio.Event()}
    results: list[dict[str, int]] = []

    async def client(number: int) -> None:
        endpoint = collectors[number % COLLECTORS].url
        results.append(await _client(number, endpoint, key, record, progress))

    async def killer() -> None:
        await progress["kill"].wait()
        victim = collectors[1]
        await anyio.to_thread.run_sync(victim.kill)
        progress["killed_at"] = progress["delivered"]
        await anyio.to_thread.run_sync(victim.start)
        progress["restarted_at"] = progress["delivered"]

    with anyio.fail_after(180):
        async with anyio.create_task_group() as group:
            group.start_soon(killer)
            for number in range(CLIENTS):
                group.start_soon(client, number)

    total = CLIENTS * EVENTS_PER_CLIENT
    assert sum(r["tracked"] for r in results) == total
    # The collector came back while the clients were still delivering, and they had to retry.
    assert progress["restarted_at"] < total, progress
    assert sum(r["retried"] for r in results) > 0
    assert [(r["dropped"], r["rejected"]) for r in results] == [(0, 0)] * CLIENTS
    # Every event was answered: accepted once, or a duplicate when it was resent because the
    # killed collector committed its batch but never answered.
    accepted = sum(r["accepted"] for r in results)
    assert accepted + sum(r["duplicates"] for r in results) == total
    assert accepted <= total
    sent_ids = {i for ids in record for i in ids}
    assert len(sent_ids) == total
    base = database_url
    rows = await pg_helpers.fetch(base, "SELECT COUNT(*), COUNT(DISTINCT id) FROM events")
    assert tuple(rows[0]) == (total, total)
    stored = {r[0] for r in await pg_helpers.fetch(base, "SELECT id FROM events")}
    assert stored == sent_ids
    conversations = await pg_helpers.fetch(base, "SELECT COUNT(*) FROM conversations")
    assert conversations[0][0] == CONVERSATIONS
    versions = await pg_helpers.fetch(base, "SELECT version FROM schema_version")
    assert [v[0] for v in versions] == list(range(1, POSTGRES_VERSION + 1)), (
        "the three collectors migrated more than once"
    )

    # The reference: one collector on SQLite, fed the recorded batches in order.
    async with run_collector(tmp_path / "reference.db") as reference:
        await _replay(reference, record)
        async with aiohttp.ClientSession() as session:
            await _manage(session, collectors[0].url, key)
            await _manage(session, reference.url, reference.keys["A"])
            await _compare(session, collectors, key, reference)


async def _replay(reference: Collector, record: dict[tuple[str, ...], bytes]) -> None:
    accepted = 0
    for body in record.values():
        status, answer = await reference.post_raw(body, {"Content-Type": "application/json"})
        assert status == 200, answer
        accepted += answer["accepted"]
    assert accepted == CLIENTS * EVENTS_PER_CLIENT


async def _compare(
    session: aiohttp.ClientSession,
    collectors: list[ServeProcess],
    key: str,
    reference: Collector,
) -> None:
    ref_key = reference.keys["A"]
    for number, filters in enumerate(FILTERS):
        url = collectors[number % COLLECTORS].url
        got = await _all_conversations(session, url, key, **filters)
        want = await _all_conversations(session, reference.url, ref_key, **filters)
        assert got == want, f"list differs with {filters}"
    everything = await _all_conversations(session, reference.url, ref_key)
    assert len(everything) == CONVERSATIONS
    merged = everything[1]
    assert merged["customer_id"] and merged["device"] and merged["language"], merged
    assert {"owner", "helper", "shared"} <= set(merged["metadata"]), merged["metadata"]
    assert set(merged["metadata"]["shared"]) == {"first", "second"}
    for index, conversation in enumerate(everything):
        cid = conversation["conversation_id"]
        got = await _detail(session, collectors[index % COLLECTORS].url, key, cid)
        want = await _detail(session, reference.url, ref_key, cid)
        assert _comparable(got) == _comparable(want), cid


def _comparable(detail: dict[str, Any]) -> str:
    """A conversation's answer without the feedback's creation times (the two sides differ)."""
    for entry in detail["conversation"]["feedback"]:
        entry.pop("created_at")
    return json.dumps(detail, sort_keys=True)
