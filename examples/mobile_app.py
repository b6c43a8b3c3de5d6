"""A mobile app's chat backend on asyncio: engagement and token usage per session.

    AGENTSIGHT_API_KEY=ags_... python examples/mobile_app.py

As in the documentation's "Mobile App" example, with ``async with
ConversationTracker()``: the tracker's background task runs in this loop and
each asyncio task has its own current conversation.  When the app opens its
chat screen the conversation is initialised (not yet used); it counts as used
once the user writes.  Token usage is read from the (here simulated) OpenAI
response with ``track_llm_usage``.
"""

from __future__ import annotations

from typing import Any

import anyio

from agentsight import ConversationTracker
from agentsight.integrations.llm import track_llm_usage

SESSIONS = [  # user, session, what they write (nothing: opened the chat and left)
    ("u-1", "s-1", ["My card was charged twice", "Thanks"]),
    ("u-2", "s-7", ["How do I export my data?"]),
    ("u-3", "s-2", []),
]


def fake_completion(question: str) -> dict[str, Any]:
    """What ``openai.chat.completions.create(...).model_dump()`` would return."""
    answer = f"About '{question}': here is what I found."
    usage = {"prompt_tokens": 60 + len(question), "completion_tokens": 18, "total_tokens": 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {"choices": [{"message": {"role": "assistant", "content": answer}}], "usage": usage}


async def session(tracker: ConversationTracker, user: str, sid: str, texts: list[str]) -> None:
    cid = f"app-{user}-{sid}"
    attributes: dict[str, Any] = {
        "customer_id": user,
        "device": "mobile",
        "source": "ios_app",
        "language": "en",
        "metadata": {"app_version": "2.1.0", "os_version": "iOS 17.2"},
    }
    await tracker.initialize_conversation(cid, **attributes)  # the chat screen opened
    for text in texts:
        await tracker.get_or_create_conversation(cid, **attributes)  # the user wrote: used
        await tracker.track_human_message(text)
        completion = fake_completion(text)
        await tracker.track_agent_message(completion["choices"][0]["message"]["content"])
        await track_llm_usage(tracker, completion)
    print(f"{cid}: {len(texts)} messages, tokens {tracker.get_token_usage(cid)['total_tokens']}")


async def main() -> None:
    # Settings from AGENTSIGHT_API_KEY and AGENTSIGHT_API_ENDPOINT.
    async with ConversationTracker() as tracker, anyio.create_task_group() as tg:
        for user, sid, texts in SESSIONS:
            tg.start_soon(session, tracker, user, sid, texts)
    stats = tracker.stats()  # the sessions ended, then leaving the block delivered everything
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


if __name__ == "__main__":
    anyio.run(main)
