"""What buffered events cost the process: nothing for the garbage collector, exact copies."""

from __future__ import annotations

import gc

import pytest

from agentsight import ConversationTracker
from agentsight.transports import InMemoryTransport

pytestmark = pytest.mark.anyio

METADATA = {"model": "gpt-4o", "latency_ms": 412, "channel": "web", "lang": "en"}


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


async def test_metadata_is_copied_at_the_call() -> None:
    """The caller changing or emptying its dict after the call changes nothing tracked."""
    transport = InMemoryTransport()
    metadata: dict[object, object] = {"step": 1, 7: "int key", "nested": [1, 2]}
    async with ConversationTracker(transport=transport) as tracker:
        await tracker.track_agent_message("hi", metadata=metadata, conversation_id="copy")
        metadata["step"] = 2
        metadata.pop(7)
        await tracker.track_agent_message("again", metadata={}, conversation_id="copy")
    first, second = transport.events
    assert first["metadata"] == {"step": 1, "7": "int key", "nested": [1, 2]}
    assert second["metadata"] == {}
