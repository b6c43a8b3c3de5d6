"""Event-loop plumbing: which loop is running here, loops on threads, waiting across threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio

from ._running import running_backend

T = TypeVar("T")

__all__ = ["LoopThread", "call_soon_threadsafe", "running_backend", "wait_future"]


def call_soon_threadsafe() -> Callable[[Callable[[], object]], None]:
    """A function that runs a callback in *this* thread's running loop, from any thread.

    It never blocks: one write to the loop's wake-up pipe, no waiting.
    """
    if running_backend() == "asyncio":
        loop = asyncio.get_running_loop()

        def schedule_asyncio(callback: Callable[[], object]) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop has nothing left to wake
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
        return await asyncio.wrap_future(future)
    # trio: be woken by the future's callback, not by a worker thread blocked on it
    # (threads are a limited pool; 40 waiting flushes would starve everything else).
    done = anyio.Event()
    wake = call_soon_threadsafe()
    future.add_done_callback(lambda _: wake(done.set))
    await done.wait()
    return future.result()


class LoopThread:
    """An asyncio loop running on a daemon thread of its own.

    ``LoopThread.here()`` gives one for the calling thread instead, which then
    runs it with ``run()`` (until ``stop()``).
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    @classmethod
    def here(cls) -> LoopThread:
        """A new loop for the calling thread, not running yet: call ``run()``."""
        self = cls.__new__(cls)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.current_thread()
        return self

    def run(self) -> None:
        """Run the loop on the calling thread until ``stop()``; then close it."""
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        # In an empty context: the caller's (a trio task's, say) must not leak into
        # the thread, where a library asking "which loop is this?" would get it wrong.
        return contextvars.Context().run(asyncio.run_coroutine_threadsafe, coro, self.loop)

    def stop(self, timeout: float = 5.0) -> None:
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            return
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)
