"""The steps of a turn: action blocks and model calls nest through contextvars (asyncio,
trio, threads); scores are checked where they are made."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from agentsight import ConversationTracker, ValidationError
from agentsight.transports import InMemoryTransport

pytestmark = pytest.mark.anyio


def _steps(transport: InMemoryTransport) -> dict[str, dict[str, Any]]:
    """The tracked steps by name (action name, or the model of a call)."""
    found = {}
    for event in transport.events:
        if event["type"] == "action":
            found[event["action_name"]] = event
        elif event["type"] == "token_usage":
            found[event["model"]] = event
    return found


async def test_blocks_and_calls_nest() -> None:
    """A call inside a block is its child; blocks nest; outside any block there is no parent."""
    transport = InMemoryTransport()
    async with (
        ConversationTracker(transport=transport, flush_interval=0.01) as tracker,
        tracker.conversation("c1"),
    ):
        async with tracker.action("plan"):
            await tracker.track_token_usage(10, 5, model="planner")
            async with tracker.action("search") as run:
                await tracker.track_action("http_get", duration_ms=3.0)
                run.response = "found"
            await tracker.track_token_usage(20, 8, model="writer")
        await tracker.track_token_usage(1, 1, model="after")
    steps = _steps(transport)
    plan = steps["plan"]["step_id"]
    assert steps["plan"]["parent_id"] is None
    assert steps["planner"]["parent_id"] == plan
    assert steps["search"]["parent_id"] == plan
    assert steps["http_get"]["parent_id"] == steps["search"]["step_id"]
    assert steps["writer"]["parent_id"] == plan
    assert steps["after"]["parent_id"] is None
    ids = [e["step_id"] for e in steps.values()]
    assert len(set(ids)) == len(ids) and all(len(i) == 16 for i in ids)


async def test_concurrent_tasks_keep_their_own_parents() -> None:
    """Tasks started inside a block are its children, each with its own inner blocks."""
    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport, flush_interval=0.01) as tracker:

        async def tool(name: str) -> None:
            async with tracker.action(name):
                await anyio.sleep(0.01)  # the other tasks run meanwhile
                await tracker.track_token_usage(1, 1, model=f"{name}-model")

        async with (
            tracker.conversation("c1"),
            tracker.action("fan_out"),
            anyio.create_task_group() as group,
        ):
            for name in ("a", "b", "c"):
                group.start_soon(tool, name)
    steps = _steps(transport)
    for name in ("a", "b", "c"):
        assert steps[name]["parent_id"] == steps["fan_out"]["step_id"]
        assert steps[f"{name}-model"]["parent_id"] == steps[name]["step_id"]


async def test_worker_threads_see_the_block_they_were_started_in() -> None:
    """anyio.to_thread copies the context: a call in the worker thread is the block's child;
    a thread started bare has no parent (its context is empty)."""
    transport = InMemoryTransport()
    async with (
        ConversationTracker(transport=transport, flush_interval=0.01) as tracker,
        tracker.conversation("c1"),
        tracker.action("blocking_io"),
    ):

        def in_worker() -> None:
            tracker.track_token_usage(1, 1, model="worker", conversation_id="c1")
            with tracker.action("sync_block"):
                tracker.track_token_usage(1, 1, model="inner", conversation_id="c1")

        await anyio.to_thread.run_sync(in_worker)
        bare = threading.Thread(
            target=tracker.track_token_usage,
            args=(1, 1),
            kwargs={"model": "bare", "conversation_id": "c1"},
        )
        bare.start()
        bare.join()
    steps = _steps(transport)
    block = steps["blocking_io"]["step_id"]
    assert steps["worker"]["parent_id"] == block
    assert steps["sync_block"]["parent_id"] == block
    assert steps["inner"]["parent_id"] == steps["sync_block"]["step_id"]
    assert steps["bare"]["parent_id"] is None


async def test_explicit_step_ids_win() -> None:
    """Ids from one's own tracing are kept as given."""
    transport = InMemoryTransport()
    async with (
        ConversationTracker(transport=transport, flush_interval=0.01) as tracker,
        tracker.action("outer"),
    ):
        tracker.track_action("x", step_id="s-1", parent_id="p-1", conversation_id="c1")
    assert (_steps(transport)["x"]["step_id"], _steps(transport)["x"]["parent_id"]) == (
        "s-1",
        "p-1",
    )


async def test_model_call_details_travel() -> None:
    """Model, provider, cached and reasoning tokens, start and duration are sent as given."""
    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport, flush_interval=0.01) as tracker:
        await tracker.track_token_usage(
            100,
            40,
            model="gpt-4o-mini",
            provider="openai",
            cached_input_tokens=30,
            reasoning_tokens=12,
            started_at="2026-12-05T10:00:00Z",
            duration_ms=812.5,
            conversation_id="c1",
        )
    [event] = [e for e in transport.events if e["type"] == "token_usage"]
    assert {k: event[k] for k in ("model", "provider", "cached_input_tokens")} == {
        "model": "gpt-4o-mini",
        "provider": "openai",
        "cached_input_tokens": 30,
    }
    assert (event["reasoning_tokens"], event["duration_ms"]) == (12, 812.5)
    assert event["started_at"] == "2026-12-05T10:00:00Z"


async def test_scores_travel_and_bad_ones_are_named() -> None:
    """track_score sends numbers, booleans and categories; a bad one raises naming it."""
    transport = InMemoryTransport()
    async with (
        ConversationTracker(transport=transport, flush_interval=0.01) as tracker,
        tracker.conversation("c1"),
    ):
        await tracker.track_score("helpfulness", 0.75, "clear answer")
        await tracker.track_score("resolved", True, message_id="a" * 32)
        await tracker.track_score("topic", "billing", metadata={"judge": "gpt"})
        for args, error in [
            (("", 1), "name: expected a non-empty str"),
            (("x", float("nan")), "value: expected a finite number"),
            (("x", [1]), "value: expected a number, a bool or a non-empty str"),
            (("x", ""), "value: expected a number, a bool or a non-empty str"),
            (("x", 1, 5), "comment: expected a str"),
        ]:
            with pytest.raises(ValidationError, match=error):
                tracker.track_score(*args)  # type: ignore[arg-type]
    scores = [e for e in transport.events if e["type"] == "score"]
    assert [(s["name"], s["value"], s["source"]) for s in scores] == [
        ("helpfulness", 0.75, "sdk"),
        ("resolved", True, "sdk"),
        ("topic", "billing", "sdk"),
    ]
    assert scores[0]["comment"] == "clear answer" and scores[1]["message_id"] == "a" * 32
