"""The background half of the SDK: channel -> batches -> transport, with retries.

One ``Pipeline`` runs inside one event loop (the application's, under
``async with``, or the tracker's own thread).  Its batcher task takes
events from the channel (a deque the intake bounds), encodes them as they arrive (so the
cost is spread out and never holds the loop for long), and closes a batch at
``max_batch_events``, ``max_batch_bytes`` or ``flush_interval``.  Sender tasks
deliver the batches, retrying with exponential backoff and full jitter, and
honouring ``Retry-After``.  Nothing here raises into the application.
"""

from __future__ import annotations

import collections
import logging
import random
import sys
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._config import TrackerConfig
from ._encode import batch_pieces, encode_chunk, gzip_pieces, new_ids
from ._events import CONTENT_INDEX, Event
from ._reports import SendReport
from ._spool import Spool
from ._stats import Stats
from .transports._base import Batch, Outcome, Rejection, SendResult, Transport

logger = logging.getLogger("agentsight")

__all__ = ["FlushRequest", "Item", "Pipeline"]

_GZIP_IN_THREAD = 256 * 1024  # zlib releases the GIL: big bodies are compressed off the loop
_POLL = 0.005  # seconds the batcher sleeps while a batch is open and nothing came
_CHUNK = 128  # events encoded in one go (~0.3 ms), between two yields to the loop
_CHUNK_CHARS = 256 * 1024  # ... or this much message text, whichever comes first
_GIL_PAUSE = 0.0005  # seconds thread mode's batcher sleeps after a chunk (see Pipeline)


@attrs.define(eq=False)
class FlushRequest:
    """Put on the channel by ``flush()``: close the open batch; report once all are answered."""

    done: anyio.Event = attrs.field(factory=anyio.Event)
    upto: int = sys.maxsize  # every batch counts until the batcher says which is the last
    registered: bool = False
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    failed: int = 0
    spooled: int = 0
    rejected: list[Rejection] = attrs.field(factory=list)

    def add(self, batch: Batch, result: SendResult) -> None:
        if result is SPOOLED:
            self.spooled += batch.count
        elif result.outcome is Outcome.DELIVERED:
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
            spooled=self.spooled,
            pending=pending,
        )


Item = Event | FlushRequest


class Channel:
    """The buffer between the tracking calls and the batcher: one deque, in call order.

    Tracking calls append, from any thread (``deque.append`` is atomic); the
    intake bounds it (``max_buffer``).  The batcher, on the loop's thread,
    takes from the left.  No anyio memory stream: its ``send_nowait`` was
    ~0.2 µs of a ~1.5 µs tracking call, and calls from other threads needed
    a pump task to move their events onto it.  A batcher waiting for the
    first event of a batch says so (``waiting``); only then does a call wake
    it: directly on the loop's thread, through the loop from other threads.
    ``room`` is set for awaited calls waiting for the level to fall to
    ``low`` (``Intake.caught_up``).
    """

    __slots__ = ("closed", "failing", "items", "low", "room", "waiting", "wakeup")

    def __init__(self) -> None:
        self.items: collections.deque[Item] = collections.deque()
        self.closed = False  # no more puts; the batcher ends once it has taken the rest
        self.waiting = False  # the batcher waits in get(): wake() it
        self.wakeup = anyio.Event()
        self.low = 0
        self.room: anyio.Event | None = None
        self.failing = False  # delivery is failing now: nobody waits for room

    def wake(self) -> None:
        """Wake a waiting batcher (on the loop's thread)."""
        if self.waiting:
            self.waiting = False
            self.wakeup.set()

    async def get(self) -> Item | None:
        """The next item, waiting for one; ``None`` once closed and empty."""
        items = self.items
        while not items:
            if self.closed:
                return None
            self.waiting = True
            # Announced first, checked again: an append from another thread that
            # missed the flag is seen here, and one that sees it wakes us.
            if not items and not self.closed:
                await self.wakeup.wait()
                self.wakeup = anyio.Event()
            self.waiting = False
        return items.popleft()

    def check_room(self) -> None:
        room = self.room
        if room is not None and (len(self.items) <= self.low or self.failing):
            self.room = None
            room.set()


#: What ``_deliver`` returns for a batch it wrote to the spool.
SPOOLED = SendResult(Outcome.FAILED, error="spooled")


