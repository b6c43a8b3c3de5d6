"""Tracking inside a running loop never stalls it: the lag a 1 ms ticker sees, reported."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import anyio
import pytest
from blockbuster import blockbuster_ctx

from agentsight import ConversationTracker
from tests.sink import KEY, SinkProcess

pytestmark = pytest.mark.anyio


async def _ticker(lateness: list[float], stop: anyio.Event) -> None:
    while not stop.is_set():
        start = anyio.current_time()
        await anyio.sleep(0.001)
        lateness.append(anyio.current_time() - start - 0.001)


async def _measure(work: Callable[[], object]) -> list[float]:
    lateness: list[float] = []
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_ticker, lateness, stop)
        await work()  # type: ignore[misc]
        stop.set()
    return lateness


async def test_loop_lag_while_tracking_20000_events(
    anyio_backend: str, figures: Callable[[str], None]
) -> None:
    """20,000 events tracked and shipped from 100 tasks: all delivered; the worst lag is reported.

    Blocking calls (file or socket I/O, time.sleep) in the loop thread fail the test
    under asyncio, where blockbuster can see them.
    """
    # The receiver runs in another process: in this one its JSON decoding would hold
    # the GIL and show up as lag of ours.
    sink = await anyio.to_thread.run_sync(SinkProcess().start)
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=0.05)

    async def idle() -> None:
        await anyio.sleep(1.0)

    async def handlers(tracked: bool) -> None:
        async def chat(n: int) -> None:
            if tracked:
                await tracker.get_or_create_conversation(f"lag-{n}")
            for i in range(199):
                if tracked:
                    await tracker.track_human_message(f"message {i} of a conversation")
                await anyio.sleep(0)  # noqa: ASYNC115 - a handler yields between calls

        async with anyio.create_task_group() as tg:
            for n in range(100):
                tg.start_soon(chat, n)

    async def baseline() -> None:
        await handlers(tracked=False)

    async def track() -> None:
        await handlers(tracked=True)
        report = await tracker.send_tracked_data(timeout=30)
        assert report.complete

    async with tracker:
        floor = await _measure(idle)
        untracked = await _measure(baseline)
        if anyio_backend == "asyncio":
            with blockbuster_ctx(["agentsight"]):
                loaded = await _measure(track)
        else:
            loaded = await _measure(track)
    delivered = await anyio.to_thread.run_sync(sink.count)
    await anyio.to_thread.run_sync(sink.stop)
    assert delivered == 20_000
    assert tracker.stats().dropped == 0
    figures(
        f"loop lag [{anyio_backend}] while tracking+shipping 20,000 events: "
        f"worst {max(loaded) * 1000:.2f} ms, median {statistics.median(loaded) * 1000:.3f} ms "
        f"; the same 100 handlers without tracking: worst {max(untracked) * 1000:.2f} ms, "
        f"median {statistics.median(untracked) * 1000:.3f} ms; idle loop: worst "
        f"{max(floor) * 1000:.2f} ms"
    )
