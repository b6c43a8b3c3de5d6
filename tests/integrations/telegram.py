"""A loopback stand-in for the Telegram Bot API: answers what a bot sends, records it."""

from __future__ import annotations

import itertools
import json
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

BOT_USER = {"id": 42, "is_bot": True, "first_name": "Helper", "username": "helper_bot"}


class FakeTelegram:
    """Answers ``/bot<token>/<method>`` like Telegram; ``calls`` is (method, fields) in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.url = ""
        self._ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        fields = {name: value for name, value in (await request.post()).items()}
        self.calls.append((method, fields))
        result: Any = True
        if method in ("sendmessage", "editmessagetext"):
            result = {
                "message_id": next(self._ids),
                "date": 1_700_000_000,
                "chat": {"id": int(str(fields["chat_id"])), "type": "private"},
                "from": BOT_USER,
                "text": fields["text"],
            }
            if "reply_markup" in fields:
                result["reply_markup"] = json.loads(str(fields["reply_markup"]))
        elif method == "getme":
            result = BOT_USER
        return web.json_response({"ok": True, "result": result})

    async def start(self) -> FakeTelegram:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._method)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def bot(self) -> Bot:
        """A bot whose session talks to this server."""
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.url))
        return Bot("42:TEST-TOKEN", session=session)


def user(user_id: int, language: str = "de") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Ana", "language_code": language}


def message_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    """A private-chat text message from user *chat_id*."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat_id, "type": "private"},
            "from": user(chat_id),
            "text": text,
        },
    }


RATE_KEYBOARD = {
    "inline_keyboard": [
        [
            {"text": "Good", "callback_data": "rate:up"},
            {"text": "Bad", "callback_data": "rate:down"},
        ]
    ]
}


def button_update(update_id: int, chat_id: int, data: str) -> dict[str, Any]:
    """User *chat_id* presses the inline button carrying *data* under a bot message."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"q{update_id}",
            "from": user(chat_id),
            "chat_instance": f"ci{chat_id}",
            "data": data,
            "message": {
                "message_id": update_id - 1,
                "date": 1_700_000_000,
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": "How did I do?",
                "reply_markup": RATE_KEYBOARD,
            },
        },
    }
