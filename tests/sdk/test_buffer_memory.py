"""What buffered events cost the process: nothing for the garbage collector, exact copies."""

from __future__ import annotations

import gc

import pytest

from agentsight import ConversationTracker
from agentsight.transports import InMemoryTransport
from tests.sink import KEY, Sink

METADATA = {"model": "gpt-4o", "latency_ms": 412, "channel": "web", "lang": "en"}


@pytest.mark.anyio
async def test_buffered_events_leave_the_garbage_collector() -> None:
    """20,000 buffered messages with metadata: most are no work for CPython's GC.

    A buffer of GC-tracked events made every full collection walk all of them
    and hold the event loop for 20-30 ms (the loop row of benchmarks/peers).
    Measured: about 7% stay tracked (those a young pass promoted before it
    could untrack them, see _events), against every one of them before.
    """
    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport, max_buffer=50_000) as tracker:
        gc.collect()
        before = len(gc.get_objects())
        with tracker.conversation("gc"):
            for n in range(20_000):  # no await: all of them stay buffered meanwhile
                tracker.track_human_message(f"message {n}", metadata=METADATA)
            for _ in range(3):  # a container leaves one young pass after its contents
                gc.collect(1)
            grown = len(gc.get_objects()) - before
            assert tracker.stats().queued >= 20_000
        assert grown < 4_000, f"{grown} more objects tracked by the GC while 20,000 buffered"
        report = await tracker.flush()
    assert report.complete
    assert len(transport.events) == 20_001
    assert transport.events[-1]["metadata"] == METADATA


@pytest.mark.anyio
async def test_metadata_is_copied_at_the_call() -> None:
    """The caller changing or emptying its dict after the call changes nothing tracked."""
    transport = InMemoryTransport()
    metadata: dict[object, object] = {"step": 1, 7: "int key", "nested": [1, 2]}
    async with ConversationTracker(transport=transport) as tracker:
        # An int key on purpose: metadata comes from anywhere.
        await tracker.track_agent_message("hi", metadata=metadata, conversation_id="copy")  # type: ignore[arg-type]
        metadata["step"] = 2
        metadata.pop(7)
        await tracker.track_agent_message("again", metadata={}, conversation_id="copy")
    first, second = transport.events
    assert first["metadata"] == {"step": 1, "7": "int key", "nested": [1, 2]}
    assert second["metadata"] == {}


def test_thread_mode_buffers_at_most_max_buffer() -> None:
    """Collector down, sync code: the hand-off and the channel share one max_buffer bound.

    (They were bounded separately: up to twice max_buffer was held in memory.)
    """
    sink = Sink()  # never started: every delivery fails, nothing leaves the buffer
    tracker = ConversationTracker(
        api_key=KEY,
        endpoint=sink.url,
        max_buffer=200,
        max_batch_events=10,
        max_concurrent_requests=1,
        shutdown_timeout=0.5,
    )
    for n in range(5_000):
        tracker.track_human_message(f"m{n}", conversation_id="bound")
    stats = tracker.stats()
    tracker.close()
    # The buffer, plus the few batches the pipeline holds (open, queued, sending).
    assert 200 <= stats.queued <= 200 + 5 * 10, stats
    assert stats.dropped_by_reason["buffer_full"] == 5_000 - stats.queued


@pytest.mark.anyio
async def test_awaited_burst_stays_near_the_soft_limit(sink: Sink) -> None:
    """30,000 awaited calls as fast as they go: memory holds ~10,000 events, none lost."""
    async with ConversationTracker(api_key=KEY, endpoint=sink.url) as tracker:
        highest = 0
        with tracker.conversation("burst"):
            for n in range(30_000):
                await tracker.track_human_message(f"message {n}", metadata=METADATA)
                if n % 500 == 0:
                    highest = max(highest, tracker.stats().queued)
        report = await tracker.flush()
    assert report.complete
    assert len(sink.events) == 30_001
    # Soft limit 10,000 buffered + what the pipeline holds in batches (1,000 each).
    assert highest <= 10_000 + 5 * 1_000, highest


def test_sync_burst_from_a_thread_loses_nothing(sink: Sink) -> None:
    """Plain calls in a tight loop outrun delivery: above the soft limit each call hands
    the GIL to the tracker's thread, so 60,000 events fit a 20,000 buffer, none dropped."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, max_buffer=20_000)
    for n in range(60_000):
        tracker.track_human_message(f"m{n}", conversation_id="tight")
    report = tracker.flush().result()
    tracker.close()
    assert report.complete
    assert tracker.stats().dropped == 0
    assert len(sink.events) == 60_000


@pytest.mark.anyio
async def test_event_ids_are_time_ordered_uuid7() -> None:
    """Ids are UUIDv7 (time first): unique, increasing within a batch, so the collector's
    unique index takes each batch in a few neighbouring pages rather than all over."""
    import uuid

    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport) as tracker:
        with tracker.conversation("ids"):
            for n in range(3_000):
                tracker.track_human_message(f"m{n}")
    in_call_order = sorted(transport.events, key=lambda event: event["seq"])
    ids = [event["id"] for event in in_call_order]
    assert len(set(ids)) == len(ids) == 3_001
    parsed = [uuid.UUID(i) for i in ids]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert ids == sorted(ids)  # one pipeline: issued in the order of the calls


@pytest.mark.anyio
async def test_awaited_calls_do_not_wait_for_a_collector_that_is_down() -> None:
    """Collector down: awaited calls past the soft limit return at once (they buffer, up to
    max_buffer); waiting for room would tie the application to the collector's outage."""
    import anyio

    sink = Sink()  # never started
    async with ConversationTracker(api_key=KEY, endpoint=sink.url, shutdown_timeout=0.2) as t:
        with anyio.fail_after(30):  # 5,000 waits of 0.1 s would take 500 s
            for n in range(15_000):
                await t.track_human_message(f"m{n}", conversation_id="outage")
        assert t.stats().queued == 15_000


def test_first_burst_of_a_fresh_process_loses_nothing(sink: Sink) -> None:
    """A fresh script's first 60,000 plain calls come while thread mode still imports and
    starts (100-300 ms): past the soft limit they wait for the start too, none dropped."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        from agentsight import ConversationTracker
        tracker = ConversationTracker(api_key=sys.argv[1], endpoint=sys.argv[2], max_buffer=20_000)
        for n in range(60_000):
            tracker.track_human_message(f"m{n}", conversation_id="cold")
        tracker.close()
        print(tracker.stats().dropped)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, KEY, sink.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["0"], done.stderr
    assert len(sink.events) == 60_000


def test_ids_keep_increasing_across_calls_and_past_a_full_counter() -> None:
    """Back-to-back calls in one millisecond continue its counter; 4,096 ids borrow the next
    millisecond: one pipeline's ids stay in increasing order, batch after batch."""
    import itertools
    import uuid

    from agentsight._encode import new_ids

    ids = new_ids(3) + new_ids(5_000) + new_ids(1) + new_ids(1_024)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    millis = [u.int >> 80 for u in parsed]
    counters = [(u.int >> 64) & 0xFFF for u in parsed]
    # Consecutive ids: the next counter in the same millisecond, or a later millisecond.
    for (m1, c1), (m2, c2) in itertools.pairwise(zip(millis, counters, strict=True)):
        assert (m2 == m1 and c2 == c1 + 1) or m2 > m1
