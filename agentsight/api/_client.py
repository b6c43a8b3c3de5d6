"""``AsyncClient``: the typed async client of the collector's query and management API."""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiohttp
import yarl

from .. import __version__
from .._config import DEFAULT_ENDPOINT
from .._loops import running_backend, wait_future
from ..exceptions import APIError, AuthenticationError, ConfigurationError, NotFoundError
from . import _calls
from ._models import Conversation, ConversationDetail, ConversationPage, Feedback, Sentiment
from ._runner import submit

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from ._calls import Call, ConversationFilters

__all__ = ["AsyncClient", "resolve_settings"]

T = TypeVar("T")


def resolve_settings(
    api_key: str | None, endpoint: str | None, timeout: float
) -> tuple[str | None, str, float]:
    """Keyword arguments, then ``AGENTSIGHT_API_KEY`` / ``AGENTSIGHT_API_ENDPOINT``, then defaults.

    Raises:
        ConfigurationError: an endpoint that is not an http(s) URL, a timeout that is not > 0.
    """
    key = api_key if api_key is not None else os.environ.get("AGENTSIGHT_API_KEY") or None
    url = endpoint if endpoint is not None else os.environ.get("AGENTSIGHT_API_ENDPOINT")
    url = url or DEFAULT_ENDPOINT
    if not url.startswith(("http://", "https://")):
        source = "endpoint" if endpoint is not None else "AGENTSIGHT_API_ENDPOINT"
        raise ConfigurationError(f"{source}: expected an http:// or https:// URL, got {url!r}")
    if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise ConfigurationError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    return key, url.rstrip("/"), float(timeout)


def _error(status: int, text: str, where: str) -> APIError:
    try:
        message = str(json.loads(text)["error"])
    except (ValueError, TypeError, KeyError):
        message = text[:200] or f"HTTP {status}"
    kind = {401: AuthenticationError, 404: NotFoundError}.get(status, APIError)
    return kind(f"{where}: {status}: {message}", status=status)


