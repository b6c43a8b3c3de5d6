"""A type-checked tour of the public API; mypy --strict checks it, nothing runs it."""

from __future__ import annotations

from agentsight import ConversationTracker, SendReport, TrackerStats, conversation_tracker
from agentsight.helpers import generate_conversation_id
from agentsight.testing import capture_events
from agentsight.transports import InMemoryTransport


def sync_usage() -> None:
    conversation_tracker.get_or_create_conversation(
        conversation_id=generate_conversation_id(), customer_id="u", device="mobile"
    )
    conversation_tracker.track_human_message("Hello", metadata={"k": 1})
    conversation_tracker.track_agent_message("Hi!")
    conversation_tracker.track_action("lookup", duration_ms=12.5, error_msg=KeyError("x"))
    conversation_tracker.track_button("rate", "Good", "up")
    conversation_tracker.track_token_usage(prompt_tokens=1, completion_tokens=2)
    report: SendReport = conversation_tracker.send_tracked_data().result()
    pending: int = report.pending
    stats: TrackerStats = conversation_tracker.stats()
    dropped: int = stats.dropped + pending
    with conversation_tracker.conversation("c", source="web") as cid:
        conversation_tracker.track_human_message(cid)
    with capture_events() as captured:
        events: list[dict[str, object]] = captured.wait_for(1)
    del dropped, events


async def async_usage() -> None:
    async with ConversationTracker(transport=InMemoryTransport(), max_buffer=10) as tracker:
        await tracker.get_or_create_conversation("c", environment="production")
        await tracker.track_human_message("Hello", conversation_id="other")
        async with tracker.conversation("block"):
            await tracker.track_agent_message("Hi!")
        report: SendReport = await tracker.send_tracked_data()
        await tracker.initialize_conversation("d")
        usage: dict[str, int] = tracker.get_token_usage()
        del report, usage


async def llm_usage() -> None:
    from agentsight.integrations.llm import llm_model, track_llm_usage

    async with ConversationTracker(transport=InMemoryTransport()) as tracker:
        async with tracker.action("answer") as run:
            await tracker.track_token_usage(
                10, 2, model="gpt-4o-mini", provider="openai", cached_input_tokens=4
            )
            await track_llm_usage(tracker, {"model": "m", "usage": {"prompt_tokens": 1}})
            run.response = "ok"
        await tracker.track_score("helpfulness", 0.5, "why", message_id="m1")
        await tracker.track_score("resolved", True)
        tracker.track_action("tool", step_id="s1", parent_id="p1")
        model: str | None = llm_model({"model": "m"})[0]
        del model


def redaction_usage() -> None:
    from agentsight.redact import pii
    from agentsight.server import ServerOptions

    ConversationTracker(redact=pii)
    ConversationTracker(redact="pii")
    ConversationTracker(redact=lambda text: text.replace("secret", "[secret]"))
    failures: int = ConversationTracker(redact="off").stats().redaction_failures
    text: str = pii("ana@example.com")
    ServerOptions(redact=pii)
    del failures, text


async def query_usage() -> None:
    from agentsight.api import AsyncClient, Client, ConversationDetail, conversation_manager

    async with AsyncClient() as client:
        async for conversation in client.iter_conversations(source="web"):
            detail: ConversationDetail = await client.get_conversation(conversation.conversation_id)
            del detail
    with Client() as sync_client:
        page = sync_client.list_conversations(limit=10)
        del page
    conversation_manager.rename_conversation("c", "name").result()
