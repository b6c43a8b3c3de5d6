"""The buffer contract: anyio's memory object stream, its answers, and the hand-over."""

from __future__ import annotations

import threading

import anyio
import pytest
from anyio.streams.memory import MemoryObjectSendStream

from agentsight._buffer import BEHIND, CLOSED, FULL, TAKEN, Buffer
from agentsight._loops import call_soon_threadsafe

pytestmark = pytest.mark.anyio


def _buffer(max_buffer: int) -> Buffer:
    return Buffer(max_buffer, call_soon_threadsafe())


async def test_events_travel_on_anyios_memory_object_stream() -> None:
    """Events are sent on an anyio memory object stream bounded by max_buffer, and the
    level the buffer reads for its soft limit is that stream's own count."""
    buffer = _buffer(10)
    assert isinstance(buffer._send, MemoryObjectSendStream)
    for n in range(7):
        buffer.put(n)
        stats = buffer._send.statistics()
        assert buffer.level() == stats.current_buffer_used == n + 1
    assert buffer._send.statistics().max_buffer_size == 10
    assert [buffer.take() for _ in range(8)] == [*range(7), None]
    buffer.leftovers()


async def test_put_answers_taken_behind_full_and_closed() -> None:
    """Up to the soft limit TAKEN, past it BEHIND, at max_buffer FULL, after close CLOSED."""
    buffer = _buffer(10)  # soft limit: half of it
    answers = [buffer.put(n) for n in range(11)]
    assert answers == [TAKEN] * 5 + [BEHIND] * 5 + [FULL]
    assert buffer.take() == 0
    assert buffer.put("room again") is BEHIND
    buffer.close()
    assert buffer.put("late") is CLOSED
    assert buffer.leftovers() == [*range(1, 10), "room again"]


async def test_waiting_for_the_first_event_loses_nothing_when_cancelled() -> None:
    """readable() takes nothing: cancelled after a put woke it, the event is still there."""
    buffer = _buffer(10)
    async with anyio.create_task_group() as tg:
        tg.start_soon(buffer.readable)
        await anyio.wait_all_tasks_blocked()
        assert buffer.waiting
        buffer.put("first")  # wakes the waiter ...
        tg.cancel_scope.cancel()  # ... which is cancelled before it runs
    assert buffer.take() == "first"
    buffer.leftovers()


async def test_puts_from_other_threads_wake_the_waiting_batcher() -> None:
    """A put from another thread reaches the stream and wakes a batcher waiting in
    readable(), through the loop, once per burst."""
    buffer = _buffer(100_000)
    woken = 0

    async def batcher() -> None:
        nonlocal woken
        while await buffer.readable():
            woken += 1
            while buffer.take() is not None:
                pass
            await anyio.sleep(0.01)  # a burst lands meanwhile: one wake-up for it

    def burst() -> None:
        for n in range(5_000):
            assert buffer.put(n) in (TAKEN, BEHIND)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(batcher)
            await anyio.wait_all_tasks_blocked()
            threads = [threading.Thread(target=burst) for _ in range(4)]
            for thread in threads:
                thread.start()

            def join() -> None:
                for thread in threads:
                    thread.join()

            await anyio.to_thread.run_sync(join)
            while buffer.level():  # noqa: ASYNC110 - the batcher task drains it
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert 1 <= woken < 200, woken
    buffer.leftovers()


async def test_awaited_send_waits_for_room_and_close_releases_it() -> None:
    """send() on a full buffer waits until the batcher takes; a close ends the wait with
    ClosedResourceError (the tracker counts the event as dropped after close)."""
    buffer = _buffer(2)
    buffer.put(1)
    buffer.put(2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(buffer.send, 3)
        await anyio.wait_all_tasks_blocked()
        assert buffer.take() == 1  # makes room: the waiting sender gets in
    assert [buffer.take(), buffer.take()] == [2, 3]
    buffer.put(4)
    buffer.put(5)
    outcome = []

    async def send_late() -> None:
        with pytest.raises(anyio.ClosedResourceError):
            await buffer.send(6)
        outcome.append("refused")

    async with anyio.create_task_group() as tg:
        tg.start_soon(send_late)
        await anyio.wait_all_tasks_blocked()
        buffer.close()
    assert outcome == ["refused"]
    assert buffer.leftovers() == [4, 5]
