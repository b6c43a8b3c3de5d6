"""The original SDK's management calls, usable awaited or plainly, like the tracker.

Every method returns a ``Pending[T]``:

- called plainly from sync code (no running loop in this thread), it has
  already waited for the collector and raised any error, so
  ``.result()`` returns at once;
- awaited (asyncio or trio), it gives the ``T`` without blocking the loop;
- called plainly on a thread running an event loop, it never blocks that
  loop: the request runs on AgentSight's own thread and the handle can be
  awaited later, asked for ``.result(timeout)``, or ignored.

Arguments are checked at the call in every case.  Code that wants plain
typed results without a handle uses ``Client`` (sync) or ``AsyncClient``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .._loops import running_backend
from ..exceptions import NotFoundError, ValidationError
from . import _calls
from ._client import AsyncClient, resolve_settings
from ._models import Conversation, ConversationDetail, ConversationPage, Feedback, Sentiment
from ._runner import Pending, completed, submit, track_for_exit

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._calls import Call, OriginalFilters

__all__ = ["AgentSightAPI", "ConversationManager", "agentsight_api", "conversation_manager"]

logger = logging.getLogger("agentsight")

T = TypeVar("T")
# The original SDK's names of filters this collector has.
_ORIGINAL_NAMES = {
    "page_size": "limit",
    "started_at_after": "since",
    "started_at_before": "until",
    "message_contains": "q",
    "feedback_sentiment": "sentiment",
}


# The official SDK 0.0.44's filters without an equivalent here (page: ours has cursors).
_IGNORED = (
    "action_name",
    "customer_ip_address",
    "has_messages",
    "name",
    "include_deleted",
    "metadata",
    "has_feedback",
    "feedback_source",
    "page",
)


class AgentSightAPI:
    """Fetches and manages conversations, awaited or plainly (the original SDK's API).

    Settings are read at the first call, not when the object is made, so the
    module-level ``agentsight_api`` and ``conversation_manager`` can be
    imported before ``AGENTSIGHT_API_KEY`` is set.

    Args:
        api_key: the project's key (``AGENTSIGHT_API_KEY``).
        endpoint: the collector's URL (``AGENTSIGHT_API_ENDPOINT``).
        timeout: seconds for one request.

    .. versionadded:: 0.2
    """

    def __init__(
        self, api_key: str | None = None, endpoint: str | None = None, *, timeout: float = 10.0
    ) -> None:
        self._settings = (api_key, endpoint, timeout)
        self._client: AsyncClient | None = None
        self._lock = threading.Lock()

    def configure(
        self,
        api_key: str | None = None,
        endpoint: str | None = None,
        *,
        timeout: float = 10.0,
        log_level: Any = None,
    ) -> None:
        """Use other settings from the next call on (the current connections are closed).

        ``log_level`` (the official SDK 0.0.44's) is accepted and ignored: the
        ``agentsight`` logger's level is the application's to set.

        Raises:
            ConfigurationError: a bad endpoint or timeout.

        .. versionchanged:: 0.3
           ``log_level``.
        """
        del log_level
        resolve_settings(api_key, endpoint, timeout)  # raises before anything changes
        with self._lock:
            old, self._client = self._client, None
            self._settings = (api_key, endpoint, timeout)
        if old is not None:
            submit(old.aclose())

    def _get_client(self) -> AsyncClient:
        with self._lock:
            if self._client is None:
                api_key, endpoint, timeout = self._settings
                self._client = AsyncClient(api_key, endpoint, timeout=timeout)
                track_for_exit(self._client)
            return self._client

    def _start(self, coro: Coroutine[Any, Any, T]) -> Pending[T]:
        future = submit(coro)
        if running_backend() is None:
            future.result()  # sync code: wait, and raise any error here
        return Pending(future)

    def _call(self, call: Call[T]) -> Pending[T]:
        client = self._get_client()
        client.check_key(call)
        return self._start(client.send(call))

    def close(self) -> Pending[None]:
        """Close the connections (a later call opens new ones)."""
        with self._lock:
            client, self._client = self._client, None
        if client is None:
            return completed(None)
        return self._start(client.aclose())

    def fetch_conversations(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **original: Unpack[OriginalFilters],
    ) -> Pending[ConversationPage]:
        """One page of conversations, newest first.

        Args:
            limit: page size, 1 to 500 (the original ``page_size`` also works).
            cursor: the ``next_cursor`` of the previous page.
            **filters: the collector's filters (see ``AsyncClient.list_conversations``);
                the original names ``started_at_after``, ``started_at_before``,
                ``message_contains`` and ``feedback_sentiment`` work too;
                ``conversation_id`` finds that one conversation; the official
                SDK 0.0.44's other filters are ignored, with a warning.

        Returns:
            A ``Pending[ConversationPage]``.

        Raises:
            ValidationError: an unknown filter or a bad value, at the call.
            AuthenticationError, APIError: at the call in sync code, else when awaited.
        """
        filters: dict[str, Any] = dict(original)
        ignored = [k for k in _IGNORED if filters.pop(k, None) not in (None, 1)]
        if ignored:
            logger.warning(
                "fetch_conversations: %s ignored: this collector has no such filter",
                ", ".join(ignored),
            )
        wanted = filters.pop("conversation_id", None)
        if wanted is not None:
            client = self._get_client()
            call = _calls.get(wanted)
            client.check_key(call)
            return self._start(_page_of(client, call))
        for old, name in _ORIGINAL_NAMES.items():
            if old in filters:
                if name in filters or (name == "limit" and limit is not None):
                    raise ValidationError(f"{old}: given together with {name}")
                value = filters.pop(old)
                if name == "limit":
                    limit = value
                else:
                    filters[name] = value
        return self._call(_calls.listing(filters, limit, cursor))

    def fetch_conversation(self, conversation_id: str | int) -> Pending[ConversationDetail]:
        """One conversation with its feedback and its events in order.

        An ``int`` is the conversation's number in the official API (what the
        official SDK 0.0.44 got back): it is looked up first.  The result also
        answers ``detail["messages"]`` as 0.0.44's dict did.

        Raises:
            ValidationError: an empty ``conversation_id``, at the call.
            NotFoundError: no such conversation in this project.
            AuthenticationError, APIError: at the call in sync code, else when awaited.

        .. versionchanged:: 0.3
           An ``int`` is a conversation's number.
        """
        if type(conversation_id) is int:
            client = self._get_client()
            lookup = _calls.by_number(conversation_id)
            client.check_key(lookup)
            return self._start(_then_get(client, lookup))
        return self._call(_calls.get(conversation_id))

    def fetch_conversation_attachments(self, conversation_id: str | int) -> Pending[Any]:
        """The files of a conversation, as the official API lists them (``results``).

        Each has its ``filename``, ``mime_type``, ``size`` and ``url``, the
        download route of the collector.

        Raises:
            ValidationError, NotFoundError, AuthenticationError, APIError: as
                ``fetch_conversation``.

        .. versionadded:: 0.3
        """
        client = self._get_client()
        if type(conversation_id) is int:
            call = _calls.attachments(conversation_id)
            client.check_key(call)
            return self._start(client.send(call))
        lookup = _calls.lookup(conversation_id)
        client.check_key(lookup)
        return self._start(_attachments_of(client, lookup))

    def rename_conversation(self, conversation_id: str, name: str) -> Pending[Conversation]:
        """Set the conversation's name; the handle gives the updated conversation.

        Raises:
            ValidationError: an empty ``conversation_id`` or a blank ``name``.
            NotFoundError, AuthenticationError, APIError: as ``fetch_conversation``.
        """
        return self._call(_calls.patch(conversation_id, name=name))

    def mark_conversation(
        self, conversation_id: str, is_marked: bool = True
    ) -> Pending[Conversation]:
        """Mark (or unmark) the conversation; the handle gives it updated.

        Raises:
            ValidationError: an empty ``conversation_id``, a non-bool ``is_marked``.
            NotFoundError, AuthenticationError, APIError: as ``fetch_conversation``.
        """
        return self._call(_calls.patch(conversation_id, is_marked=is_marked))

    def update_conversation(
        self,
        conversation_id: str,
        name: str | None = None,
        is_marked: bool | None = None,
        customer_id: str | None = None,
        device: str | None = None,
        language: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Pending[Conversation]:
        """Rename, mark and merge metadata at once (the original's argument order).

        ``customer_id``, ``device`` and ``language`` (the official SDK 0.0.44's)
        are accepted and not changed: a conversation keeps the values it was
        first tracked with.  A warning says so.

        Raises:
            ValidationError: an empty ``conversation_id``, nothing to change, a bad value.
            NotFoundError, AuthenticationError, APIError: as ``fetch_conversation``.

        .. versionchanged:: 0.3
           ``customer_id``, ``device``, ``language``; ``metadata`` may be positional.
        """
        kept = [
            n
            for n, v in (("customer_id", customer_id), ("device", device), ("language", language))
            if v is not None
        ]
        if kept:
            logger.warning(
                "update_conversation: %s not changed: a conversation keeps the values it"
                " was first tracked with",
                ", ".join(kept),
            )
        call = _calls.patch(conversation_id, name=name, metadata=metadata, is_marked=is_marked)
        return self._call(call)

    def delete_conversation(self, conversation_id: str) -> Pending[None]:
        """Delete the conversation with its events and feedback.

        Raises:
            ValidationError: an empty ``conversation_id``.
            NotFoundError, AuthenticationError, APIError: as ``fetch_conversation``.
        """
        return self._call(_calls.delete(conversation_id))

    def submit_feedback(
        self,
        conversation_id: str,
        sentiment: Sentiment | Literal["positive", "neutral", "negative"],
        comment: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Pending[Feedback]:
        """Add feedback to the conversation; the handle gives the stored ``Feedback``.

        Raises:
            ValidationError: an empty ``conversation_id``, an unknown ``sentiment``.
            NotFoundError, AuthenticationError, APIError: as ``fetch_conversation``.
        """
        return self._call(_calls.feedback(conversation_id, sentiment, comment, metadata))


async def _page_of(client: AsyncClient, call: Call[ConversationDetail]) -> ConversationPage:
    """A page holding the conversation *call* fetches, or none."""
    try:
        detail = await client.send(call)
    except NotFoundError:
        return ConversationPage(())
    return ConversationPage((detail.conversation,))


async def _then_get(client: AsyncClient, lookup: Call[str]) -> ConversationDetail:
    """The detail of the conversation *lookup* finds."""
    conversation_id = await client.send(lookup)
    return await client.send(_calls.get(conversation_id))


async def _attachments_of(client: AsyncClient, lookup: Call[int]) -> Any:
    """The files of the conversation *lookup* numbers."""
    number = await client.send(lookup)
    return await client.send(_calls.attachments(number))


class ConversationManager(AgentSightAPI):
    """The original SDK's name for the management calls; the same as ``AgentSightAPI``."""


agentsight_api = AgentSightAPI()
"""The module-level client of the original SDK; configured from the environment at first use."""

conversation_manager = ConversationManager()
"""The original SDK's module-level manager; configured from the environment at first use."""
