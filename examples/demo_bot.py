"""The demo shop's support bot right now: many concurrent conversations, tracked with the SDK.

    AGENTSIGHT_API_KEY=ags_... DEMO_FEEDBACK_KEY=ags_... python examples/demo_bot.py \
        [--conversations 200] [--speed 100]

Plays conversations of ``demo_conversations.py`` (the same customers, topics
and texts as the imported history) as they happen: each is its own task, all
of them at once in one asyncio loop, tracked through one
``ConversationTracker`` under ``async with``: ``initialize_conversation``
when the chat is shown (some are never used), ``get_or_create_conversation``
with the customer's channel, device, language and IP address, then the
customer's messages, the tool calls, the agent's answers with the model's
token usage, button presses and hand-overs to a human.  The calls never wait
for the network.  The pauses between the steps run ``--speed`` times faster
than in real life, so a few minutes of chat take a second or two.  Once the
tracker has flushed, the customers' feedback goes through
``agentsight.api.AsyncClient`` with ``DEMO_FEEDBACK_KEY`` (an ``admin`` key:
the bot's own key, ``AGENTSIGHT_API_KEY``, is an ``ingest`` key, which may
only send events; without ``DEMO_FEEDBACK_KEY``, the bot's key is tried).
"""

from __future__ import annotations

import argparse
import os
import random
import time

import anyio
import demo_conversations as demo

from agentsight import ConversationTracker
from agentsight.api import AsyncClient


async def play(tracker: ConversationTracker, script: demo.Script, speed: float) -> None:
    """Track *script*'s steps as they happen, with its pauses *speed* times shorter."""
    cid = script.conversation_id
    await anyio.sleep(random.Random(cid).uniform(0, 1))  # they arrive within a second
    for step in script.steps:
        await anyio.sleep(step.after / speed)
        f = step.fields
        if step.kind in ("interaction", "conversation"):
            attributes = {k: v for k, v in f.items() if k != "is_used"}
            if step.kind == "interaction":
                await tracker.initialize_conversation(cid, **attributes)
            else:
                await tracker.get_or_create_conversation(cid, **attributes)
        elif step.kind == "message" and f["sender"] == "end_user":
            await tracker.track_human_message(f["content"], metadata=f["metadata"])
        elif step.kind == "message":
            await tracker.track_agent_message(f["content"], metadata=f["metadata"])
        elif step.kind == "action":
            await tracker.track_action(
                f["action_name"],
                duration_ms=f["duration_ms"],
                tools_used=f["tools_used"],
                response=f["response"],
                error_msg=f["error_msg"],
                metadata=f["metadata"],
            )
        elif step.kind == "button":
            await tracker.track_button(f["button_event"], f["label"], f["value"])
        elif step.kind == "token_usage":
            await tracker.track_token_usage(
                prompt_tokens=f["prompt_tokens"],
                completion_tokens=f["completion_tokens"],
                embedding_tokens=f["embedding_tokens"],
                model=f["model"],
                provider=f["provider"],
                duration_ms=f["duration_ms"],
            )


async def main(conversations: int, seed: int, speed: float) -> None:
    started = time.perf_counter()
    scripts = demo.live(seed, conversations, time.time())
    async with ConversationTracker() as tracker:  # settings from AGENTSIGHT_* variables
        async with anyio.create_task_group() as tg:
            for script in scripts:
                tg.start_soon(play, tracker, script, speed)
        report = await tracker.send_tracked_data()
    given = [s for s in scripts if s.feedback]
    async with AsyncClient(api_key=os.environ.get("DEMO_FEEDBACK_KEY")) as client:
        for script in given:
            assert script.feedback is not None
            await client.submit_feedback(script.conversation_id, *script.feedback)
    stats = tracker.stats()
    print(
        f"demo bot: {conversations} conversations tracked live with the SDK, all at once, in "
        f"{time.perf_counter() - started:.1f}s; {stats.sent} events sent, {stats.accepted} "
        f"accepted, {stats.duplicates} duplicates, {stats.rejected} rejected, {stats.retried} "
        f"retried, {stats.dropped} dropped; last flush complete: {report.complete}; "
        f"{len(given)} feedback entries"
    )
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Track the demo shop's live conversations.")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed", type=float, default=100, help="how much faster than real time")
    args = parser.parse_args()
    anyio.run(main, args.conversations, args.seed, args.speed)
