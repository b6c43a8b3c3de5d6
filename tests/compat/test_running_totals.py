"""0.0.44's running token totals arriving at once (several workers, retries in flight, two
collectors over one database): the conversation's sums end at the highest totals reported,
never above them (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anyio
import pytest

from tests.server.collector_helpers import Collector, run_collector

pytestmark = pytest.mark.anyio

FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens")
REPORTS = 20
COPIES = 2  # each report also in flight as its retry
WORKERS = 4
#: An aiohttp client and the headers of its key.
Client = tuple[aiohttp.ClientSession, dict[str, str]]


def _totals(step: int) -> dict[str, int]:
    """The process's running totals after *step* model calls (each grows its own way)."""
    return dict(zip(FIELDS, (step * 10, step * 4, step * 14, step // 3), strict=True))


def _report(cid: str, step: int) -> dict[str, Any]:
    """0.0.44's token item, as ``send_tracked_data()`` posts it after *step* calls."""
    return {
        "timestamp": f"2026-12-04T13:52:{step:02d}.000000+00:00",
        "action_name": "token_usage",
        "conversation_id": cid,
        "metadata": _totals(step),
        "conversation": None,
    }


@contextlib.asynccontextmanager
async def _workers(urls: list[tuple[str, str]]) -> AsyncIterator[list[Client]]:
    """*WORKERS* aiohttp clients per collector ``(url, key)``: ``(session, headers)`` pairs."""
    async with contextlib.AsyncExitStack() as stack:
        clients: list[Client] = []
        for url, key in urls:
            for _ in range(WORKERS):
                session = await stack.enter_async_context(aiohttp.ClientSession(url))
                clients.append((session, {"Authorization": f"Api-Key {key}"}))
        yield clients


async def _post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    session, headers = client
    async with session.post(path, json=body, headers=headers) as response:
        return response.status, await response.json()


async def _race(clients: list[Client], cid: str) -> list[tuple[int, Any]]:
    """Every report ``COPIES`` times, all at once, in a shuffled order."""
    sends = [_report(cid, step) for step in range(1, REPORTS + 1) for _ in range(COPIES)]
    random.Random(cid).shuffle(sends)
    answers: list[tuple[int, Any]] = []

    async def send(index: int, body: dict[str, Any]) -> None:
        answers.append(await _post(clients[index % len(clients)], "/api/action_logs/", body))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for index, body in enumerate(sends):
                group.start_soon(send, index, body)
    return answers


async def _start(collector: Collector, cid: str) -> int:
    """0.0.44's conversation item; its number."""
    body = {"timestamp": "2026-12-04T13:52:00.000000+00:00", "conversation_id": cid}
    client: Client = (collector.session, {"Authorization": f"Api-Key {collector.keys['A']}"})
    status, answer = await _post(client, "/api/conversations/", {**body, "is_used": True})
    assert status == 201, answer
    pk: int = answer["id"]
    return pk


async def _check(collector: Collector, cid: str, pk: int, answers: list[tuple[int, Any]]) -> None:
    """Every report answered as 0.0.44 reads it; the sums, events and metrics at the highest."""
    for status, answer in answers:
        assert status == 201, answer
        assert type(answer["id"]) is int, answer
        assert (answer["conversation"], answer["action_name"]) == (pk, "token_usage")
    highest = _totals(REPORTS)
    stored = await collector.conversation(cid)
    assert stored["conversation"]["token_usage"] == highest
    calls = [e for e in stored["events"] if e["type"] == "token_usage"]
    assert {name: sum(e[name] for e in calls) for name in FIELDS} == highest
    assert all(any(e[name] for name in FIELDS) for e in calls), "a report adding nothing"
    status, metrics = await collector.call("GET", "/v1/metrics")
    assert status == 200, metrics
    usage = metrics["token_usage"]
    assert usage["totals"] == highest, usage
    assert {name: sum(day[name] for day in usage["daily"]) for name in FIELDS} == highest
    assert metrics["cost"]["unpriced_calls"] == len(calls)


async def test_concurrent_reports_sum_to_the_highest_totals(collector: Collector) -> None:
    """20 rising reports, each sent twice, all at once from several clients: the sums are
    the highest totals, each stored call adds something, and every answer is a 201 with ids."""
    pk = await _start(collector, "f-race")
    async with _workers([(collector.url, collector.keys["A"])]) as clients:
        answers = await _race(clients, "f-race")
    await _check(collector, "f-race", pk, answers)


async def test_two_collectors_over_one_database_sum_to_the_highest_totals(
    collector: Collector,
) -> None:
    """The same reports through two collectors sharing one database (their own pools or
    writer connections): the sums are still the highest totals."""
    pk = await _start(collector, "f-two")
    async with run_collector(collector.db) as second:
        pairs = [(collector.url, collector.keys["A"]), (second.url, second.keys["A"])]
        async with _workers(pairs) as clients:
            answers = await _race(clients, "f-two")
    await _check(collector, "f-two", pk, answers)


async def test_a_report_adding_nothing_stores_nothing(collector: Collector) -> None:
    """A resend, or totals below those stored, stores no event but is answered as before;
    a first report of zeros still creates its conversation."""
    client: Client = (collector.session, {"Authorization": f"Api-Key {collector.keys['A']}"})
    first = await _post(client, "/api/action_logs/", _report("f-quiet", 3))
    assert first[0] == 201, first
    pk = first[1]["conversation"]
    for body in (_report("f-quiet", 3), _report("f-quiet", 2), _report("f-quiet", 0)):
        status, answer = await _post(client, "/api/action_logs/", body)
        assert status == 201, answer
        assert type(answer["id"]) is int
        assert (answer["conversation"], answer["action_name"]) == (pk, "token_usage")
    stored = await collector.conversation("f-quiet")
    assert [e["type"] for e in stored["events"]] == ["token_usage"]
    assert stored["conversation"]["token_usage"] == _totals(3)
    assert stored["conversation"]["cost"]["unpriced_calls"] == 1

    status, answer = await _post(client, "/api/action_logs/", _report("f-zero", 0))
    assert status == 201, answer
    zero = await collector.conversation("f-zero")
    assert zero["conversation"]["token_usage"] == _totals(0)
    status, found = await collector.call(
        "GET", "/api/conversations/lookup/", params={"conversation_id": "f-zero"}
    )
    assert (status, found["id"]) == (200, answer["conversation"]), found
