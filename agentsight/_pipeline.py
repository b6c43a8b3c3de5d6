"""The background half of the SDK: channel -> batches -> transport, with retries.

One ``Pipeline`` runs inside one event loop (the application's, under
``async with``, or the tracker's own thread).  Its batcher task receives
events from the bounded anyio channel, encodes each as it arrives (so the
cost is spread out and never holds the loop for long), and closes a batch at
``max_batch_events``, ``max_batch_bytes`` or ``flush_interval``.  Sender tasks
deliver the batches, retrying with exponential backoff and full jitter, and
honouring ``Retry-After``.  Nothing here raises into the application.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import anyio.lowlevel
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._config import TrackerConfig
from ._encode import encode_events, gzip_body, new_ids, wrap_batch
from ._events import Event
from ._stats import SendReport, Stats
from .transports._base import Batch, Outcome, Rejection, SendResult, Transport

logger = logging.getLogger("agentsight")

__all__ = ["FlushRequest", "Item", "Pipeline"]

_GZIP_IN_THREAD = 256 * 1024  # zlib releases the GIL: big bodies are compressed off the loop
_POLL = 0.005  # seconds the batcher sleeps while a batch is open and nothing came
_CHUNK = 128  # events encoded in one go (~0.3 ms), between two yields to the loop


@attrs.define(eq=False)
class FlushRequest:
    """Put on the channel by ``flush()``: close the open batch; report once all are answered."""

    done: anyio.Event = attrs.field(factory=anyio.Event)
    upto: int = -1
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    failed: int = 0
    rejected: list[Rejection] = attrs.field(factory=list)

    def add(self, batch: Batch, result: SendResult) -> None:
        if result.outcome is Outcome.DELIVERED:
            self.sent += batch.count
            self.accepted += result.accepted
            self.duplicates += result.duplicates
            self.rejected.extend(result.rejected)
        else:
            self.failed += batch.count

    def report(self, pending: int) -> SendReport:
        return SendReport(
            sent=self.sent,
            accepted=self.accepted,
            duplicates=self.duplicates,
            rejected=tuple(self.rejected),
            failed=self.failed,
            pending=pending,
        )


Item = Event | FlushRequest


class Pipeline:
    """Batches events from a channel and delivers them through a transport."""

    def __init__(self, config: TrackerConfig, transport: Transport, stats: Stats) -> None:
        self._config = config
        self._transport = transport
        self._stats = stats
        self._ids: list[str] = []
        self._next_batch = 0
        self._unfinished: dict[int, int] = {}  # batch number -> events in it
        self._waiters: list[FlushRequest] = []
        self._encoding = 0  # events in the batch being built
        self._failing = False
        self._random = random.Random()

    @property
    def in_flight(self) -> int:
        """Events taken from the channel and not yet answered."""
        return self._encoding + sum(self._unfinished.values())

    def unfinished_upto(self, upto: int) -> int:
        return sum(count for number, count in self._unfinished.items() if number <= upto)

    async def run(
        self,
        receive: MemoryObjectReceiveStream[Item],
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run until *receive* is closed and drained and every batch is answered."""
        send_batches, receive_batches = anyio.create_memory_object_stream[tuple[int, Batch]](
            self._config.max_concurrent_requests
        )
        async with anyio.create_task_group() as tg:
            for _ in range(self._config.max_concurrent_requests):
                tg.start_soon(self._sender, receive_batches.clone())
            receive_batches.close()
            task_status.started()
            await self._batcher(receive, send_batches)

    # -- batching ---------------------------------------------------------------------------

    def _take_id(self) -> str:
        if not self._ids:
            self._ids = new_ids(1024)
        return self._ids.pop()

    async def _batcher(
        self,
        receive: MemoryObjectReceiveStream[Item],
        out: MemoryObjectSendStream[tuple[int, Batch]],
    ) -> None:
        async with receive, out:
            open_ = True
            while open_:
                try:
                    first = await receive.receive()
                except anyio.EndOfStream:
                    break
                parts: list[str] = []
                ids: list[str] = []
                markers: list[FlushRequest] = []
                open_ = await self._fill(receive, first, parts, ids, markers)
                if parts:
                    await self._ship(parts, ids, out)
                for marker in markers:
                    self._register(marker)

    async def _fill(
        self,
        receive: MemoryObjectReceiveStream[Item],
        item: Item,
        parts: list[str],
        ids: list[str],
        markers: list[FlushRequest],
    ) -> bool:
        """Add events to the open batch until it is full, old or flushed; False at end of stream.

        Events are encoded in chunks of ``_CHUNK``, yielding to the loop after
        each.  While a batch is open and the channel is empty, the batcher
        sleeps ``_POLL`` and then takes what accumulated, rather than waiting
        on the channel: a waiting receiver is woken by every single event,
        which under a steady trickle costs a task switch per event (measured:
        a 1 ms ticker's median lag went from about 1 to 6 ms).  Sleeping also
        never cancels a receive, which could lose the item handed over just
        as a timeout fired (anyio's memory streams drop it).
        """
        config = self._config
        size = 0
        chunk: list[Event] = []
        deadline = anyio.current_time() + config.flush_interval
        try:
            while True:
                if isinstance(item, FlushRequest):
                    markers.append(item)
                    return True
                chunk.append(item)
                self._encoding += 1
                if len(chunk) >= _CHUNK:
                    size += self._encode(chunk, parts, ids)
                    chunk = []
                    if size >= config.max_batch_bytes:
                        return True
                    await anyio.lowlevel.checkpoint()
                if len(ids) + len(chunk) >= config.max_batch_events:
                    return True
                while True:
                    try:
                        item = receive.receive_nowait()
                        break
                    except anyio.WouldBlock:
                        left = deadline - anyio.current_time()
                        if left <= 0:
                            return True
                        await anyio.sleep(min(_POLL, left))
                    except anyio.EndOfStream:
                        return False
        finally:
            if chunk:
                self._encode(chunk, parts, ids)

    def _encode(self, chunk: list[Event], parts: list[str], ids: list[str]) -> int:
        chunk_ids = [self._take_id() for _ in chunk]
        encoded = encode_events(chunk, chunk_ids)
        parts.append(encoded)
        ids.extend(chunk_ids)
        return len(encoded) + 1

    async def _ship(
        self, parts: list[str], ids: list[str], out: MemoryObjectSendStream[tuple[int, Batch]]
    ) -> None:
        number = self._next_batch
        self._next_batch += 1
        self._unfinished[number] = len(ids)
        self._encoding = 0
        body = wrap_batch(parts)
        gzipped = len(body) > self._config.gzip_threshold
        if gzipped:
            if len(body) > _GZIP_IN_THREAD:
                body = await anyio.to_thread.run_sync(gzip_body, body)
            else:
                body = gzip_body(body)
        await out.send((number, Batch(body=body, gzipped=gzipped, ids=tuple(ids))))

    def _register(self, marker: FlushRequest) -> None:
        marker.upto = self._next_batch - 1
        if self.unfinished_upto(marker.upto) == 0:
            marker.done.set()
        else:
            self._waiters.append(marker)

    # -- delivery ---------------------------------------------------------------------------

    async def _sender(self, batches: MemoryObjectReceiveStream[tuple[int, Batch]]) -> None:
        async with batches:
            async for number, batch in batches:
                result = await self._deliver(batch)
                self._finish(number, batch, result)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter, capped; a ``Retry-After`` from the receiver overrides it."""
        if retry_after is not None:
            return retry_after
        config = self._config
        ceiling = min(config.retry_max_delay, config.retry_initial_delay * 2**attempt)
        return self._random.uniform(0, ceiling)

    async def _deliver(self, batch: Batch) -> SendResult:
        attempt = 0
        while True:
            try:
                result = await self._transport.send(batch)
            except Exception as exc:  # a transport bug must not kill delivery
                logger.exception("transport %r raised; will retry", type(self._transport).__name__)
                result = SendResult(Outcome.RETRY, error=repr(exc))
            if result.outcome is not Outcome.RETRY:
                self._recovered()
                return result
            delay = self.backoff(attempt, result.retry_after)
            self._stats.retried += batch.count
            self._warn_failure(result, delay)
            attempt += 1
            await anyio.sleep(delay)

    def _warn_failure(self, result: SendResult, delay: float) -> None:
        # One warning per outage, not one per attempt: the log must not flood.
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        logger.log(
            level,
            "delivery to the collector failed (%s); retrying in %.2fs, events stay buffered",
            result.error or f"HTTP {result.status}",
            delay,
        )

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            logger.warning("delivery to the collector works again")

    def _finish(self, number: int, batch: Batch, result: SendResult) -> None:
        stats = self._stats
        if result.outcome is Outcome.DELIVERED:
            stats.batches += 1
            stats.sent += batch.count
            stats.accepted += result.accepted
            stats.duplicates += result.duplicates
            stats.rejected += len(result.rejected)
            for rejection in result.rejected[:5]:
                logger.error("the collector rejected event %s: %s", rejection.id, rejection.error)
        else:
            stats.drop(f"http_{result.status}" if result.status else "failed", batch.count)
            logger.error(
                "the collector refused a batch of %d events for good: %s", batch.count, result.error
            )
        del self._unfinished[number]
        self._notify(number, batch, result)

    def _notify(self, number: int, batch: Batch, result: SendResult) -> None:
        still: list[FlushRequest] = []
        for waiter in self._waiters:
            if number <= waiter.upto:
                waiter.add(batch, result)
            if self.unfinished_upto(waiter.upto):
                still.append(waiter)
            else:
                waiter.done.set()
        self._waiters = still

    async def flush(
        self, put: Callable[[FlushRequest], Awaitable[None]], timeout: float
    ) -> SendReport:
        """Close the open batch and wait (up to *timeout*) until everything before it is answered.

        *put* puts the request on the channel, behind every event tracked before.
        """
        request = FlushRequest()
        with anyio.move_on_after(timeout):
            await put(request)
            await request.done.wait()
        if request.done.is_set():
            return request.report(0)
        upto = request.upto if request.upto >= 0 else self._next_batch
        return request.report(self.unfinished_upto(upto) + self._encoding)
