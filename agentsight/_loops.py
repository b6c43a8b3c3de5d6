"""Event-loop plumbing: which loop runs here, waking a loop from another thread, loop threads.

A light module at import (the tracker asks ``running_backend()`` on plain
calls): asyncio, anyio and trio are imported only where a function needs
them, and a caller that never imported an event loop library cannot be
running one.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import concurrent.futures

    from anyio.from_thread import BlockingPortal

    from .transports._base import Batch, SendResult, Transport

T = TypeVar("T")

__all__ = [
    "AsyncioBridge",
    "PortalThread",
    "call_soon_threadsafe",
    "running_backend",
    "wait_future",
]


def running_backend() -> str | None:
    """``"asyncio"`` or ``"trio"`` when this thread is running that loop, else ``None``.

    Never raises: another thread may be importing asyncio right now (thread
    mode's does, as it starts), and a module half imported cannot be running
    a loop on this thread.
    """
    get_running_loop = getattr(sys.modules.get("asyncio"), "get_running_loop", None)
    if get_running_loop is not None:
        try:
            get_running_loop()
            return "asyncio"
        except RuntimeError:
            pass
    lowlevel = getattr(sys.modules.get("trio"), "lowlevel", None)
    current_trio_token = getattr(lowlevel, "current_trio_token", None)
    if current_trio_token is not None:
        try:
            current_trio_token()
            return "trio"
        except RuntimeError:
            pass
    return None


def call_soon_threadsafe() -> Callable[[Callable[[], object]], None]:
    """A function that runs a callback in *this* thread's running loop, from any thread.

    It never blocks (one write to the loop's wake-up pipe) and never raises:
    a loop that has finished has nothing left to wake.  anyio's
    ``from_thread.run_sync`` would wait for the callback to run, which a
    tracking call must not.
    """
    if running_backend() == "asyncio":
        import asyncio

        loop = asyncio.get_running_loop()

        def schedule_asyncio(callback: Callable[[], object]) -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

        return schedule_asyncio
    import trio

    token = trio.lowlevel.current_trio_token()

    def schedule_trio(callback: Callable[[], object]) -> None:
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(callback)

    return schedule_trio


async def wait_future(future: concurrent.futures.Future[T]) -> T:
    """Await a ``concurrent.futures.Future`` from asyncio or trio without blocking the loop."""
    if future.done():
        return future.result()
    if running_backend() == "asyncio":
        import asyncio

        return await asyncio.wrap_future(future)
    import anyio

    # trio: be woken by the future's callback, not by a worker thread blocked on it
    # (threads are a limited pool; 40 waiting flushes would starve everything else).
    done = anyio.Event()
    wake = call_soon_threadsafe()
    future.add_done_callback(lambda _: wake(done.set))
    await done.wait()
    return future.result()


class PortalThread:
    """An asyncio loop on a daemon thread: anyio's ``start_blocking_portal``, kept open.

    Started (blocking until its loop runs) and stopped from any thread but its own.
    """

    def __init__(self, name: str) -> None:
        from anyio.from_thread import start_blocking_portal

        self._cm = start_blocking_portal("asyncio", name=name)
        self.portal: BlockingPortal = self._cm.__enter__()
        self.ident: int = self.portal.call(threading.get_ident)

    def run(self, awaitable: Awaitable[T]) -> concurrent.futures.Future[T]:
        """Run *awaitable* (a coroutine object, say) in the loop; its future.

        Returns once the loop has started it.  Raises ``RuntimeError`` when the
        portal is stopped or when called from its own thread.
        """
        return self.portal.start_task_soon(_await, awaitable)

    def stop(self, *, cancel: bool = False) -> None:
        """Stop the loop once its tasks have finished (*cancel*: cancel them) and join its
        thread."""
        if threading.get_ident() == self.ident:
            raise RuntimeError("a portal cannot stop itself from its own thread")
        with contextlib.suppress(RuntimeError):  # stopped already
            if cancel:
                self.portal.call(self.portal.stop, True)
            self._cm.__exit__(None, None, None)


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


class AsyncioBridge:
    """Runs an asyncio-only transport (aiohttp) in a portal thread, for trio programs."""

    needs_asyncio = False

    def __init__(self, inner: Transport) -> None:
        import anyio

        self._inner = inner
        self._thread: PortalThread | None = None
        self._starting = anyio.Lock()  # the senders' first batches arrive together

    async def _portal(self) -> PortalThread:
        async with self._starting:
            if self._thread is None:
                import anyio

                self._thread = await anyio.to_thread.run_sync(PortalThread, "agentsight-transport")
        return self._thread

    async def send(self, batch: Batch) -> SendResult:
        import anyio

        # start_task_soon waits only until the portal's loop has taken the call.
        future = (await self._portal()).run(self._inner.send(batch))
        try:
            return await wait_future(future)
        except anyio.get_cancelled_exc_class():
            future.cancel()
            raise

    async def aclose(self) -> None:
        if self._thread is None:
            return
        import anyio

        thread, self._thread = self._thread, None
        try:
            await wait_future(thread.run(self._inner.aclose()))
        finally:
            await anyio.to_thread.run_sync(thread.stop)
