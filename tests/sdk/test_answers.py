"""The SDK believes no answer blindly: counts that do not add up, and redirects."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from agentsight import ConversationTracker
from tests.sink import KEY, Sink

pytestmark = pytest.mark.anyio

FAST: dict[str, Any] = {
    "flush_interval": 0.02,
    "retry_initial_delay": 0.01,
    "retry_max_delay": 0.05,
}
EVENTS = 50

LIES = [
    pytest.param({}, id="empty-object"),
    pytest.param({"status": "ok"}, id="status-ok"),
    pytest.param([], id="array"),
    pytest.param({"accepted": 1_000_000_000, "duplicates": 0, "rejected": []}, id="too-many"),
    pytest.param({"accepted": -5, "duplicates": 55, "rejected": []}, id="negative"),
    pytest.param({"accepted": "50", "duplicates": 0, "rejected": []}, id="string-count"),
    pytest.param({"accepted": 50.0, "duplicates": 0, "rejected": []}, id="float-count"),
    pytest.param({"accepted": True, "duplicates": 49, "rejected": []}, id="bool-count"),
    pytest.param({"accepted": 10, "duplicates": 0, "rejected": []}, id="too-few"),
    pytest.param(
        {"accepted": 49, "duplicates": 0, "rejected": [{"index": 99, "error": "x"}]},
        id="rejected-outside",
    ),
    pytest.param(
        {"accepted": 48, "duplicates": 0, "rejected": [{"index": 3}, {"index": 3}]},
        id="rejected-twice",
    ),
]


async def _track(tracker: ConversationTracker) -> None:
    for n in range(EVENTS):
        await tracker.track_human_message(f"m{n}", conversation_id="lies")


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("lie", LIES)
async def test_an_answer_that_does_not_add_up_is_retried_not_believed(
    sink: Sink, lie: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A 200 whose counts are not the batch's (or not integers >= 0) is a failed attempt:
    retried, counted and logged once; the events arrive once the collector answers truly."""
    sink.answer, sink.answer_next = (200, lie, {}), 5
    async with ConversationTracker(
        api_key=KEY, endpoint=sink.url, max_batch_events=EVENTS, **FAST
    ) as tracker:
        await _track(tracker)
        report = await tracker.send_tracked_data(timeout=20)
    assert report.complete and report.accepted == EVENTS
    stats = tracker.stats()
    assert (stats.sent, stats.accepted, stats.dropped) == (EVENTS, EVENTS, 0)
    assert stats.retried >= 5 * EVENTS  # every lying answer was an attempt to repeat
    assert len(sink.events) == EVENTS and sink.resent_after_acceptance == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "failed" in r.msg]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once per outage


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_server_that_answers_ok_to_everything_sends_nothing(sink: Sink) -> None:
    """Against `200 {"status":"ok"}` forever nothing counts as sent: the events stay pending."""
    sink.answer, sink.answer_next = (200, {"status": "ok"}, {}), -1
    async with ConversationTracker(
        api_key=KEY, endpoint=sink.url, shutdown_timeout=0.5, **FAST
    ) as tracker:
        await _track(tracker)
        report = await tracker.send_tracked_data(timeout=0.5)
        assert report.sent == 0 and report.pending == EVENTS
        assert tracker.stats().sent == 0 and tracker.stats().queued == EVENTS
    stats = tracker.stats()
    assert stats.sent == 0
    assert stats.dropped_by_reason == {"shutdown_timeout": EVENTS}  # counted, never "sent"


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_batches_never_follow_a_redirect(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    """A 307 to another origin is not followed: nothing reaches it, the batch is refused
    for good, counted as dropped with its status, and the log says why."""
    elsewhere = Sink().start()
    try:
        location = elsewhere.url + "/v1/batch"
        sink.answer, sink.answer_next = (307, {}, {"Location": location}), -1
        async with ConversationTracker(api_key=KEY, endpoint=sink.url, **FAST) as tracker:
            await _track(tracker)
            report = await tracker.send_tracked_data(timeout=10)
        assert report.failed == EVENTS and report.sent == 0
        assert tracker.stats().dropped_by_reason == {"http_307": EVENTS}
        assert elsewhere.events == [] and elsewhere.requests == []
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("never follow redirects" in e and location in e for e in errors), errors
    finally:
        await anyio.to_thread.run_sync(elsewhere.stop)
