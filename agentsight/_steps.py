"""The steps of a turn: which action block is open, per task and per thread.

An ``action`` block is a step; so is each tool call (``track_action``) and
each model call (``track_token_usage``).  A step tracked while a block is
open gets that block as its parent, so the collector can show a turn's steps
as a tree.  The open step lives in a ``ContextVar``: every asyncio or trio
task, and every thread, sees its own, and a task started inside a block (or
a function run by ``anyio.to_thread.run_sync``, which copies the context)
starts with that block as its parent.
"""

from __future__ import annotations

import contextlib
import random
from contextvars import ContextVar, Token

__all__ = ["current_step", "enter_step", "leave_step", "new_step_id"]

_current: ContextVar[str | None] = ContextVar("agentsight_step", default=None)

#: The id of the innermost open block in this task or thread, or ``None``.
current_step = _current.get


_bits = random.getrandbits  # reseeded in a forked child by the random module itself


def new_step_id() -> str:
    """A random step id: 16 hex digits, as OpenTelemetry's span ids.

    Ids only need to differ within a conversation, not to be unguessable:
    the module's generator takes half the time of ``os.urandom``'s system call.
    """
    return f"{_bits(64):016x}"


def enter_step(step_id: str) -> tuple[str | None, Token[str | None]]:
    """Open *step_id* here: returns its parent and what ``leave_step`` needs."""
    parent = _current.get()
    return parent, _current.set(step_id)


def leave_step(token: Token[str | None]) -> None:
    """Close the step opened with *token* (in the context it was opened in)."""
    with contextlib.suppress(ValueError):  # closed in another context than opened in
        _current.reset(token)
