"""aiogram 3 (Telegram bots): one conversation per chat, messages, button presses, replies.

    from aiogram import Bot, Dispatcher
    from agentsight import ConversationTracker
    from agentsight.integrations.aiogram import setup_tracking

    tracker = ConversationTracker()                  # AGENTSIGHT_API_KEY, ..._ENDPOINT
    bot, dp = Bot(token), Dispatcher()
    setup_tracking(dp, tracker, bot=bot)             # before dp.start_polling(bot)

``setup_tracking`` registers an outer middleware on ``dp.update`` and the
tracker's start and stop on the dispatcher's startup and shutdown (the
tracker then runs in the bot's event loop and delivers what is buffered when
polling or the webhook app stops).  For every update with a chat, the
middleware opens the chat's conversation (``customer_id`` = the user's id,
``language`` = the user's Telegram language, ``source="telegram"``) around
the handlers, so every tracking call in a handler lands in it; it tracks the
incoming message (text or caption, ``[photo]``-style placeholders with
attachments otherwise) and callback-query button presses (label read from
the inline keyboard).  Handlers may take the id as an argument named
``agentsight_conversation_id``.  With ``bot=``, a request middleware of the bot's
session tracks what the bot sends (``sendMessage``, captions, edited texts)
once Telegram accepted it, in the conversation of the target chat; without
it, call ``track_reply`` on the messages your handlers send.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

try:
    from aiogram import BaseMiddleware, Bot, Dispatcher
    from aiogram.client.session.middlewares.base import (
        BaseRequestMiddleware,
        NextRequestMiddlewareType,
    )
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType
    from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, Update, User
except ImportError as error:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "agentsight.integrations.aiogram needs aiogram 3: pip install 'agentsight[aiogram]'"
    ) from error

from .._tracker import ConversationTracker, conversation_tracker

__all__ = [
    "AgentSightMiddleware",
    "ReplyTracker",
    "chat_conversation_id",
    "setup_tracking",
    "track_reply",
]

ConversationIdOf = Callable[["int | str"], str]
"""Maps a chat id to a conversation id; the same function serves messages and replies."""

_ATTACHMENTS = ("photo", "document", "voice", "audio", "video", "video_note", "sticker")
_SENT_TEXT = ("text", "caption")


def chat_conversation_id(chat_id: int | str) -> str:
    """The default conversation id of a chat: ``telegram-<chat id>``."""
    return f"telegram-{chat_id}"


def _content(message: Message) -> tuple[str, list[dict[str, Any]] | None]:
    """The text of an incoming message, and its attachments (type and file id)."""
    attachments = []
    for kind in _ATTACHMENTS:
        item = getattr(message, kind, None)
        if item:
            file = item[-1] if isinstance(item, list) else item  # photos: largest size last
            attachments.append({"type": kind, "file_id": file.file_id})
    text = message.text or message.caption
    if text is None:
        kind = message.content_type  # a str enum: its value, not ContentType.PHOTO
        text = f"[{getattr(kind, 'value', kind)}]"
    return text, attachments or None


def _button_label(query: CallbackQuery, data: str) -> str:
    """The text of the inline button that carries *data*, else *data* itself."""
    markup = getattr(query.message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return data


class AgentSightMiddleware(BaseMiddleware):
    """Outer middleware for ``dp.update``: the chat's conversation around the handlers.

    Args:
        tracker: default the module-level ``conversation_tracker``.
        conversation_id: chat id -> conversation id (default ``telegram-<chat id>``).
        track_messages: track incoming messages (``end_user``).
        track_buttons: track callback queries as button presses; the button
            event is the part of the callback data before the first ``:``
            (aiogram's ``CallbackData`` prefix), the value is the whole data.
        **attributes: more conversation attributes (``environment``, ``device``...).
    """

    def __init__(
        self,
        tracker: ConversationTracker | None = None,
        *,
        conversation_id: ConversationIdOf = chat_conversation_id,
        track_messages: bool = True,
        track_buttons: bool = True,
        **attributes: Any,
    ) -> None:
        self.tracker = conversation_tracker if tracker is None else tracker
        self.conversation_id = conversation_id
        self.track_messages = track_messages
        self.track_buttons = track_buttons
        self.attributes = {"source": "telegram", **attributes}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat: Chat | None = data.get("event_chat")
        if chat is None:
            return await handler(event, data)
        user: User | None = data.get("event_from_user")
        attributes = dict(self.attributes)
        if user is not None:
            attributes.setdefault("customer_id", str(user.id))
            attributes.setdefault("language", user.language_code)
        cid = self.conversation_id(chat.id)
        async with self.tracker.conversation(cid, **attributes):
            if isinstance(event, Update):
                await self._track_incoming(event)
            data["agentsight_conversation_id"] = cid
            return await handler(event, data)

    async def _track_incoming(self, update: Update) -> None:
        if self.track_messages and update.message is not None:
            text, attachments = _content(update.message)
            metadata = {"message_id": update.message.message_id}
            await self.tracker.track_human_message(text, attachments, metadata)
        query = update.callback_query
        if self.track_buttons and query is not None and (query.data or query.game_short_name):
            value = query.data or f"game:{query.game_short_name}"
            await self.tracker.track_button(
                value.split(":", 1)[0] if ":" in value else "callback_query",
                _button_label(query, value),
                value,
            )


class ReplyTracker(BaseRequestMiddleware):
    """Bot session middleware: tracks what the bot sends once Telegram accepted it.

    ``bot.session.middleware(ReplyTracker(tracker))``.  ``sendMessage``,
    ``editMessageText`` and captions of media are tracked as ``agent``
    messages in the target chat's conversation; other calls pass untouched.

    Args:
        tracker: default the module-level ``conversation_tracker``.
        conversation_id: chat id -> conversation id, as for the middleware.
    """

    def __init__(
        self,
        tracker: ConversationTracker | None = None,
        *,
        conversation_id: ConversationIdOf = chat_conversation_id,
    ) -> None:
        self.tracker = conversation_tracker if tracker is None else tracker
        self.conversation_id = conversation_id

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        response = await make_request(bot, method)  # raises when Telegram refuses
        chat_id = getattr(method, "chat_id", None)
        text = next((t for f in _SENT_TEXT if isinstance(t := getattr(method, f, None), str)), None)
        if chat_id is not None and text is not None:
            metadata = {"method": method.__api_method__}
            await self.tracker.track_agent_message(
                text, metadata=metadata, conversation_id=self.conversation_id(chat_id)
            )
        return response


async def track_reply(
    tracker: ConversationTracker,
    sent: Message,
    *,
    conversation_id: ConversationIdOf = chat_conversation_id,
) -> None:
    """Track a message the bot sent (what ``message.answer(...)`` returned).

    For bots that do not use ``ReplyTracker``; use one or the other, not both.

    Args:
        tracker: the tracker.
        sent: the message Telegram returned.
        conversation_id: chat id -> conversation id, as for the middleware.
    """
    text, attachments = _content(sent)
    await tracker.track_agent_message(
        text, attachments, conversation_id=conversation_id(sent.chat.id)
    )


def setup_tracking(
    dispatcher: Dispatcher,
    tracker: ConversationTracker | None = None,
    *,
    bot: Bot | None = None,
    conversation_id: ConversationIdOf = chat_conversation_id,
    **options: Any,
) -> AgentSightMiddleware:
    """Track a dispatcher's chats: middleware, reply tracking, start and stop with it.

    Args:
        dispatcher: the aiogram ``Dispatcher`` (or root router).
        tracker: default the module-level ``conversation_tracker``.
        bot: track what this bot sends (its session gets a ``ReplyTracker``).
        conversation_id: chat id -> conversation id.
        **options: passed to ``AgentSightMiddleware`` (``track_buttons``,
            conversation attributes such as ``environment``).

    Returns:
        The middleware registered on ``dispatcher.update``.
    """
    chosen = conversation_tracker if tracker is None else tracker
    middleware = AgentSightMiddleware(chosen, conversation_id=conversation_id, **options)
    dispatcher.update.outer_middleware(middleware)
    if bot is not None:
        bot.session.middleware(ReplyTracker(chosen, conversation_id=conversation_id))

    async def start_tracker() -> None:
        await chosen.astart()

    async def stop_tracker() -> None:
        await chosen.aclose()

    dispatcher.startup.register(start_tracker)
    dispatcher.shutdown.register(stop_tracker)
    return middleware
