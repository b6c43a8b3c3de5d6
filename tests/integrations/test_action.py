"""``action(tracker, name)``: a timed block or decorated function becomes one action event."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import anyio
import pytest

from agentsight import ConversationTracker, ValidationError
from agentsight._action import action
from agentsight.transports import InMemoryTransport

pytestmark = pytest.mark.anyio


def memory_tracker() -> tuple[ConversationTracker, InMemoryTransport]:
    transport = InMemoryTransport()
    return ConversationTracker(transport=transport, flush_interval=0.01), transport


def actions(transport: InMemoryTransport) -> list[dict[str, Any]]:
    """The action events in call order (events from other threads may arrive later)."""
    tracked = [e for e in transport.events if e["type"] == "action"]
    return sorted(tracked, key=lambda e: (e["timestamp"], e["seq"]))


def parse(stamp: object) -> dt.datetime:
    return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


async def test_async_decorator_times_the_call_and_records_the_result() -> None:
    """An async function's call is timed; its return value is the response."""
    tracker, transport = memory_tracker()
    async with tracker:

        @action(tracker, "kb_search", tools_used=["kb"], metadata={"index": "faq"})
        async def search(query: str) -> list[str]:
            await anyio.sleep(0.02)  # the work being timed
            return [f"article about {query}"]

        async with tracker.conversation("act-1"):
            assert await search("refunds") == ["article about refunds"]
    [event] = actions(transport)
    assert event["conversation_id"] == "act-1"
    assert event["action_name"] == "kb_search"
    assert json.loads(str(event["response"])) == ["article about refunds"]
    assert event["tools_used"] == ["kb"] and event["metadata"] == {"index": "faq"}
    assert event["error_msg"] is None
    assert isinstance(event["duration_ms"], float) and event["duration_ms"] >= 20
    assert parse(event["started_at"]) < parse(event["ended_at"])
    assert search.__name__ == "search"


async def test_exceptions_are_tracked_and_reraised_from_blocks_and_sync_functions() -> None:
    """An error inside a block or a def becomes error_msg and still propagates."""
    tracker, transport = memory_tracker()
    async with tracker:

        @action(tracker, "charge", record_response=False)
        def charge(amount: int) -> str:
            if amount < 0:
                raise ValueError("negative amount")
            return "ok"

        async def failing_lookup() -> None:
            async with action(tracker, "lookup") as run:
                run.metadata["table"] = "orders"
                raise KeyError("order-9")

        async with tracker.conversation("act-2"):
            assert await anyio.to_thread.run_sync(charge, 5) == "ok"
            with pytest.raises(ValueError, match="negative"):
                charge(-1)
            with pytest.raises(KeyError):
                await failing_lookup()
    tracked = actions(transport)
    assert [(e["action_name"], e["response"], e["error_msg"]) for e in tracked] == [
        ("charge", None, None),
        ("charge", None, "ValueError: negative amount"),
        ("lookup", None, "KeyError: 'order-9'"),
    ]
    assert tracked[2]["metadata"] == {"table": "orders"}
    assert {e["conversation_id"] for e in tracked} == {"act-2"}


async def test_one_action_shared_by_concurrent_tasks_and_threads() -> None:
    """One Action used by 40 tasks and 8 threads at once: each run in its own conversation."""
    tracker, transport = memory_tracker()
    lookup = action(tracker, "lookup")
    async with tracker:

        async def task(n: int) -> None:
            async with tracker.conversation(f"task-{n}"), lookup as run:
                await anyio.sleep(0)  # noqa: ASYNC115 - interleave the runs
                run.response = f"result {n}"

        def thread(n: int) -> None:
            with tracker.conversation(f"thread-{n}"), lookup as run:
                run.response = f"result {n}"

        threads = [threading.Thread(target=thread, args=(n,)) for n in range(8)]
        for worker in threads:
            worker.start()
        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(task, n)
        for worker in threads:
            await anyio.to_thread.run_sync(worker.join)
    got = {(e["conversation_id"], e["response"]) for e in actions(transport)}
    expected = {(f"task-{n}", f"result {n}") for n in range(40)}
    assert got == expected | {(f"thread-{n}", f"result {n}") for n in range(8)}


def test_bad_arguments_raise_at_the_call_site() -> None:
    """An empty name or a metadata that is not a mapping raises ValidationError at once."""
    tracker, _ = memory_tracker()
    with pytest.raises(ValidationError, match="action_name"):
        action(tracker, " ")
    with pytest.raises(ValidationError, match="metadata"):
        action(tracker, "x", metadata=["not", "a", "mapping"])
