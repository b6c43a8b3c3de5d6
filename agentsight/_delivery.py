"""Delivery: batches to the transport, with retries, backoff, spool-after and accounting.

Sender tasks take numbered batches from the batcher and make attempts
through the transport until the receiver answers for good: network errors,
timeouts, 408, 429 and 5xx are retried with exponential backoff and full
jitter, a ``Retry-After`` overriding it; after ``spool_after`` seconds of
failure a batch goes to the spool (when one is set) to free the memory.
An answer is believed only when its counts add up to the batch.  Nothing
here raises into the application: failures are counted in ``Stats`` and
logged once per outage.  ``flush()`` waits here for the batches it covers.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Awaitable, Callable

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream

from ._buffer import Buffer
from ._config import TrackerConfig
from ._spool import Spool
from ._stats import SendReport, Stats
from .transports._base import Batch, Outcome, Rejection, SendResult, Transport

logger = logging.getLogger("agentsight")

__all__ = ["SPOOLED", "Delivery", "FlushRequest", "unbelievable"]

#: What ``_deliver`` returns for a batch it wrote to the spool.
SPOOLED = SendResult(Outcome.FAILED, error="spooled")


@attrs.define(eq=False)
class FlushRequest:
    """Put on the buffer by ``flush()``: the batcher closes the open batch at it, and the
    request reports once every batch before it is answered."""

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


def unbelievable(result: SendResult, count: int) -> str | None:
    """Why a ``DELIVERED`` answer for *count* events cannot be believed, or ``None``.

    A receiver that answers 200 to everything (a proxy, a stub, the wrong
    service) must not make events count as delivered.
    """
    counts = (result.accepted, result.duplicates)
    if any(type(n) is not int or n < 0 for n in counts):
        return f"answer counts are not integers >= 0 ({counts[0]!r}, {counts[1]!r})"
    total = result.accepted + result.duplicates + len(result.rejected)
    if total != count:
        return (
            f"answer counts {result.accepted} accepted + {result.duplicates} duplicates + "
            f"{len(result.rejected)} rejected do not add up to the batch's {count} events"
        )
    indexes = {rejection.index for rejection in result.rejected}
    if len(indexes) != len(result.rejected) or not all(0 <= i < count for i in indexes):
        return "answer rejects events by indexes outside the batch, or one twice"
    return None


class Delivery:
    """Delivers numbered batches and keeps the books: stats, flush waiters, failure state."""

    def __init__(
        self,
        config: TrackerConfig,
        transport: Transport,
        stats: Stats,
        spool: Spool | None,
        buffer: Buffer,
    ) -> None:
        self._config = config
        self._transport = transport
        self._stats = stats
        self._spool = spool
        self._buffer = buffer
        self.unfinished: dict[int, Batch] = {}  # batch number -> batch, until answered
        self._waiters: list[FlushRequest] = []
        self._failing = False
        self._random = random.Random()
        self.recovered = anyio.Event()  # set when delivery works again after failing

    def unfinished_upto(self, upto: int) -> int:
        # list(): stats() reads this from other threads while the loop changes the dict.
        return sum(b.count for number, b in list(self.unfinished.items()) if number <= upto)

    @property
    def unanswered(self) -> int:
        return sum(batch.count for batch in list(self.unfinished.values()))

    async def sender(self, batches: MemoryObjectReceiveStream[int]) -> None:
        """One sender task: deliver batches by number until the batcher is done."""
        async with batches:
            async for number in batches:
                batch = self.unfinished[number]
                result = await self._deliver(batch)
                self._finish(number, batch, result)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter, capped; a ``Retry-After`` from the receiver overrides it."""
        if retry_after is not None:
            return retry_after
        config = self._config
        ceiling = min(config.retry_max_delay, config.retry_initial_delay * 2**attempt)
        return self._random.uniform(0, ceiling)

    async def _attempt(self, batch: Batch) -> SendResult:
        try:
            result = await self._transport.send(batch)
        except Exception as exc:  # a transport bug must not kill delivery
            logger.exception("transport %r raised; will retry", type(self._transport).__name__)
            return SendResult(Outcome.RETRY, error=repr(exc))
        if result.outcome is Outcome.DELIVERED:
            why = unbelievable(result, batch.count)
            if why is not None:  # resending is safe: the event ids make it idempotent
                return SendResult(Outcome.RETRY, status=result.status, error=why)
        return result

    async def _deliver(self, batch: Batch) -> SendResult:
        attempt = 0
        failing_since = 0.0
        while True:
            result = await self._attempt(batch)
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
        self._buffer.set_failing(True)  # callers waiting to catch up would wait for the network
        logger.log(
            level,
            "delivery to the collector failed (%s); retrying in %.2fs, events stay buffered",
            result.error or f"HTTP {result.status}",
            delay,
        )

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            self._buffer.set_failing(False)
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
        del self.unfinished[number]
        self._notify(number, batch, result)

    # -- flush ----------------------------------------------------------------------------------

    def register(self, marker: FlushRequest, last_batch: int) -> None:
        """The marker reached the batcher after batch *last_batch*: it waits for those."""
        marker.upto = last_batch
        marker.registered = True
        if self.unfinished_upto(marker.upto) == 0:
            marker.done.set()
            if marker in self._waiters:
                self._waiters.remove(marker)

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
        backlog: Callable[[], int],
    ) -> SendReport:
        """Close the open batch and wait (up to *timeout*) until everything before it is answered.

        *put* puts the request on the buffer, behind every event tracked before;
        *backlog* counts what is buffered or being encoded, for the report's ``pending``.
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
        return request.report(self.unfinished_upto(request.upto) + backlog())