class Pipeline:
    """Batches events from a channel and delivers them through a transport."""

    def __init__(
        self,
        config: TrackerConfig,
        transport: Transport,
        stats: Stats,
        spool: Spool | None = None,
        channel: Channel | None = None,
        *,
        own_loop: bool = False,
    ) -> None:
        self._config = config
        self.channel = Channel() if channel is None else channel
        # On the application's loop a big body is compressed on a worker thread; on the
        # tracker's own loop (thread mode) right there: zlib releases the GIL all the
        # same, and a third thread competing for it and for the two cores would only
        # add to the waits of the application's thread.
        self._gzip_off_loop = _GZIP_IN_THREAD if not own_loop else sys.maxsize
        # Between two chunks: on the application's loop, a checkpoint.  On our own
        # thread, a short sleep: the GIL then goes to the application's thread.  A
        # checkpoint releases it only for a select() that returns at once, and this
        # thread takes it back before the waiting one wakes up; that one then waits
        # for the interpreter's switch interval (5 ms) every time.
        self._pause = _GIL_PAUSE if own_loop else 0.0
        self._transport = transport
        self._stats = stats
        self._spool = spool
        self._ids: list[str] = []  # made a chunk at a time, taken in order from _next_id
        self._next_id = 0
        self._next_batch = 0
        self._unfinished: dict[int, Batch] = {}  # batch number -> batch, until answered
        self._waiters: list[FlushRequest] = []
        # The batch being built: encoded parts and their ids, plus a chunk not yet encoded.
        self._parts: list[bytes] = []
        self._part_ids: list[str] = []
        self._chunk: list[Event] = []
        self._chunk_chars = 0  # message text in the chunk, to bound its encoding time
        self._failing = False
        self._random = random.Random()
        self.recovered = anyio.Event()  # set when delivery works again after failing

    @property
    def _encoding(self) -> int:
        return len(self._part_ids) + len(self._chunk)

    @property
    def in_flight(self) -> int:
        """Events taken from the channel and not yet answered."""
        # list(): stats() reads this from other threads while the loop changes the dict.
        return self._encoding + sum(batch.count for batch in list(self._unfinished.values()))

    def unfinished_upto(self, upto: int) -> int:
        return sum(b.count for number, b in list(self._unfinished.items()) if number <= upto)

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until the channel is closed and empty and every batch is answered."""
        send_batches, receive_batches = anyio.create_memory_object_stream[tuple[int, Batch]](
            self._config.max_concurrent_requests
        )
        async with anyio.create_task_group() as tg:
            for _ in range(self._config.max_concurrent_requests):
                tg.start_soon(self._sender, receive_batches.clone())
            receive_batches.close()
            task_status.started()
            await self._batcher(send_batches)

    # -- batching ---------------------------------------------------------------------------

    def _take_ids(self, count: int) -> list[str]:
        start = self._next_id
        if start + count > len(self._ids):  # the rest is dropped: ids need not be dense
            self._ids, start = new_ids(max(_CHUNK, count)), 0
        self._next_id = start + count
        return self._ids[start : start + count]

    async def _batcher(self, out: MemoryObjectSendStream[tuple[int, Batch]]) -> None:
        # On cancellation the channel keeps what it holds: salvage() reads it.
        channel = self.channel
        async with out:
            open_ = True
            while open_:
                first = await channel.get()
                if first is None:
                    break
                markers: list[FlushRequest] = []
                open_ = await self._fill(first, markers)
                if self._chunk:
                    self._encode_chunk()
                if self._parts:
                    await self._ship(out)
                for marker in markers:
                    self._register(marker)
                channel.check_room()

    async def _fill(self, item: Item, markers: list[FlushRequest]) -> bool:
        """Add events to the open batch until it is full, old or flushed; False at end of stream.

        Events are encoded in chunks of ``_CHUNK``, yielding to the loop after
        each.  While a batch is open and the channel is empty, the batcher
        sleeps ``_POLL`` and then takes what accumulated, rather than waiting
        on the channel: a waiting batcher is woken by every single event,
        which under a steady trickle costs a task switch per event.
        """
        config = self._config
        channel = self.channel
        items = channel.items
        size = 0
        deadline = anyio.current_time() + config.flush_interval
        while True:
            if isinstance(item, FlushRequest):
                markers.append(item)
                return True
            self._chunk.append(item)
            if item[0] == "message":  # big messages make a chunk big: encode sooner
                self._chunk_chars += len(item[CONTENT_INDEX])
            if len(self._chunk) >= _CHUNK or self._chunk_chars >= _CHUNK_CHARS:
                size += self._encode_chunk()
                if size >= config.max_batch_bytes:
                    return True
                await anyio.sleep(self._pause)
            if self._encoding >= config.max_batch_events:
                return True
            while not items:
                if channel.closed:
                    return False
                left = deadline - anyio.current_time()
                if left <= 0:
                    return True
                await anyio.sleep(min(_POLL, left))
            item = items.popleft()

    def _encode_chunk(self) -> int:
        chunk, self._chunk = self._chunk, []
        self._chunk_chars = 0
        chunk_ids = self._take_ids(len(chunk))
        encoded = encode_chunk(chunk, chunk_ids)
        self._parts.append(encoded)
        self._part_ids.extend(chunk_ids)
        self.channel.check_room()
        return len(encoded) + 1

    async def _ship(self, out: MemoryObjectSendStream[tuple[int, Batch]]) -> None:
        pieces = batch_pieces(self._parts)
        size = sum(map(len, pieces))
        gzipped = size > self._config.gzip_threshold
        if not gzipped:
            body = b"".join(pieces)
        elif size > self._gzip_off_loop:
            body = await anyio.to_thread.run_sync(gzip_pieces, pieces)
        else:
            body = gzip_pieces(pieces)
        # From here the batch, not the open parts, holds the events (no await in between).
        number = self._next_batch
        self._next_batch += 1
        batch = Batch(body=body, gzipped=gzipped, ids=tuple(self._part_ids))
        self._unfinished[number] = batch
        self._parts, self._part_ids = [], []
        await out.send((number, batch))

    def salvage(self) -> tuple[list[Batch], list[bytes], int]:
        """After a cancelled shutdown: the batches not answered, every other event encoded
        (comma-joined JSON objects), and how many events those parts hold.

        The caller spools them (or counts them as dropped).
        """
        batches = list(self._unfinished.values())
        self._unfinished.clear()
        items = self.channel.items
        while items:
            item = items.popleft()
            if not isinstance(item, FlushRequest):
                self._chunk.append(item)
        if self._chunk:
            self._encode_chunk()
        parts, count = self._parts, len(self._part_ids)
        self._parts, self._part_ids = [], []
        return batches, parts, count

    def _register(self, marker: FlushRequest) -> None:
        """The marker reached the batcher: it waits for the batches shipped before it."""
        marker.upto = self._next_batch - 1
        marker.registered = True
        if self.unfinished_upto(marker.upto) == 0:
            marker.done.set()
            if marker in self._waiters:
                self._waiters.remove(marker)

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
        failing_since = 0.0
        while True:
            try:
                result = await self._transport.send(batch)
            except Exception as exc:  # a transport bug must not kill delivery
                logger.exception("transport %r raised; will retry", type(self._transport).__name__)
                result = SendResult(Outcome.RETRY, error=repr(exc))
            if result.outcome is not Outcome.RETRY:
                self._recovered()
                return result
            now = anyio.current_time()
            failing_since = failing_since or now
            if self._spool is not None and now - failing_since >= self._config.spool_after:
                # The collector has been unreachable too long: free the memory, keep the data.
                try:
                    await anyio.to_thread.run_sync(self._spool.append_batch, batch)
                    return SPOOLED
                except OSError as exc:  # disk full, volume gone: keep retrying in memory
                    logger.error("could not spool %d events (%s); retrying", batch.count, exc)
                    failing_since = now
            delay = self.backoff(attempt, result.retry_after)
            self._stats.retried += batch.count
            self._warn_failure(result, delay)
            attempt += 1
            await anyio.sleep(delay)

    def _warn_failure(self, result: SendResult, delay: float) -> None:
        # One warning per outage, not one per attempt: the log must not flood.
        level = logging.DEBUG if self._failing else logging.WARNING
        self._failing = True
        self.channel.failing = True
        self.channel.check_room()  # callers waiting for room would wait for the network
        logger.log(
            level,
            "delivery to the collector failed (%s); retrying in %.2fs, events stay buffered",
            result.error or f"HTTP {result.status}",
            delay,
        )

    def _recovered(self) -> None:
        self.channel.failing = False
        if self._failing:
            self._failing = False
            logger.warning("delivery to the collector works again")
            self.recovered.set()
            self.recovered = anyio.Event()

    def _finish(self, number: int, batch: Batch, result: SendResult) -> None:
        stats = self._stats
        if result is SPOOLED:
            stats.add_spooled(batch.count)
            logger.warning("spooled %d events: the collector is unreachable", batch.count)
        elif result.outcome is Outcome.DELIVERED:
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
            if not waiter.registered or self.unfinished_upto(waiter.upto):
                still.append(waiter)
            else:
                waiter.done.set()
        self._waiters = still

    async def flush(
        self,
        put: Callable[[FlushRequest], Awaitable[None]],
        timeout: float,
        backlog: Callable[[], int] = lambda: 0,
    ) -> SendReport:
        """Close the open batch and wait (up to *timeout*) until everything before it is answered.

        *put* puts the request on the channel, behind every event tracked before.
        """
        request = FlushRequest()
        # Waiting from now on, so batches answered before the marker reaches the
        # batcher are reported too.
        self._waiters.append(request)
        try:
            with anyio.move_on_after(timeout):
                await put(request)
                await request.done.wait()
        finally:
            if request in self._waiters and not request.done.is_set():
                self._waiters.remove(request)
        if request.done.is_set():
            return request.report(0)
        return request.report(self.unfinished_upto(request.upto) + self._encoding + backlog())
