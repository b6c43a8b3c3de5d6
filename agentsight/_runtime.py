"""A running pipeline and the ways events reach it.

``Runtime`` lives in one event loop: under ``async with tracker`` the
application's own (asyncio or trio), otherwise the tracker's daemon thread
(``ThreadRuntime``).  Tracking calls, from any thread, append to the
pipeline's channel through the ``Intake``, which bounds it.
"""

from __future__ import annotations

import collections
import concurrent.futures
import gc
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio
import anyio.abc

from ._config import TrackerConfig
from ._encode import encode_chunk, new_ids
from ._intake import ABOVE_SOFT_LIMIT, REFUSED, TAKEN, soft_limit
from ._loops import LoopThread, call_soon_threadsafe, running_backend, wait_future
from ._pipeline import Channel, FlushRequest, Item, Pipeline
from ._replay import Replayer
from ._reports import SendReport
from ._spool import Spool
from ._stats import Stats
from .transports._base import Batch, SendResult, Transport

logger = logging.getLogger("agentsight")
_get_ident = threading.get_ident  # put() is on every tracking call's path

T = TypeVar("T")

__all__ = ["AsyncioBridge", "Intake", "Runtime", "ThreadRuntime"]


class Intake:
    """The entrance of the channel, safe to call from any thread.

    One bound for everything buffered: ``max_buffer`` events on the channel.
    Past the soft limit (``SOFT_LIMIT``, or half of a smaller ``max_buffer``)
    ``put`` still takes the event but says so, and the tracker lets the
    caller slow down while the collector is answering: an awaited call, or a
    plain call from a thread without an event loop, waits (a bounded time)
    until the background has caught up to half the soft limit.  A burst
    faster than delivery then holds about the soft limit in memory, not
    ``max_buffer``.  While delivery fails nobody waits: the buffer fills up
    to ``max_buffer`` (then the spool, or drops).

    Calls on the loop's own thread append and wake a waiting batcher
    directly; calls from other threads append (atomic, no lock) and wake it
    through the loop, and only when it waits and no wake-up is pending, so a
    burst costs at most one system call.
    """

    def __init__(
        self, channel: Channel, max_buffer: int, schedule: Callable[[Callable[[], object]], None]
    ) -> None:
        self._channel = channel
        self._items = channel.items
        self._owner = threading.get_ident()
        self._max = max_buffer
        self.soft_limit = soft_limit(max_buffer)
        self._schedule = schedule
        self._wake_pending = False

    def put(self, item: Item) -> int:
        """Hand *item* over without blocking: ``REFUSED`` (full or closed), ``TAKEN``, or
        ``ABOVE_SOFT_LIMIT`` (taken; the caller should let the background catch up)."""
        items = self._items
        level = len(items)
        if level >= self._max or self._channel.closed:
            return REFUSED
        items.append(item)
        channel = self._channel
        # Mostly neither: the batcher is busy (not waiting), or already being woken (a
        # wake-up from another thread reaches it only once its loop has the GIL again,
        # up to the interpreter's 5 ms switch interval later), and nobody closed the channel.
        wake = channel.waiting and not self._wake_pending
        if (wake or channel.closed) and not self._appended(item):
            return REFUSED
        return TAKEN if level < self.soft_limit else ABOVE_SOFT_LIMIT

    def _appended(self, item: Item) -> bool:
        """After an append that found the batcher waiting (no wake-up on its way) or the
        channel closed: wake the batcher, or take *item* back (False) if a close came first."""
        channel = self._channel
        if _get_ident() == self._owner:
            channel.wake()  # the loop's own thread: nothing closed it in between
            return True
        if channel.closed:  # closed meanwhile: take it back unless the batcher has it
            try:
                self._items.remove(item)
                return False
            except ValueError:
                return True
        if not self._wake_pending:
            self._wake_pending = True
            self._schedule(self._wake)
        return True

    def _wake(self) -> None:
        self._wake_pending = False  # first: an append from now on schedules its own
        self._channel.wake()

    @property
    def closed(self) -> bool:
        return self._channel.closed

    async def send(self, item: Item) -> None:
        """Put *item* on the channel, waiting for room (on the loop's own thread).

        Raises:
            anyio.ClosedResourceError: the intake is closed.
        """
        channel = self._channel
        while len(self._items) >= self._max and not channel.closed:
            await self._below(self._max - 1)
        if channel.closed:
            raise anyio.ClosedResourceError
        self._items.append(item)
        channel.wake()

    async def caught_up(self, most: float) -> None:
        """Wait until the background has taken all but half the soft limit, while delivery
        works, *most* seconds at most (on the loop's thread)."""
        channel = self._channel
        low = self.soft_limit // 2
        with anyio.move_on_after(most):
            while len(self._items) > low and not channel.closed and not channel.failing:
                await self._below(low)

    async def _below(self, low: int) -> None:
        """Wait until the batcher has taken the channel down to *low* or delivery fails."""
        channel = self._channel
        if channel.room is None:
            channel.room = anyio.Event()
            channel.low = low
        else:  # one event for all: woken at the highest level asked, each checks its own
            channel.low = max(channel.low, low)
        await channel.room.wait()

    def level(self) -> int:
        """Buffered now (any thread: a snapshot)."""
        return len(self._items)

    def delivering(self) -> bool:
        return not self._channel.failing

    @property
    def owner(self) -> int:
        return self._owner

    def close(self) -> None:
        """Stop intake: the batcher takes the rest and ends."""
        self._channel.closed = True
        self._release_waiters()
        self._channel.wake()

    def _release_waiters(self) -> None:
        channel = self._channel
        room, channel.room = channel.room, None
        if room is not None:
            room.set()

    def leftovers(self) -> list[Item]:
        """What is still on the channel (shutdown ran out of time, or came too late)."""
        self.close()
        late = []
        while self._items:  # popleft, not list()+clear(): an append in between is not lost
            late.append(self._items.popleft())
        return late


