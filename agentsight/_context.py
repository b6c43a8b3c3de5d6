"""The current conversation: per task and per thread, in a ``ContextVar``."""

from __future__ import annotations

import itertools
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._tracker import ConversationTracker

__all__ = ["ConversationBlock", "ConversationState", "Registry"]

from ._wire import TOKEN_FIELDS


class ConversationState:
    """What the tracker keeps of one conversation: its id, its ``seq`` counter, token totals."""

    __slots__ = ("conversation_id", "seq", "tokens")

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.seq = itertools.count()
        self.tokens = [0, 0, 0, 0]

    def __repr__(self) -> str:
        return f"ConversationState({self.conversation_id!r})"

    def token_usage(self) -> dict[str, int]:
        return dict(zip(TOKEN_FIELDS, self.tokens, strict=True))


class Registry:
    """Conversation states by id, so ``conversation_id=`` calls continue the same ``seq``.

    Bounded: past ``limit`` conversations the oldest are forgotten.  A forgotten
    conversation that comes back restarts its ``seq`` at 0; order is still
    right, since the collector orders by (timestamp, seq) and seq only breaks
    ties between events of the same microsecond.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._states: dict[str, ConversationState] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> ConversationState:
        state = self._states.get(conversation_id)
        if state is not None:
            return state
        with self._lock:
            state = self._states.get(conversation_id)
            if state is None:
                state = ConversationState(conversation_id)
                self._states[conversation_id] = state
                if len(self._states) > self._limit:
                    del self._states[next(iter(self._states))]
        return state

    def __len__(self) -> int:
        return len(self._states)

    def after_fork(self) -> None:
        """In a forked child: a lock the parent held at the fork would never be released."""
        self._lock = threading.Lock()


def new_context_var() -> ContextVar[ConversationState | None]:
    return ContextVar("agentsight_conversation", default=None)


class ConversationBlock:
    """``with tracker.conversation(id):`` / ``async with``: the conversation for a block.

    Entering records the conversation (as ``get_or_create_conversation`` does)
    and makes it current; leaving restores the one that was current before.
    """

    def __init__(
        self, tracker: ConversationTracker, conversation_id: str, attributes: dict[str, Any]
    ) -> None:
        self._tracker = tracker
        self._conversation_id = conversation_id
        self._attributes = attributes
        self._previous: ConversationState | None = None

    def __enter__(self) -> str:
        self._previous = self._tracker._context.get()
        self._tracker.get_or_create_conversation(self._conversation_id, **self._attributes)
        return self._conversation_id

    def __exit__(self, *exc_info: object) -> None:
        self._tracker._context.set(self._previous)

    async def __aenter__(self) -> str:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)
