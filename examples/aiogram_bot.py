"""A Telegram support bot on aiogram 3, tracked per chat.

    BOT_TOKEN=123:abc AGENTSIGHT_API_KEY=ags_... python examples/aiogram_bot.py   # real bot
    AGENTSIGHT_API_KEY=ags_... python examples/aiogram_bot.py --demo             # no Telegram

``setup_tracking`` makes every chat a conversation (``source="telegram"``,
the user's id and language), tracks incoming messages and presses of the
inline buttons, tracks what the bot sends, and starts and stops the tracker
with the dispatcher.  ``--demo`` needs no token and no network: the bot talks
to a tiny stand-in for the Bot API on a loopback port and three chats' updates
are fed to the dispatcher, as a webhook would.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
from typing import Any

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiohttp import web

from agentsight import ConversationTracker
from agentsight.integrations.aiogram import setup_tracking

tracker = ConversationTracker()  # AGENTSIGHT_API_KEY, AGENTSIGHT_API_ENDPOINT
dp = Dispatcher()
RATE = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="👍 Helpful", callback_data="rate:up"),
            InlineKeyboardButton(text="👎 Not really", callback_data="rate:down"),
        ]
    ]
)


@dp.message(F.text)
async def answer(message: Message) -> None:
    await tracker.track_action("faq_lookup", duration_ms=3.2, response="found")
    await message.answer(f"Here is what I found about “{message.text}”.", reply_markup=RATE)


@dp.callback_query(F.data.startswith("rate:"))
async def rated(query: CallbackQuery, bot: Bot) -> None:
    await query.answer("Thanks!")
    if query.message is not None:
        await bot.send_message(query.message.chat.id, "Thanks for the rating!")


# -- the demo: a stand-in for the Bot API and a few chats' updates ------------------------------

_ids = itertools.count(100)
BOT = {"id": 1, "is_bot": True, "first_name": "Support"}


async def fake_bot_api(request: web.Request) -> web.Response:
    fields = dict(await request.post())
    result: Any = True
    if request.match_info["method"].lower() == "sendmessage":
        chat = {"id": int(str(fields["chat_id"])), "type": "private"}
        result = {"message_id": next(_ids), "date": 0, "chat": chat, "from": BOT}
        result["text"] = fields["text"]
    return web.json_response({"ok": True, "result": result})


def updates(chat_id: int, language: str, text: str) -> list[dict[str, Any]]:
    """A user writes, then presses a rating button under the bot's answer."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Sam", "language_code": language}
    chat = {"id": chat_id, "type": "private"}
    message = {"message_id": 1, "date": 0, "chat": chat, "from": user, "text": text}
    answered = {"message_id": 2, "date": 0, "chat": chat, "from": BOT, "text": "Here is..."}
    answered["reply_markup"] = RATE.model_dump(exclude_none=True)
    press = {"id": f"q{chat_id}", "from": user, "chat_instance": "c", "data": "rate:up"}
    return [
        {"update_id": chat_id * 10, "message": message},
        {"update_id": chat_id * 10 + 1, "callback_query": {**press, "message": answered}},
    ]


async def demo() -> None:
    runner = web.AppRunner(web.Application(), handle_signals=False)
    runner.app.router.add_post("/bot{token}/{method}", fake_bot_api)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    api = TelegramAPIServer.from_base(f"http://127.0.0.1:{runner.addresses[0][1]}")
    bot = Bot("1:DEMO", session=AiohttpSession(api=api))
    setup_tracking(dp, tracker, bot=bot)
    chats = [(1001, "en", "How do I reset my password?"), (1002, "es", "¿Dónde está mi pedido?")]
    chats.append((1003, "de", "Kann ich mein Abo kündigen?"))
    await dp.emit_startup(bot=bot, dispatcher=dp)
    try:
        for chat_id, language, text in chats:
            for update in updates(chat_id, language, text):
                await dp.feed_raw_update(bot, update)
            print(f"chat {chat_id} ({language}): conversation telegram-{chat_id}")
    finally:
        await dp.emit_shutdown(bot=bot, dispatcher=dp)  # the tracker delivers what it has
        await bot.session.close()
        await runner.cleanup()
    stats = tracker.stats()
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


async def main() -> None:
    bot = Bot(os.environ["BOT_TOKEN"])
    setup_tracking(dp, tracker, bot=bot)
    await dp.start_polling(bot)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="run against a local stand-in")
    asyncio.run(demo() if parser.parse_args().demo else main())
