"""The background half of the SDK in one event loop: buffer -> batcher -> delivery.

A ``Service`` lives in one loop: under ``async with tracker`` the
application's own (asyncio or trio), in thread mode the tracker's portal
thread.  It owns the buffer the tracking calls put into, the batcher and
the senders, and the spool's replayer; ``shutdown`` drains it within a
deadline and spools (or counts as dropped) what could not be delivered.
"""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import sys

import anyio
import anyio.abc

from ._batcher import Batcher
from ._buffer import Buffer
from ._config import TrackerConfig
from ._delivery import Delivery, FlushRequest
from ._loops import AsyncioBridge, call_soon_threadsafe, running_backend
from ._replay import Replayer
from ._spool import Spool
from ._stats import SendReport, Stats
from .transports._base import Batch, Transport

logger = logging.getLogger("agentsight")

__all__ = ["Service"]


class Service:
    """Buffer, batcher, delivery and replayer in the current loop.  Build it inside that loop.

    *own_loop*: the loop is the tracker's own thread (thread mode), not the application's.
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
        self._config = config
        self._transport = transport
        self._stats = stats
        self._spool = spool
        self.buffer = Buffer(config.max_buffer, call_soon_threadsafe())
        self.delivery = Delivery(config, transport, stats, spool, self.buffer)
        self.batcher = Batcher(config, self.buffer, self.delivery, own_loop=own_loop)
        self._replayer = None if spool is None else Replayer(config, transport, stats, spool)
        self._done = anyio.Event()
        self._tg: anyio.abc.TaskGroup | None = None

    @property
    def pending(self) -> int:
        """Events buffered, being batched or waiting for an answer (any thread)."""
        return self.backlog() + self.delivery.unanswered

    def backlog(self) -> int:
        """Events not yet in a shipped batch."""
        return self.buffer.level() + self.batcher.encoding

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Run until ``shutdown`` has drained the buffer.

        Shielded: cancelling the application's task does not cut delivery short;
        ``shutdown`` stops it, within its deadline.
        """
        try:
            with anyio.CancelScope(shield=True):
                async with anyio.create_task_group() as tg:  # runs flushes started here too
                    self._tg = tg
                    async with anyio.create_task_group() as helpers:
                        if self._replayer is not None:
                            recovered = self.delivery
                            helpers.start_soon(self._replayer.run, lambda: recovered.recovered)
                        await self._pipeline(task_status)
                        helpers.cancel_scope.cancel()
        finally:
            self._done.set()

    async def _pipeline(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        workers = self._config.max_concurrent_requests
        send, receive = anyio.create_memory_object_stream[int](workers)
        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(self.delivery.sender, receive.clone())
            receive.close()
            _settle_imports()
            task_status.started()
            await self.batcher.run(send)

    async def flush(self, timeout: float) -> SendReport:
        """Send everything buffered now and wait (up to *timeout*) for the answers."""

        async def put(request: FlushRequest) -> None:
            try:
                await self.buffer.send(request)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                request.done.set()  # shutting down: shutdown delivers everything anyway

        return await self.delivery.flush(put, timeout, self.backlog)

    def start_flush(self, timeout: float) -> concurrent.futures.Future[SendReport]:
        """``flush`` as a task of this service, from its own loop's thread; its future.

        If the service stops first, the future reports what was still pending then.
        """
        future: concurrent.futures.Future[SendReport] = concurrent.futures.Future()

        async def run() -> None:
            try:
                future.set_result(await self.flush(timeout))
            finally:
                if not future.done():  # cancelled by a shutdown past its deadline
                    future.set_result(SendReport(pending=self.pending))

        if self._tg is None or self._done.is_set():
            future.set_result(SendReport(pending=self.pending))
        else:
            self._tg.start_soon(run)
        return future

    async def shutdown(self, timeout: float) -> None:
        """Stop intake, deliver what is buffered within *timeout*; spool or count the rest."""
        with anyio.move_on_after(timeout):
            self.buffer.close()
            await self._done.wait()
        if not self._done.is_set():
            assert self._tg is not None
            self._tg.cancel_scope.cancel()
            await self._done.wait()
        with anyio.CancelScope(shield=True):
            batches = list(self.delivery.unfinished.values())
            self.delivery.unfinished.clear()
            parts, count = self.batcher.salvage()
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


_settled = False
#: Memory blocks of a process that holds little more than our imports.
_SMALL_PROCESS_BLOCKS = 400_000


def _settle_imports() -> None:
    """One full garbage collection, the first time a service starts in a small process.

    Starting imports anyio and aiohttp: tens of thousands of long-lived objects
    that CPython counts towards its next full collection.  In a process that
    has just started (a script, a fresh worker) that collection would then
    come with the first burst of tracking and hold the loop; it is due anyway,
    so it runs now, at start-up, out of the traffic.  In a process with a big
    heap of its own the imports are a small share, the collection is not due,
    and it would cost more: skipped (as when the application turned the
    collector off).
    """
    global _settled
    if not _settled:
        _settled = True
        if gc.isenabled() and sys.getallocatedblocks() < _SMALL_PROCESS_BLOCKS:
            gc.collect()
