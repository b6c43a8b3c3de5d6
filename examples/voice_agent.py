"""A voice agent: one generated conversation id per phone call, on asyncio or trio.

    AGENTSIGHT_API_KEY=ags_... python examples/voice_agent.py [--backend trio]

As in the documentation's "Voice Agent" example: every call gets
``generate_conversation_id()``.  Calls run concurrently, each inside
``tracker.conversation(...)``; the transcribed turns are tracked as messages
and a caller who asks for a person is handed over (``fallback_to_human``,
which the collector counts as an escalation).
"""

from __future__ import annotations

import argparse

import anyio

from agentsight import ConversationTracker
from agentsight.helpers import generate_conversation_id

CALLS = [  # caller id, phone number, transcribed utterances
    ("caller-17", "+1234567890", ["I need to reschedule my appointment", "Tuesday works"]),
    ("caller-42", "+1987654321", ["My internet is down", "Let me talk to a person"]),
]


async def call(tracker: ConversationTracker, caller_id: str, phone: str, turns: list[str]) -> None:
    conversation_id = generate_conversation_id()  # a unique id for each call
    metadata = {"call_duration": 0, "phone_number": phone}
    async with tracker.conversation(
        conversation_id,
        customer_id=caller_id,
        source="voice_call",
        language="en",
        metadata=metadata,
    ):
        for utterance in turns:
            await tracker.track_human_message(utterance, metadata={"asr_confidence": 0.93})
            if "person" in utterance:
                await tracker.track_action("fallback_to_human", response="queued for an agent")
                await tracker.track_agent_message("Transferring you to a colleague now.")
                break
            await anyio.sleep(0.01)  # speech synthesis
            await tracker.track_agent_message("Sure, done. Anything else?")
    print(f"call from {phone}: conversation {conversation_id}, {len(turns)} turns")


async def main() -> None:
    async with ConversationTracker() as tracker, anyio.create_task_group() as tg:
        for caller_id, phone, turns in CALLS:
            tg.start_soon(call, tracker, caller_id, phone, turns)
    # Leaving the block waited for the calls, then delivered what was buffered.
    stats = tracker.stats()
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