class AsyncClient:
    """Reads and manages the conversations of one collector project.

    One ``aiohttp.ClientSession``, made at the first request and reused, in
    the running asyncio loop (under trio, requests run on AgentSight's own
    asyncio thread).  Use it under ``async with``, or ``await aclose()``.

    Args:
        api_key: the project's key (``AGENTSIGHT_API_KEY``); only ``health()`` works without.
        endpoint: the collector's URL (``AGENTSIGHT_API_ENDPOINT``, default
            ``http://127.0.0.1:8787``).
        timeout: seconds for one request, connecting included.

    Raises:
        ConfigurationError: a bad endpoint or timeout.

    .. versionadded:: 0.2
    """

    def __init__(
        self, api_key: str | None = None, endpoint: str | None = None, *, timeout: float = 10.0
    ) -> None:
        self.api_key, self.endpoint, self.timeout = resolve_settings(api_key, endpoint, timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session (a later request opens a new one)."""
        session, loop, self._session = self._session, self._loop, None
        if session is None or session.closed or loop is None or loop.is_closed():
            return
        if running_backend() == "asyncio" and asyncio.get_running_loop() is loop:
            await session.close()
        else:
            await wait_future(asyncio.run_coroutine_threadsafe(session.close(), loop))

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and not self._session.closed:
            if loop is not self._loop:
                raise RuntimeError("an AsyncClient serves one event loop; make one per loop")
            return self._session
        headers = {"User-Agent": f"agentsight-python/{__version__}", "Accept": "application/json"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key}"
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        self._session = aiohttp.ClientSession(headers=headers, timeout=timeout)
        self._loop = loop
        return self._session

    def check_key(self, call: Call[Any]) -> None:
        """Raise ``ConfigurationError`` when *call* needs a key and there is none."""
        if call.auth and self.api_key is None:
            raise ConfigurationError("api_key: not given; pass api_key= or set AGENTSIGHT_API_KEY")

    async def _execute(self, call: Call[T]) -> T:
        self.check_key(call)
        if running_backend() == "asyncio":
            return await self.send(call)
        return await wait_future(submit(self.send(call)))  # aiohttp needs asyncio

    async def send(self, call: Call[T]) -> T:
        """Send one checked *call* in the running asyncio loop; its parsed answer."""
        where = f"{call.method} {call.path}"
        url = yarl.URL(self.endpoint + call.path, encoded=True)
        try:
            async with self._get_session().request(
                call.method, url, params=call.params or None, json=call.body
            ) as response:
                status, text = response.status, await response.text(errors="replace")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            detail = f"{type(exc).__name__}: {exc}".rstrip(": ")
            raise APIError(f"{where}: {self.endpoint} unreachable: {detail}") from exc
        if status >= 400:
            raise _error(status, text, where)
        try:
            return call.parse(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise APIError(f"{where}: unexpected answer: {text[:200]!r}", status=status) from exc

    async def list_conversations(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[ConversationFilters],
    ) -> ConversationPage:
        """One page of the project's conversations, newest first.

        Args:
            limit: page size, 1 to 500 (the collector's default is 50).
            cursor: the ``next_cursor`` of the previous page.
            **filters: ``customer_id``, ``source``, ``device``, ``language``,
                ``environment``, ``country``, ``is_used``, ``is_marked``,
                ``sentiment``, ``since`` and ``until`` (datetime or ISO str;
                naive means UTC), ``q`` (text in a message). ``None`` is ignored.

        Returns:
            A ``ConversationPage``; its ``next_cursor`` is ``None`` on the last page.

        Raises:
            ValidationError: an unknown filter or a bad value, before any request.
            AuthenticationError: the key was refused (401).
            APIError: any other refusal, or the collector could not be reached.
        """
        return await self._execute(_calls.listing(filters, limit, cursor))

    async def iter_conversations(
        self, *, page_size: int | None = None, **filters: Unpack[ConversationFilters]
    ) -> AsyncIterator[Conversation]:
        """Every matching conversation, newest first, fetching page after page.

        Args:
            page_size: conversations per request, 1 to 500.
            **filters: as for ``list_conversations``.

        Raises:
            ValidationError, AuthenticationError, APIError: as ``list_conversations``.
        """
        call = _calls.listing(filters, page_size, None)
        while True:
            page = await self._execute(call)
            for conversation in page.conversations:
                yield conversation
            if page.next_cursor is None:
                return
            call = _calls.listing(filters, page_size, page.next_cursor)

    async def get_conversation(self, conversation_id: str) -> ConversationDetail:
        """One conversation, with its feedback and all its events in order.

        Raises:
            ValidationError: an empty ``conversation_id``.
            NotFoundError: no such conversation in this project (404).
            AuthenticationError, APIError: as ``list_conversations``.
        """
        return await self._execute(_calls.get(conversation_id))

    async def rename_conversation(self, conversation_id: str, name: str) -> Conversation:
        """Set the conversation's name; returns the updated conversation.

        Raises:
            ValidationError: an empty ``conversation_id`` or a blank ``name``.
            NotFoundError, AuthenticationError, APIError: as ``get_conversation``.
        """
        return await self._execute(_calls.patch(conversation_id, name=name))

    async def mark_conversation(self, conversation_id: str, is_marked: bool = True) -> Conversation:
        """Mark (or with ``is_marked=False`` unmark) the conversation; returns it.

        Raises:
            ValidationError: an empty ``conversation_id``, a non-bool ``is_marked``.
            NotFoundError, AuthenticationError, APIError: as ``get_conversation``.
        """
        return await self._execute(_calls.patch(conversation_id, is_marked=is_marked))

    async def update_conversation(
        self,
        conversation_id: str,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        is_marked: bool | None = None,
    ) -> Conversation:
        """Change several things at once; ``metadata`` is merged into the stored one.

        Args:
            name: the new name.
            metadata: keys to set (JSON merge patch: a ``None`` value removes a key).
            is_marked: mark or unmark.

        Returns:
            The updated ``Conversation``.

        Raises:
            ValidationError: an empty ``conversation_id``, nothing to change, a bad value.
            NotFoundError, AuthenticationError, APIError: as ``get_conversation``.
        """
        call = _calls.patch(conversation_id, name=name, metadata=metadata, is_marked=is_marked)
        return await self._execute(call)

    async def delete_conversation(self, conversation_id: str) -> None:
        """Delete the conversation with its events and feedback.

        Raises:
            ValidationError: an empty ``conversation_id``.
            NotFoundError, AuthenticationError, APIError: as ``get_conversation``.
        """
        await self._execute(_calls.delete(conversation_id))

    async def submit_feedback(
        self,
        conversation_id: str,
        sentiment: Sentiment | Literal["positive", "neutral", "negative"],
        comment: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Feedback:
        """Add a piece of feedback to the conversation.

        Args:
            sentiment: ``"positive"``, ``"neutral"`` or ``"negative"`` (or a ``Sentiment``).
            comment: free text.
            metadata: anything else about it.

        Returns:
            The stored ``Feedback``.

        Raises:
            ValidationError: an empty ``conversation_id``, an unknown ``sentiment``.
            NotFoundError, AuthenticationError, APIError: as ``get_conversation``.
        """
        return await self._execute(_calls.feedback(conversation_id, sentiment, comment, metadata))

    async def health(self) -> dict[str, Any]:
        """The collector's health answer, ``{"status": "ok"}``; needs no key.

        Raises:
            APIError: the collector could not be reached or is not healthy.
        """
        return await self._execute(_calls.health())
