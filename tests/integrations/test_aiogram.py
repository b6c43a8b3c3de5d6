"""A real aiogram 3 Dispatcher fed with updates; the bot talks to a loopback Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from agentsight import ConversationTracker
from agentsight.integrations.aiogram import setup_tracking, track_reply
from agentsight.transports import InMemoryTransport
from tests.e2e.collector import CollectorProcess
from tests.integrations.conftest import collector_tracker
from tests.integrations.telegram import (
    RATE_KEYBOARD,
    FakeTelegram,
    button_update,
    message_update,
    user,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """aiogram runs on asyncio only."""
    return "asyncio"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = await FakeTelegram().start()
    try:
        yield server
    finally:
        await server.stop()


def support_bot(tracker: ConversationTracker, seen: list[tuple[str, str | None]]) -> Dispatcher:
    """A bot that echoes with a rating keyboard and thanks for ratings."""
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        seen.append((f"telegram-{message.chat.id}", tracker.current_conversation_id))
        await tracker.track_action("lookup", duration_ms=2.0, response="found")
        keyboard = InlineKeyboardMarkup.model_validate(RATE_KEYBOARD)
        await message.answer(f"echo: {message.text}", reply_markup=keyboard)

    @dp.callback_query(F.data.startswith("rate:"))
    async def rated(query: CallbackQuery, bot: Bot) -> None:
        await query.answer()  # answerCallbackQuery: no text, not tracked
        assert query.message is not None
        await bot.send_message(query.message.chat.id, "thanks for rating")

    return dp


async def test_messages_buttons_and_replies_land_in_per_chat_conversations(
    collector: CollectorProcess, telegram: FakeTelegram
) -> None:
    """30 chats at once: each chat's messages, replies and button press in its conversation."""
    tracker = collector_tracker(collector)
    seen: list[tuple[str, str | None]] = []
    dp = support_bot(tracker, seen)
    bot = telegram.bot()
    setup_tracking(dp, tracker, bot=bot, environment="production")
    chats = [7_000 + n for n in range(30)]

    async def chat(chat_id: int) -> None:
        for turn in range(3):
            update = message_update(chat_id * 10 + turn, chat_id, f"question {turn}")
            await dp.feed_raw_update(bot, update)
        await dp.feed_raw_update(bot, button_update(chat_id * 10 + 5, chat_id, "rate:up"))

    await dp.emit_startup(bot=bot, dispatcher=dp)  # starts the tracker in this loop
    try:
        async with anyio.create_task_group() as tg:
            for chat_id in chats:
                tg.start_soon(chat, chat_id)
    finally:
        await dp.emit_shutdown(bot=bot, dispatcher=dp)  # delivers what is buffered
        await bot.session.close()
    stats = tracker.stats()
    assert (stats.queued, stats.dropped, stats.rejected) == (0, 0, 0)
    assert all(expected == current for expected, current in seen) and len(seen) == 90
    assert sum(method == "answercallbackquery" for method, _ in telegram.calls) == 30

    for chat_id in chats:
        detail = await anyio.to_thread.run_sync(collector.conversation, f"telegram-{chat_id}")
        assert detail["conversation"]["source"] == "telegram"
        assert detail["conversation"]["customer_id"] == str(chat_id)
        assert detail["conversation"]["language"] == "de"
        assert detail["conversation"]["environment"] == "production"
        assert transcript(detail["events"]) == [
            ("end_user", "question 0"),
            ("action", "lookup"),
            ("agent", "echo: question 0"),
            ("end_user", "question 1"),
            ("action", "lookup"),
            ("agent", "echo: question 1"),
            ("end_user", "question 2"),
            ("action", "lookup"),
            ("agent", "echo: question 2"),
            ("button", "rate/Good/rate:up"),
            ("agent", "thanks for rating"),
        ]


def transcript(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The events of a conversation in a compact form (conversation events left out)."""
    out = []
    for event in events:
        if event["type"] == "message":
            out.append((event["sender"], event["content"]))
        elif event["type"] == "action":
            out.append(("action", event["action_name"]))
        elif event["type"] == "button":
            out.append(("button", f"{event['button_event']}/{event['label']}/{event['value']}"))
    return out


async def test_track_reply_photos_and_updates_without_chat(telegram: FakeTelegram) -> None:
    """Without ReplyTracker, track_reply records the answer; a photo keeps its file id."""
    transport = InMemoryTransport()
    tracker = ConversationTracker(transport=transport, flush_interval=0.01)
    dp = Dispatcher()
    bot = telegram.bot()

    @dp.message()
    async def answer(message: Message) -> None:
        await track_reply(tracker, await message.answer("got it"))

    setup_tracking(dp, tracker)  # no bot: replies are tracked by hand
    photo = message_update(1, 55, "")
    del photo["message"]["text"]
    photo["message"]["photo"] = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "large", "file_unique_id": "l", "width": 900, "height": 900},
    ]
    query = {"id": "i", "from": user(55), "query": "x", "offset": ""}
    inline = {"update_id": 2, "inline_query": query}
    await dp.emit_startup(bot=bot)
    try:
        await dp.feed_raw_update(bot, photo)
        await dp.feed_raw_update(bot, inline)  # no chat: passes through untracked
    finally:
        await dp.emit_shutdown(bot=bot)
        await bot.session.close()
    events = [(e["type"], e["conversation_id"]) for e in transport.events]
    assert events == [
        ("conversation", "telegram-55"),
        ("message", "telegram-55"),
        ("message", "telegram-55"),
    ]
    incoming, reply = transport.events[1], transport.events[2]
    assert (incoming["sender"], incoming["content"]) == ("end_user", "[photo]")
    assert incoming["attachments"] == [{"type": "photo", "file_id": "large"}]
    assert (reply["sender"], reply["content"]) == ("agent", "got it")
