"""``Client``: the blocking twin of ``AsyncClient``, for scripts, notebooks and sync apps.

Every method checks its arguments in the calling thread, then runs the
async client's request on AgentSight's shared loop thread and blocks for the
answer.  Called on a thread that is running an event loop it would block
that loop: async code uses ``AsyncClient``, or the dual-use ``agentsight_api``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from . import _calls
from ._client import AsyncClient
from ._models import Conversation, ConversationDetail, ConversationPage, Feedback, Sentiment
from ._runner import run_blocking, track_for_exit

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from ._calls import Call, ConversationFilters

__all__ = ["Client"]

T = TypeVar("T")


class Client:
    """Reads and manages the conversations of one collector project, blocking.

    The same methods, arguments, results and errors as ``AsyncClient``
    (see there), called plainly.  Use it under ``with``, or call ``close()``;
    a client still open at exit is closed then.

    Args:
        api_key: the project's key (``AGENTSIGHT_API_KEY``).
        endpoint: the collector's URL (``AGENTSIGHT_API_ENDPOINT``).
        timeout: seconds for one request.

    Raises:
        ConfigurationError: a bad endpoint or timeout.

    .. versionadded:: 0.2
    """

    def __init__(
        self, api_key: str | None = None, endpoint: str | None = None, *, timeout: float = 10.0
    ) -> None:
        self._async = AsyncClient(api_key, endpoint, timeout=timeout)
        track_for_exit(self._async)

    @property
    def endpoint(self) -> str:
        """The collector's base URL."""
        return self._async.endpoint

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        run_blocking(self._async.aclose())

    def _run(self, call: Call[T]) -> T:
        self._async.check_key(call)
        return run_blocking(self._async.send(call))

    def list_conversations(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        **filters: Unpack[ConversationFilters],
    ) -> ConversationPage:
        """One page of conversations, newest first (see ``AsyncClient.list_conversations``).

        Returns:
            A ``ConversationPage``.

        Raises:
            ValidationError: a bad argument, before any request.
            AuthenticationError, APIError: a refused key, any other refusal, no connection.
        """
        return self._run(_calls.listing(filters, limit, cursor))

    def iter_conversations(
        self, *, page_size: int | None = None, **filters: Unpack[ConversationFilters]
    ) -> Iterator[Conversation]:
        """Every matching conversation, page after page (see ``AsyncClient.iter_conversations``).

        The arguments are checked at the call, before the first page is fetched.
        """
        first = _calls.listing(filters, page_size, None)
        self._async.check_key(first)
        return self._pages(first, filters, page_size)

    def _pages(
        self, call: Call[ConversationPage], filters: Mapping[str, Any], page_size: int | None
    ) -> Iterator[Conversation]:
        while True:
            page = self._run(call)
            yield from page.conversations
            if page.next_cursor is None:
                return
            call = _calls.listing(filters, page_size, page.next_cursor)

    def get_conversation(self, conversation_id: str) -> ConversationDetail:
        """One conversation and its events in order (see ``AsyncClient.get_conversation``).

        Returns:
            A ``ConversationDetail``.

        Raises:
            ValidationError: a bad argument, before any request.
            NotFoundError: no such conversation in this project.
            AuthenticationError, APIError: a refused key, any other refusal, no connection.
        """
        return self._run(_calls.get(conversation_id))

    def rename_conversation(self, conversation_id: str, name: str) -> Conversation:
        """Set the conversation's name.

        Returns:
            The updated ``Conversation``.

        Raises:
            ValidationError: a bad argument, before any request.
            NotFoundError: no such conversation in this project.
            AuthenticationError, APIError: a refused key, any other refusal, no connection.
        """
        return self._run(_calls.patch(conversation_id, name=name))

    def mark_conversation(self, conversation_id: str, is_marked: bool = True) -> Conversation:
        """Mark or unmark the conversation.

        Returns:
            The updated ``Conversation``.

        Raises:
            ValidationError: a bad argument, before any request.
            NotFoundError: no such conversation in this project.
            AuthenticationError, APIError: a refused key, any other refusal, no connection.
        """
        return self._run(_calls.patch(conversation_id, is_marked=is_marked))

    def update_conversation(
        self,
        conversation_id: str,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        is_marked: bool | None = None,
    ) -> Conversation:
        """Rename, merge metadata and mark at once (see ``AsyncClient.update_conversation``).

        Returns:
            The updated ``Conversation``.

        Raises:
            ValidationError: a bad argument, before any request.
            NotFoundError: no such conversation in this project.
            AuthenticationError, APIError: a refused key, any other refusal, no connection.
        """
        call = _calls.patch(conversation_id, name=name, metadata=metadata, is_marked=is_marked)
        return self._run(call)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete the conversation with its events and feedback.

        Raises:
            ValidationError: a bad argument, before any request.
            NotFoundError: no such conversation in this project.
            AuthenticationError, APIError: a refused key, any other refusal, no connection.
        """
        self._run(_calls.delete(conversation_id))

    def submit_feedback(
        self,
        conversation_id: str,
        sentiment: Sentiment | Literal["positive", "neutral", "negative"],
        comment: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Feedback:
        """Add feedback to the conversation (see ``AsyncClient.submit_feedback``).

        Returns:
            The stored ``Feedback``.

        Raises:
            ValidationError: a bad argument, before any request.
            NotFoundError: no such conversation in this project.
            AuthenticationError, APIError: a refused key, any other refusal, no connection.
        """
        return self._run(_calls.feedback(conversation_id, sentiment, comment, metadata))

    def health(self) -> dict[str, Any]:
        """The collector's health answer; needs no key."""
        return self._run(_calls.health())
