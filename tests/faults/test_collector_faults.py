"""The collector crashes, stalls, refuses, lies about answers: nothing tracked is lost.

Each test prints its figures (sent, stored, duplicated, lost, ...) in the run's summary.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import anyio
import pytest

from agentsight import ConversationTracker
from tests.e2e.collector import CollectorProcess
from tests.faults.helpers import Record, figures_line, stored_messages
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.anyio

FAST_RETRY: dict[str, Any] = {
    "retry_initial_delay": 0.05,
    "retry_max_delay": 0.5,
    "flush_interval": 0.05,
}


async def test_collector_sigkilled_10_times_during_100000_events(
    collector: CollectorProcess, figures: Record
) -> None:
    """200 tasks track 100,000 events while the collector is SIGKILLed and restarted 10 times."""
    tracker = ConversationTracker(
        api_key=collector.keys["A"], endpoint=collector.url, max_buffer=200_000, **FAST_RETRY
    )
    kills = 0

    async def chat(n: int) -> None:
        for i in range(500):
            await tracker.track_human_message(f"{i}", conversation_id=f"kill-{n}")
            await anyio.sleep(0.01)  # ~20,000 events/s in all: tracking spans the kills

    async def killer() -> None:
        nonlocal kills
        for _ in range(10):
            await anyio.sleep(0.35)
            await anyio.to_thread.run_sync(collector.kill)
            kills += 1
            await anyio.sleep(0.1)
            await anyio.to_thread.run_sync(collector.start)

    started = time.monotonic()
    async with tracker:
        async with anyio.create_task_group() as tg:
            tg.start_soon(killer)
            for n in range(200):
                tg.start_soon(chat, n)
        report = await tracker.send_tracked_data(timeout=120)
    elapsed = time.monotonic() - started
    stored = await anyio.to_thread.run_sync(stored_messages, collector, "kill-")
    stats = tracker.stats()
    figures(
        figures_line(
            "collector SIGKILLed x10",
            tracked=100_000,
            sent=stats.sent,
            stored=sum(stored.values()),
            duplicates_detected=stats.duplicates,
            lost=100_000 - sum(stored.values()),
            retried=stats.retried,
            seconds=round(elapsed, 1),
        )
    )
    assert kills == 10
    assert report.complete
    assert stored == {f"kill-{n}": 500 for n in range(200)}  # each event exactly once
    assert stats.accepted + stats.duplicates == 100_000  # a duplicate: a resend after a lost answer
    assert stats.dropped == 0


@pytest.mark.parametrize(
    ("mode", "status", "retry_after", "max_rate"),
    [
        ("status", 503, None, 12.0),
        ("status", 429, "1", 3.0),
        ("slow", 0, None, 3.0),
        ("reset", 0, None, 12.0),
    ],
)
async def test_outage_modes_back_off_and_lose_nothing(
    collector: CollectorProcess,
    proxy: FaultProxy,
    figures: Record,
    mode: str,
    status: int,
    retry_after: str | None,
    max_rate: float,
) -> None:
    """503, 429 + Retry-After, answers slower than the timeout, resets mid-answer: backoff holds
    the request rate down, and afterwards every event is stored exactly once."""
    proxy.mode, proxy.status, proxy.retry_after, proxy.delay = mode, status, retry_after, 2.0
    tracker = ConversationTracker(
        api_key=collector.keys["A"],
        endpoint=proxy.url,
        request_timeout=1.0,
        retry_initial_delay=0.2,
        retry_max_delay=2.0,
        flush_interval=0.05,
    )
    outage = 4.0
    async with tracker:
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < outage:  # events keep coming during the outage
            for _ in range(50):
                tracker.track_human_message(f"{n}", conversation_id=f"{mode}{status}-{n % 10}")
                n += 1
            await anyio.sleep(0.05)
        end = time.monotonic()
        proxy.mode = "pass"
        report = await tracker.send_tracked_data(timeout=60)
    during = proxy.requests_between(start, end)
    stored = await anyio.to_thread.run_sync(stored_messages, collector, f"{mode}{status}-")
    stats = tracker.stats()
    figures(
        figures_line(
            f"outage {mode} {status or ''}".rstrip(),
            tracked=n,
            stored=sum(stored.values()),
            duplicates_detected=stats.duplicates,
            lost=n - sum(stored.values()),
            requests_during_outage=during,
            per_second=round(during / outage, 1),
        )
    )
    assert report.complete
    assert sum(stored.values()) == n  # nothing lost, nothing stored twice
    assert during / outage <= max_rate
    if mode in ("reset", "slow"):
        assert stats.duplicates > 0  # answers were lost, resends were recognised


async def test_database_locked_answers_503_and_nothing_is_half_stored(
    collector: CollectorProcess, figures: Record
) -> None:
    """Another process holds the database locked: 503, the SDK retries, then all is stored."""
    release = threading.Event()
    locked = threading.Event()

    def hold_lock() -> None:
        connection = sqlite3.connect(collector.db, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(10)
    tracker = ConversationTracker(api_key=collector.keys["A"], endpoint=collector.url, **FAST_RETRY)
    async with tracker:
        for n in range(1000):
            tracker.track_human_message(f"{n}", conversation_id=f"locked-{n % 5}")
        with anyio.fail_after(30):
            while tracker.stats().retried == 0:  # noqa: ASYNC110 - until a 503 came back
                await anyio.sleep(0.05)
        mid = await anyio.to_thread.run_sync(collector.all_conversations)
        release.set()
        report = await tracker.send_tracked_data(timeout=60)
    await anyio.to_thread.run_sync(holder.join)
    stored = await anyio.to_thread.run_sync(stored_messages, collector, "locked-")
    refused = sum(1 for line in collector.log if "503" in line)
    figures(
        figures_line(
            "database locked",
            tracked=1000,
            stored=sum(stored.values()),
            lost=1000 - sum(stored.values()),
            batches_refused_503=refused,
            retried=tracker.stats().retried,
        )
    )
    assert mid == []  # nothing half-stored while locked
    assert report.complete
    assert stored == {f"locked-{k}": 200 for k in range(5)}
