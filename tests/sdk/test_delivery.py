"""Delivery through a real loopback server: outages, 503, 429 + Retry-After, no duplicates."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from agentsight import ConversationTracker
from agentsight.transports._aiohttp import parse_retry_after
from tests.sink import KEY, Sink, free_port

pytestmark = pytest.mark.anyio

FAST: dict[str, Any] = {"flush_interval": 0.05, "retry_initial_delay": 0.05, "retry_max_delay": 0.5}


async def _track(tracker: ConversationTracker, conversations: int, messages: int) -> None:
    for n in range(conversations):
        await tracker.get_or_create_conversation(f"c{n}")
        for i in range(messages):
            await tracker.track_human_message(f"m{i}")


async def test_collector_down_at_start_then_up() -> None:
    """Everything tracked while the collector is down is delivered once it comes up."""
    port = free_port()
    sink = Sink(port)
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, **FAST)
    async with tracker:
        await _track(tracker, 10, 20)
        with anyio.fail_after(20):
            while tracker.stats().retried == 0:  # noqa: ASYNC110 - polling a counter
                await anyio.sleep(0.02)
        sink.start()
        try:
            report = await tracker.send_tracked_data(timeout=20)
            assert report.complete
        finally:
            await anyio.to_thread.run_sync(sink.stop)
    assert len(sink.events) == 210
    assert sink.resent_after_acceptance == 0
    stats = tracker.stats()
    assert (stats.accepted, stats.dropped, stats.queued) == (210, 0, 0)
    assert stats.retried > 0


async def test_503_outage_backs_off_and_loses_nothing(sink: Sink) -> None:
    """During a 503 outage requests back off (bounded rate); afterwards all arrive, once."""
    sink.fail_with, sink.fail_next = 503, -1
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, **FAST)
    async with tracker:
        await _track(tracker, 5, 100)
        await anyio.sleep(2.0)  # the outage lasts two seconds
        failed_requests = len(sink.requests)
        sink.fail_with = None
        report = await tracker.send_tracked_data(timeout=20)
    assert report.complete
    assert len(sink.events) == 505
    assert sink.resent_after_acceptance == 0
    # Without backoff two senders would make hundreds of requests in 2 s; with
    # full jitter capped at 0.5 s they make a few dozen at most.
    assert 2 <= failed_requests <= 40, failed_requests


async def test_429_retry_after_is_honoured(sink: Sink) -> None:
    """A 429 with Retry-After: 1 makes the next attempt wait at least a second."""
    sink.fail_with, sink.fail_next, sink.retry_after = 429, 2, "1"
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, max_concurrent_requests=1, **FAST)
    async with tracker:
        await _track(tracker, 1, 10)
        report = await tracker.send_tracked_data(timeout=20)
    assert report.complete and report.accepted == 11
    times = [t for t, _ in sink.requests]
    statuses = [s for _, s in sink.requests]
    assert statuses == [429, 429, 200]
    assert times[1] - times[0] >= 0.95 and times[2] - times[1] >= 0.95
    assert sink.resent_after_acceptance == 0


async def test_final_4xx_is_counted_not_retried(sink: Sink) -> None:
    """A 401 is final for the batch: counted as dropped by reason, not retried forever."""
    sink.fail_with, sink.fail_next = 401, -1
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, **FAST)
    async with tracker:
        await _track(tracker, 1, 4)
        report = await tracker.send_tracked_data(timeout=10)
    assert report.failed == 5 and report.pending == 0
    stats = tracker.stats()
    assert stats.dropped_by_reason == {"http_401": 5}
    assert len(sink.requests) == 1


async def test_hung_collector_never_blocks_tracking_calls(sink: Sink) -> None:
    """With the collector accepting but never answering, tracking calls still all return."""
    sink.hang = True
    tracker = ConversationTracker(
        api_key=KEY, endpoint=sink.url, request_timeout=60, shutdown_timeout=0.5, **FAST
    )
    async with tracker:
        with anyio.fail_after(10):
            for n in range(2000):
                tracker.track_human_message(f"m{n}", conversation_id="hung")
                if n % 100 == 0:
                    await anyio.sleep(0.01)
            await anyio.wait_all_tasks_blocked()
        assert tracker.stats().queued == 2000
    # The shutdown deadline passed with the collector still hung: counted, not silent.
    assert tracker.stats().dropped_by_reason == {"shutdown_timeout": 2000}


def test_parse_retry_after() -> None:
    """Retry-After is read as seconds or as an HTTP date, capped, and junk is ignored."""
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("99999") == 300.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    delay = parse_retry_after(future)
    assert delay is not None and 25 <= delay <= 31
