"""Where the sync and dual-use clients run their requests: one shared asyncio loop thread.

aiohttp needs an asyncio loop, and a ``ClientSession`` belongs to the loop it
was made in.  The blocking ``Client`` and the dual-use ``AgentSightAPI`` (and
``AsyncClient`` under trio) therefore send every request from one daemon
thread running its own loop, started at first use, restarted in a forked
child, and closed at exit after the sessions on it are closed.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import threading
import weakref
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, Generic, TypeVar

from .._loops import PortalThread, wait_future

__all__ = ["Pending", "completed", "run_blocking", "submit", "track_for_exit"]

T = TypeVar("T")

_lock = threading.Lock()
_thread: PortalThread | None = None
_pid = 0
_at_exit: weakref.WeakSet[Any] = weakref.WeakSet()  # objects with ``async def aclose()``


def _loop_thread() -> PortalThread:
    global _thread, _pid
    with _lock:
        if _thread is None or _pid != os.getpid():  # a forked child has no such thread
            _thread, _pid = PortalThread("agentsight-api"), os.getpid()
        return _thread


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Run *coro* on the shared loop thread; its future (once the loop has started it)."""
    return _loop_thread().run(coro)


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run *coro* on the shared loop thread and block for its result (or exception).

    Raises:
        RuntimeError: called from the loop thread itself, which would deadlock.
    """
    thread = _loop_thread()
    if threading.get_ident() == thread.ident:
        coro.close()
        raise RuntimeError("a blocking agentsight.api call cannot run on its own loop thread")
    return thread.run(coro).result()


def track_for_exit(client: Any) -> None:
    """Close *client* (``await client.aclose()``) on the loop thread at interpreter exit."""
    _at_exit.add(client)


async def _close_all() -> None:
    for client in list(_at_exit):
        await client.aclose()


@atexit.register
def _shutdown() -> None:
    thread = _thread
    if thread is None or _pid != os.getpid():
        return
    # At exit a failed close has nobody left to tell.
    with contextlib.suppress(Exception):
        thread.run(_close_all()).result(2.0)
        thread.stop(cancel=True)


class Pending(Generic[T]):
    """The result of a dual-use call: ``await`` it, or call ``result()``.

    Called plainly from sync code, the call has already waited (and raised
    any error), so ``result()`` returns at once.  Called plainly on a thread
    running an event loop, the call never blocks that loop: the request runs
    on AgentSight's own thread, and the handle is awaited later (or ignored).
    Awaiting it works under asyncio and trio.

    .. versionadded:: 0.2
    """

    __slots__ = ("_future",)

    def __init__(self, future: concurrent.futures.Future[T]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, T]:
        waiting: Awaitable[T] = wait_future(self._future)
        return waiting.__await__()

    def result(self, timeout: float | None = None) -> T:
        """The call's result, waiting up to *timeout* seconds (``None``: no limit).

        Raises:
            APIError: the collector refused the call, or could not be reached.
            concurrent.futures.TimeoutError: not finished within *timeout*.
        """
        return self._future.result(timeout)

    def done(self) -> bool:
        """Whether the call has finished."""
        return self._future.done()

    def __getitem__(self, key: str) -> Any:
        """``result()[key]``: the official SDK 0.0.44 returned dicts (waits).

        .. versionadded:: 0.3
        """
        return self.result()[key]  # type: ignore[index]

    def __repr__(self) -> str:
        return f"<Pending {'done' if self._future.done() else 'running'}>"


def completed(value: T) -> Pending[T]:
    """A ``Pending`` that already holds *value*."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    future.set_result(value)
    return Pending(future)
