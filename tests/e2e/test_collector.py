"""The real SDK against a real `agentsight serve` process, on asyncio and trio."""

from __future__ import annotations

from collections import defaultdict

import anyio
import pytest

from agentsight import ConversationTracker
from tests.e2e.collector import CollectorProcess

pytestmark = pytest.mark.anyio


def _tracker(collector: CollectorProcess, project: str = "A") -> ConversationTracker:
    return ConversationTracker(
        api_key=collector.keys[project], endpoint=collector.url, flush_interval=0.05
    )


async def test_concurrent_conversations_stored_complete_and_in_order(
    collector: CollectorProcess,
) -> None:
    """200 concurrent conversations: every event stored once, in call order, with attributes."""
    async with _tracker(collector) as tracker:

        async def chat(n: int) -> None:
            await tracker.get_or_create_conversation(
                f"e2e-{n}",
                customer_id=f"user-{n % 50}",
                customer_ip_address="8.8.8.8" if n % 2 else "81.2.69.142",
                source="web" if n % 3 else "whatsapp",
                device="mobile",
                language="en",
            )
            for turn in range(5):
                await tracker.track_human_message(f"question {turn}")
                await anyio.sleep(0)  # noqa: ASYNC115 - interleave the conversations
                await tracker.track_action("lookup", duration_ms=12.5, response="found")
                await tracker.track_agent_message(f"answer {turn}")
            await tracker.track_token_usage(prompt_tokens=100, completion_tokens=40)
            await tracker.track_button("rate", "Good", "up")

        async with anyio.create_task_group() as tg:
            for n in range(200):
                tg.start_soon(chat, n)
        report = await tracker.send_tracked_data()
    assert report.complete
    stats = tracker.stats()
    assert (stats.accepted, stats.rejected, stats.dropped) == (200 * 18, 0, 0)

    listed = await anyio.to_thread.run_sync(collector.all_conversations)
    assert len(listed) == 200
    by_country: dict[str, int] = defaultdict(int)
    for item in listed:
        by_country[item["country"]] += 1
    assert by_country == {"US": 100, "GB": 100}
    whatsapp = await anyio.to_thread.run_sync(
        lambda: collector.all_conversations(source="whatsapp")
    )
    assert len(whatsapp) == 67
    detail = await anyio.to_thread.run_sync(collector.conversation, "e2e-7")
    kinds = [e["type"] for e in detail["events"]]
    assert kinds == ["conversation"] + ["message", "action", "message"] * 5 + [
        "token_usage",
        "button",
    ]
    texts = [e["content"] for e in detail["events"] if e["type"] == "message"]
    assert texts == [t for turn in range(5) for t in (f"question {turn}", f"answer {turn}")]
    assert detail["conversation"]["customer_id"] == "user-7"
    assert detail["conversation"]["country"] == "US"
    assert detail["conversation"].get("customer_ip_address") is None  # raw IPs not kept


async def test_first_write_wins_and_initialize_then_use(collector: CollectorProcess) -> None:
    """A second get_or_create keeps the first values; initialize then use gives is_used true."""
    async with _tracker(collector) as tracker:
        await tracker.get_or_create_conversation("fw", customer_id="first", source="web")
        await tracker.send_tracked_data()
        await tracker.get_or_create_conversation(
            "fw", customer_id="second", source="whatsapp", language="es"
        )
        await tracker.initialize_conversation("iu", name="Shown")
        await tracker.get_or_create_conversation("iu")
        await tracker.initialize_conversation("only-shown")
        await tracker.send_tracked_data()
    first = (await anyio.to_thread.run_sync(collector.conversation, "fw"))["conversation"]
    assert (first["customer_id"], first["source"], first["language"]) == ("first", "web", "es")
    used = (await anyio.to_thread.run_sync(collector.conversation, "iu"))["conversation"]
    assert (used["is_used"], used["name"]) == (True, "Shown")
    shown = (await anyio.to_thread.run_sync(collector.conversation, "only-shown"))["conversation"]
    assert shown["is_used"] is False
    ids = [
        c["conversation_id"] for c in await anyio.to_thread.run_sync(collector.all_conversations)
    ]
    assert sorted(ids) == ["fw", "iu", "only-shown"]


async def test_projects_are_isolated(collector: CollectorProcess) -> None:
    """Project B's key sees nothing of what project A tracked, and cannot change it."""
    async with _tracker(collector, "A") as tracker:
        await tracker.get_or_create_conversation("secret", name="A's")
        await tracker.track_human_message("for A only")
    status, _ = await anyio.to_thread.run_sync(
        lambda: collector.request("GET", "/v1/conversations/secret", "B")
    )
    assert status == 404
    status, _ = await anyio.to_thread.run_sync(
        lambda: collector.request("PATCH", "/v1/conversations/secret", "B", {"name": "B's"})
    )
    assert status == 404
    assert await anyio.to_thread.run_sync(lambda: collector.all_conversations("B")) == []
    detail = await anyio.to_thread.run_sync(collector.conversation, "secret")
    assert detail["conversation"]["name"] == "A's"


async def test_hostile_user_text_is_stored_as_text(collector: CollectorProcess) -> None:
    """Broken surrogates, HTML, SQL and a huge message from users are stored, never lost."""
    texts = [
        "half an emoji \ud83d and a whole one 😀",
        "<img src=x onerror=alert(1)>",
        "'; DROP TABLE events; --",
        "x" * 200_000,
    ]
    async with _tracker(collector) as tracker:
        await tracker.get_or_create_conversation("hostile", customer_ip_address="not an ip")
        for text in texts:
            await tracker.track_human_message(text)
        report = await tracker.send_tracked_data()
    assert report.complete and report.rejected == ()
    events = (await anyio.to_thread.run_sync(collector.conversation, "hostile"))["events"]
    stored = [e["content"] for e in events if e["type"] == "message"]
    assert stored[0] == "half an emoji \ufffd and a whole one 😀"
    assert stored[1:3] == texts[1:3]
    assert stored[3] == "x" * 100_000  # max_message_length, flagged
    assert [e["truncated"] for e in events if e["type"] == "message"] == [False] * 3 + [True]