_settled = False


def _settle_imports() -> None:
    """One full garbage collection, the first time a runtime starts in a small process.

    Starting imports anyio and aiohttp: tens of thousands of long-lived objects
    that CPython counts towards its next full collection.  In a process that
    has just started (our benchmarks, a script, a freshly started worker)
    that collection then comes with the first burst of tracking and holds the
    loop for 15-25 ms (measured: the loop row of ``benchmarks/peers``).  It is
    due anyway there; running it now, once, at start-up (entering ``async
    with``, or on thread mode's own thread) moves it out of the traffic.  In a
    process with a big heap of its own the import is a small share of it, the
    collection is not due, and it would cost more: skipped (as when the
    application turned the collector off).
    """
    global _settled
    if not _settled:
        _settled = True
        if gc.isenabled() and sys.getallocatedblocks() < _SMALL_PROCESS_BLOCKS:
            gc.collect()


#: Memory blocks of a process that has little more than our imports (~130,000 here).
_SMALL_PROCESS_BLOCKS = 400_000


class Runtime:
    """A pipeline running in the current loop, with its intake.  Build it inside that loop.

    *own_loop*: the loop is the tracker's own (thread mode), not the application's.
    """

    def __init__(
        self,
        config: TrackerConfig,
        transport: Transport,
        stats: Stats,
        spool: Spool | None = None,
        *,
        own_loop: bool = False,
    ) -> None:
        if transport.needs_asyncio and running_backend() != "asyncio":
            transport = AsyncioBridge(transport)
        channel = Channel()
        self.intake = Intake(channel, config.max_buffer, call_soon_threadsafe())
        self.pipeline = Pipeline(config, transport, stats, spool, channel, own_loop=own_loop)
        self._spool = spool
        self._replayer = None if spool is None else Replayer(config, transport, stats, spool)
        self._transport = transport
        self._stats = stats
        self._config = config
        self._done = anyio.Event()
        self._tg: anyio.abc.TaskGroup | None = None
        self._schedule = call_soon_threadsafe()
        self._owner = threading.get_ident()
        # Work submitted from other threads (flushes); started by a task of ours, since
        # a task group can only spawn from inside a task.
        self._calls: collections.deque[
            tuple[Callable[[], Coroutine[Any, Any, None]], Callable[[], None]]
        ] = collections.deque()
        self._calls_ready = anyio.Event()
        self._stopped = False  # serve() has ended: submitted calls get their default

    @property
    def pending(self) -> int:
        return self.intake.level() + self.pipeline.in_flight

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Run the pipeline until ``shutdown`` has drained the channel.

        Shielded: cancelling the application's task does not cut delivery short;
        ``shutdown`` stops the pipeline, within its deadline.
        """
        try:
            with anyio.CancelScope(shield=True):
                await self._serve(task_status)
        finally:
            self._stopped = True
            while self._calls:
                self._calls.popleft()[1]()  # never started: give each its default
            self._done.set()

    async def _serve(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        async with anyio.create_task_group() as tg:  # runs submitted calls (flushes)
            self._tg = tg
            async with anyio.create_task_group() as helpers:
                helpers.start_soon(self._start_calls)
                if self._replayer is not None:
                    helpers.start_soon(self._replayer.run, lambda: self.pipeline.recovered)
                async with anyio.create_task_group() as pipeline:
                    await pipeline.start(self.pipeline.run)
                    _settle_imports()
                    task_status.started()
                helpers.cancel_scope.cancel()

    async def flush(self, timeout: float) -> SendReport:
        async def put(request: FlushRequest) -> None:
            try:
                await self.intake.send(request)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                request.done.set()  # shutting down: shutdown delivers everything anyway

        return await self.pipeline.flush(put, timeout, lambda: self.intake.level())

    def submit(self, make: Callable[[], Awaitable[T]], default: T) -> concurrent.futures.Future[T]:
        """Run ``make()`` in this runtime's loop from any thread; its outcome lands in the future.

        If the runtime stops before the call finishes, the future gets *default*.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def give_default() -> None:
            if not future.done():
                future.set_result(default)

        async def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = await make()
            except anyio.get_cancelled_exc_class():
                give_default()
                raise
            except Exception as exc:
                future.set_exception(exc)
                return
            future.set_result(result)

        self._calls.append((run, give_default))
        if self._stopped:  # nothing will start it any more
            while self._calls:
                self._calls.popleft()[1]()
        elif threading.get_ident() == self._owner:
            self._calls_ready.set()
        else:
            self._schedule(self._calls_ready.set)
        return future

    async def _start_calls(self) -> None:
        while True:
            await self._calls_ready.wait()
            self._calls_ready = anyio.Event()
            while self._calls:
                assert self._tg is not None
                self._tg.start_soon(self._calls.popleft()[0])

    async def shutdown(self, timeout: float) -> None:
        """Stop intake, deliver what is buffered within *timeout*; spool or count the rest."""
        with anyio.move_on_after(timeout):
            self.intake.close()
            await self._done.wait()
        if not self._done.is_set():
            assert self._tg is not None
            self._tg.cancel_scope.cancel()
            await self._done.wait()
        with anyio.CancelScope(shield=True):
            batches, parts, count = self.pipeline.salvage()
            late = self.intake.leftovers()
            leftovers = [item for item in late if not isinstance(item, FlushRequest)]
            if leftovers:
                parts.append(encode_chunk(leftovers, new_ids(len(leftovers))))
                count += len(leftovers)
            await self._keep(batches, parts, count + sum(b.count for b in batches), timeout)
            await self._transport.aclose()
            if self._spool is not None:
                await anyio.to_thread.run_sync(self._spool.rotate)

    async def _keep(
        self, batches: list[Batch], parts: list[bytes], count: int, timeout: float
    ) -> None:
        """Spool what shutdown could not deliver; without a spool, count it as dropped."""
        if not count:
            return
        if self._spool is None:
            self._stats.drop("shutdown_timeout", count)
            logger.error(
                "%d events could not be delivered within shutdown_timeout=%.1fs and were "
                "dropped (set spool_dir to keep them)",
                count,
                timeout,
            )
            return
        spool = self._spool

        in_parts = count - sum(batch.count for batch in batches)

        def write() -> int:
            written = 0
            try:
                for batch in batches:
                    written += spool.append_batch(batch)
                if parts:  # comma-joined objects: together, one JSON array
                    spool.append(parts)
                    written += in_parts
            except OSError as exc:
                logger.error("could not spool at shutdown: %s", exc)
            return written

        written = await anyio.to_thread.run_sync(write)
        self._stats.add_spooled(written)
        if written < count:
            self._stats.drop("spool_failed", count - written)
        logger.warning("spooled %d undelivered events at shutdown; replayed at next start", written)


