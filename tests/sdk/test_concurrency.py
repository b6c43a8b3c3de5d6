"""Concurrent conversations never see each other's context; seq orders each conversation."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import anyio
import pytest

from agentsight import ConversationTracker
from tests.sink import KEY, Sink

pytestmark = pytest.mark.anyio


def _check_attribution(events: list[dict[str, Any]], conversations: int, per: int) -> None:
    messages = [e for e in events if e["type"] == "message"]
    assert len(messages) == conversations * per
    by_conversation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in messages:
        by_conversation[event["conversation_id"]].append(event)
    assert len(by_conversation) == conversations
    for cid, items in by_conversation.items():
        # every message names its own conversation and its own index, in seq order
        items.sort(key=lambda e: e["seq"])
        seqs = [e["seq"] for e in items]
        assert seqs == sorted(set(seqs)), cid
        assert [e["content"] for e in items] == [f"{cid} says {i}" for i in range(per)]


async def test_500_tasks_keep_their_own_conversation(sink: Sink) -> None:
    """500 concurrent tasks x 10 messages: each lands in its own conversation, seq increasing."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=0.05)
    async with tracker:

        async def chat(n: int) -> None:
            cid = f"task-{n}"
            await tracker.get_or_create_conversation(cid, customer_id=f"user-{n}")
            for i in range(10):
                await tracker.track_human_message(f"{cid} says {i}")
                await anyio.sleep(0)  # noqa: ASYNC115 - as the issue words it

        async with anyio.create_task_group() as tg:
            for n in range(500):
                tg.start_soon(chat, n)
    events = sink.wait_for(5500)
    _check_attribution(events, 500, 10)
    assert tracker.stats().dropped == 0


def test_32_threads_in_sync_mode(sink: Sink) -> None:
    """32 threads calling plainly (thread mode) never mix their conversations."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=0.05)
    barrier = threading.Barrier(32)

    def worker(n: int) -> None:
        barrier.wait()
        for conversation in range(5):
            cid = f"thread-{n}-{conversation}"
            tracker.get_or_create_conversation(cid)
            for i in range(10):
                tracker.track_human_message(f"{cid} says {i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = tracker.send_tracked_data().result()
    tracker.close()
    assert report.complete
    events = sink.wait_for(32 * 5 * 11)
    _check_attribution(events, 32 * 5, 10)


async def test_conversation_block_restores_previous(sink: Sink) -> None:
    """A conversation() block sets the conversation for the block and restores the outer one."""
    async with ConversationTracker(api_key=KEY, endpoint=sink.url) as tracker:
        await tracker.get_or_create_conversation("outer")
        async with tracker.conversation("inner", source="web"):
            await tracker.track_human_message("in the block")
            assert tracker.current_conversation_id == "inner"
        await tracker.track_human_message("after the block")
        with tracker.conversation("sync-block"):
            tracker.track_agent_message("sync")
        assert tracker.current_conversation_id == "outer"
        await tracker.send_tracked_data()
    messages = {e["content"]: e["conversation_id"] for e in sink.events if e["type"] == "message"}
    assert messages == {
        "in the block": "inner",
        "after the block": "outer",
        "sync": "sync-block",
    }


async def test_explicit_conversation_id_wins_over_context(sink: Sink) -> None:
    """conversation_id= on a call names the conversation, without changing the current one."""
    async with ConversationTracker(api_key=KEY, endpoint=sink.url) as tracker:
        await tracker.get_or_create_conversation("current")
        await tracker.track_human_message("one", conversation_id="other")
        await tracker.track_human_message("two")
        await tracker.track_human_message("three", conversation_id="other")
    sink.wait_for(4)
    other = [e for e in sink.events if e["conversation_id"] == "other"]
    assert [e["content"] for e in sorted(other, key=lambda e: e["seq"])] == ["one", "three"]
    assert [e["conversation_id"] for e in sink.events if e.get("content") == "two"] == ["current"]
