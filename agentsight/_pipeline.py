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
from ._encode import encode_event, gzip_body, new_ids, wrap_batch
from ._events import Event
from ._stats import SendReport, Stats
from .transports._base import Batch, Outcome, Rejection, SendResult, Transport

logger = logging.getLogger("agentsight")

__all__ = ["FlushRequest", "Item", "Pipeline", "Tick"]

_GZIP_IN_THREAD = 256 * 1024  # zlib releases the GIL: big bodies are compressed off the loop
_CHECKPOINT_EVERY = 128  # events encoded between two yields to the loop


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


@attrs.frozen
class Tick:
    """Put on the channel by the ticker: batch number *serial* has waited long enough."""

    serial: int


Item = Event | FlushRequest | Tick


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
        self._serial = 0  # number of the batch being filled
        self._opened_at = 0.0
        self._opened = anyio.Event()

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

        The age limit comes as a ``Tick`` on the channel from ``ticker()``: a
        receive under a timeout could lose the item it was handed just as the
        timeout fired (anyio's memory streams drop it), so receives here are
        never cancelled.
        """
        config = self._config
        size = 0
        self._serial += 1
        self._opened_at = anyio.current_time()
        self._opened.set()
        while True:
            if isinstance(item, FlushRequest):
                markers.append(item)
                return True
            if isinstance(item, Tick):
                if item.serial == self._serial and parts:
                    return True
            else:
                event_id = self._take_id()
                encoded = encode_event(item, event_id)
                parts.append(encoded)
                ids.append(event_id)
                self._encoding += 1
                size += len(encoded) + 1
                if len(parts) >= config.max_batch_events or size >= config.max_batch_bytes:
                    return True
                if len(parts) % _CHECKPOINT_EVERY == 0:
                    await anyio.lowlevel.checkpoint()
            try:
                item = receive.receive_nowait()
            except anyio.WouldBlock:
                try:
                    item = await receive.receive()
                except anyio.EndOfStream:
                    return False
            except anyio.EndOfStream:
                return False

    async def ticker(self, tick: Callable[[Tick], None]) -> None:
        """Close a batch that has waited ``flush_interval`` by putting a ``Tick`` on the channel."""
        while True:
            await self._opened.wait()
            self._opened = anyio.Event()
            serial = self._serial
            await anyio.sleep_until(self._opened_at + self._config.flush_interval)
            if serial == self._serial:
                tick(Tick(serial))

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