class AsyncioBridge:
    """Runs an asyncio-only transport (aiohttp) on a loop thread of its own, for trio programs."""

    needs_asyncio = False

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self._thread: LoopThread | None = None

    def _loop_thread(self) -> LoopThread:
        if self._thread is None:
            self._thread = LoopThread("agentsight-transport")
        return self._thread

    async def send(self, batch: Batch) -> SendResult:
        future = self._loop_thread().submit(self._inner.send(batch))
        try:
            return await wait_future(future)
        except anyio.get_cancelled_exc_class():
            future.cancel()
            raise

    async def aclose(self) -> None:
        if self._thread is None:
            return
        thread, self._thread = self._thread, None
        await wait_future(thread.submit(self._inner.aclose()))
        await anyio.to_thread.run_sync(thread.stop)


class ThreadRuntime:
    """A ``Runtime`` on a new loop of the calling thread, for code without ``async with``.

    Built on the tracker's own thread, which then calls ``run()``: nothing
    here starts a thread, so a tracker can start even while the interpreter
    exits (Python 3.12 refuses new threads then).
    """

    def __init__(
        self, config: TrackerConfig, transport: Transport, stats: Stats, spool: Spool | None
    ) -> None:
        self._config = config
        self._spool = spool
        self._thread = LoopThread.here()
        self._stop: anyio.Event | None = None
        self.runtime: Runtime | None = None
        self._ready: Callable[[Runtime], None] = lambda runtime: None
        self._main = self._thread.submit(self._run(transport, stats))

    def run(self, ready: Callable[[Runtime], None]) -> None:
        """Run until stopped; ``ready(runtime)`` is called on this thread once it serves.

        Returns at once (without calling *ready*) if the runtime cannot start.
        """
        self._ready = ready
        self._thread.run()

    async def _run(self, transport: Transport, stats: Stats) -> None:
        try:
            self._stop = anyio.Event()
            runtime = Runtime(self._config, transport, stats, self._spool, own_loop=True)
            async with anyio.create_task_group() as tg:
                await tg.start(runtime.serve)
                self.runtime = runtime
                self._ready(runtime)
                await self._stop.wait()
                await runtime.shutdown(self._config.shutdown_timeout)
        except BaseException:
            if self.runtime is None:  # never served: end run() now
                self._thread.loop.stop()
            raise

    def request_stop(self) -> concurrent.futures.Future[None]:
        def stop() -> None:
            assert self._stop is not None
            self._stop.set()

        self._thread.loop.call_soon_threadsafe(stop)
        return self._main

    def close(self) -> None:
        """Deliver what is buffered (within ``shutdown_timeout``) and stop the thread."""
        try:
            self.request_stop().result(self._config.shutdown_timeout + 5)
        except Exception as exc:  # whatever went wrong, closing must not raise
            logger.error("the agentsight thread did not stop cleanly: %r", exc)
        finally:
            self._thread.stop()

    async def aclose(self) -> None:
        try:
            await wait_future(self.request_stop())
        finally:
            await anyio.to_thread.run_sync(self._thread.stop)

    @property
    def alive(self) -> bool:
        return self._thread.thread.is_alive()


def pending_of(runtime: Runtime | None) -> int:
    return 0 if runtime is None else runtime.pending
