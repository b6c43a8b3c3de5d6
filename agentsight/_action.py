"""``tracker.action(name)``: time a tool call and track it, as a block or a decorator.

    with tracker.action("order_lookup") as run:        # or `async with`
        run.response = lookup(order_id)

    @tracker.action("kb_search", tools_used=["kb"])    # def or async def
    async def search(query: str) -> list[str]: ...

Each block, or each call of a decorated function, becomes one ``action``
event with ``started_at``, ``ended_at`` and ``duration_ms`` (from a monotonic
clock), the response (what the block set on ``run.response``, or what the
function returned) and, when it raised, the exception as ``error_msg`` (the
exception is re-raised).  The event goes to the conversation current where the
block ends or the function returns, unless ``conversation_id=`` names one.
One ``Action`` may be used by many tasks and threads at once: each block's
timing is kept in the context of the task or thread that entered it.

Each run is a step of the turn (see ``_steps``): the actions, tool calls and
model calls tracked inside the block carry its ``step_id`` as their
``parent_id``, and blocks nest.

.. versionadded:: 0.2
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import _validate as check
from ._buffer import DONE
from ._steps import enter_step, leave_step, new_step_id
from ._wire import SHORT

if TYPE_CHECKING:
    from ._tracker import ConversationTracker

__all__ = ["Action", "ActionRun", "action"]

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("agentsight")


class ActionRun:
    """One timed run: set ``response``, ``error`` or ``metadata`` entries before it ends."""

    __slots__ = (
        "_start",
        "_token",
        "error",
        "metadata",
        "parent_id",
        "response",
        "started_at",
        "step_id",
        "tools_used",
    )

    def __init__(self, tools_used: Any, metadata: Mapping[str, Any] | None) -> None:
        self.step_id = new_step_id()
        self.parent_id, self._token = enter_step(self.step_id)
        self.response: Any = None
        self.error: str | BaseException | None = None
        self.tools_used = tools_used
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.started_at = dt.datetime.now(dt.timezone.utc)
        self._start = time.perf_counter()

    def _fields(self, exc: BaseException | None) -> dict[str, Any]:
        duration_ms = (time.perf_counter() - self._start) * 1000.0
        return {
            "started_at": self.started_at,
            "ended_at": dt.datetime.now(dt.timezone.utc),
            "duration_ms": round(duration_ms, 3),
            "tools_used": self.tools_used,
            "response": self.response,
            "error_msg": exc if exc is not None else self.error,
            "metadata": self.metadata or None,
            "step_id": self.step_id,
            "parent_id": self.parent_id,
        }


# The runs open in this task or thread, innermost last, with the Action that opened them.
_open_runs: ContextVar[tuple[tuple[Action, ActionRun], ...]] = ContextVar(
    "agentsight_action_runs", default=()
)


class Action:
    """A named action to time: a sync or async context manager, and a decorator.

    Args:
        tracker: the tracker the events go to.
        name: the action's name, e.g. ``"db_lookup"``.
        tools_used: which tools it uses (any JSON-able value).
        metadata: anything else, added to every event.
        conversation_id: the conversation, instead of the current one.
        record_response: as a decorator, store the function's return value
            as the response (non-str values as their JSON form).

    Raises:
        ValidationError: an empty ``name`` or a ``metadata`` that is not a mapping.
    """

    def __init__(
        self,
        tracker: ConversationTracker,
        name: str,
        *,
        tools_used: Any = None,
        metadata: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        record_response: bool = True,
    ) -> None:
        self.name = check.required_text("action_name", name, SHORT)
        self._tracker = tracker
        self._tools_used = tools_used
        self._metadata = None if metadata is None else check.metadata("metadata", metadata)
        self._conversation_id = conversation_id
        self._record_response = record_response

    def __repr__(self) -> str:
        return f"<Action {self.name!r}>"

    # -- blocks -----------------------------------------------------------------------------------

    def __enter__(self) -> ActionRun:
        run = ActionRun(self._tools_used, self._metadata)
        _open_runs.set((*_open_runs.get(), (self, run)))
        return run

    def _close(self, exc: BaseException | None) -> Awaitable[None]:
        runs = _open_runs.get()
        found = [i for i, (owner, _) in enumerate(runs) if owner is self]
        if not found:  # left in another task or thread than it was entered in
            logger.warning("action %r ended where it was not started: not tracked", self.name)
            return DONE
        index = found[-1]
        run = runs[index][1]
        _open_runs.set(runs[:index] + runs[index + 1 :])
        leave_step(run._token)
        return self._tracker.track_action(
            self.name, **run._fields(exc), conversation_id=self._conversation_id
        )

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._close(exc)  # a plain call: never blocks (dropped and counted when full)

    async def __aenter__(self) -> ActionRun:
        return self.__enter__()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        tracked = self._close(exc)
        if exc is None or isinstance(exc, Exception):
            await tracked  # waits for room when the buffer is full; not when cancelled

    # -- decorator --------------------------------------------------------------------------------

    def __call__(self, func: F) -> F:
        """Time every call of *func* (a ``def`` or an ``async def``)."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                async with self as run:
                    result = await func(*args, **kwargs)
                    if self._record_response:
                        run.response = result
                    return result

            return cast(F, timed_async)

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self as run:
                result = func(*args, **kwargs)
                if self._record_response:
                    run.response = result
                return result

        return cast(F, timed)


def action(tracker: ConversationTracker, name: str, **options: Any) -> Action:
    """``tracker.action(name, ...)``: see ``Action`` for the options.

    Returns:
        An ``Action``: ``with``/``async with`` it, or decorate a function with it.
    """
    return Action(tracker, name, **options)
