"""The buffer between the tracking calls and the batcher, and what a call does with its answer.

Events travel on an anyio memory object stream bounded by ``max_buffer``,
the same pair as anyio's ``streams/memory.py`` (``send_nowait`` raises
``WouldBlock`` when full, ``send`` waits for room).  ``Buffer`` is its
entrance, safe from any thread; ``put`` answers with a ``Put``:

- ``TAKEN``: on the stream;
- ``BEHIND``: on the stream, but the buffer is past its soft limit: the
  background is behind, so an awaited call (or sync code in thread mode)
  waits a moment for it to catch up, while delivery works;
- ``FULL``: no room: a plain call spools or drops the event and counts it,
  an awaited call waits for room;
- ``CLOSED``: the tracker is stopping: the event is dropped and counted.

Calls from other threads (thread mode; worker threads of an async app) use
the same ``send_nowait``.  That is safe because the batcher never waits in
``receive()``: with no receiver waiting, ``send_nowait`` only checks the
bound and appends to the stream's deque, which the GIL keeps whole (two
threads racing past the bound overshoot it by one event each).  The batcher
takes with ``receive_nowait``; when the stream is empty it announces that it
waits (``readable``), and the next put wakes it: directly on the loop's own
thread, through the loop's thread-safe callback from other threads, at most
once per burst.  Nothing is taken from the stream while it waits, so
cancelling the wait cannot lose an event.

``StartupBuffer`` holds the first calls while thread mode starts;
``NullBuffer`` counts and drops for a tracker with nowhere to send.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import collections

    import anyio
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._stats import Stats

__all__ = [
    "BEHIND",
    "CLOSED",
    "DONE",
    "FULL",
    "TAKEN",
    "Both",
    "Buffer",
    "CatchUp",
    "Done",
    "Intake",
    "NullBuffer",
    "Overflow",
    "Put",
    "StartupBuffer",
    "soft_limit",
]

_get_ident = threading.get_ident  # on every put from another thread

#: Buffered events above which calls let the background catch up.
SOFT_LIMIT = 10_000
#: Seconds a call above the soft limit waits at most for the background to catch up.
CATCH_UP = 0.1


class Put(enum.Enum):
    """What ``put`` did with an event."""

    TAKEN = "taken"
    BEHIND = "taken, above the soft limit"
    FULL = "no room"
    CLOSED = "closed"


TAKEN, BEHIND, FULL, CLOSED = Put.TAKEN, Put.BEHIND, Put.FULL, Put.CLOSED


def soft_limit(max_buffer: int) -> int:
    """The soft limit of a buffer of *max_buffer*: ``SOFT_LIMIT``, or half a smaller buffer."""
    return max(1, min(SOFT_LIMIT, max_buffer // 2))


class Intake(Protocol):
    """Where a tracking call puts its event, from any thread."""

    @property
    def closed(self) -> bool: ...

    @property
    def owner(self) -> int:
        """The id of the thread whose loop drains it (-1: none)."""
        ...

    def put(self, item: Any) -> Put:
        """Hand *item* over without ever blocking."""
        ...

    def level(self) -> int:
        """Events buffered now (a snapshot, from any thread)."""
        ...

    def behind(self) -> bool:
        """Above half the soft limit while delivery works: worth waiting for."""
        ...

    async def caught_up(self, most: float) -> None:
        """Wait (in any loop) until not ``behind()``, *most* seconds at most."""
        ...


def wait_caught_up_blocking(intake: Intake, most: float = CATCH_UP) -> None:
    """``caught_up`` for sync code on a thread without a loop (thread mode)."""
    deadline = time.monotonic() + most
    while intake.behind() and time.monotonic() < deadline:
        time.sleep(0.001)  # no loop on this thread: the tracker's own thread drains


async def _poll_caught_up(intake: Intake, most: float) -> None:
    """Wait for another thread's loop to catch up: its events cannot wake this loop."""
    import anyio

    with anyio.move_on_after(most):
        while intake.behind():  # noqa: ASYNC110
            await anyio.sleep(0.005)


class Buffer:
    """The entrance of the stream, from any thread; the batcher's side of it on the loop.

    Build it inside the loop that drains it (its thread is the ``owner``).
    """

    def __init__(self, max_buffer: int, wake_from_thread: Callable[[Callable[[], object]], None]):
        import anyio

        self._send: MemoryObjectSendStream[Any]
        self._receive: MemoryObjectReceiveStream[Any]
        self._send, self._receive = anyio.create_memory_object_stream[Any](max_buffer)
        #: The stream's ``send_nowait``; the tracker's hot path calls it directly and then
        #: ``after_put`` when ``alert`` is set or ``items`` is past ``soft_limit``.
        self.send_nowait = self._send.send_nowait
        self._receive_nowait = self._receive.receive_nowait
        # The stream's own deque, for its length on every put (the soft limit) and to take
        # back an event that raced a close.  statistics() gives the length too, but builds
        # a tuple each time; tests/sdk/test_buffer.py checks that the two agree.
        self.items: collections.deque[Any] = self._send._state.buffer
        self._full = anyio.WouldBlock
        self._gone = (anyio.ClosedResourceError, anyio.BrokenResourceError)
        self._empty = anyio.WouldBlock
        self._ended = anyio.EndOfStream
        self._owner = threading.get_ident()
        self._wake_from_thread = wake_from_thread
        self.soft_limit = soft_limit(max_buffer)
        self.closed = False
        self.failing = False  # delivery fails now: nobody waits for room or to catch up
        self.waiting = False  # the batcher waits in readable(): the next put wakes it
        self._wake_pending = False
        #: A put must take the slow path (``after_put``): the batcher waits and no wake-up
        #: is on its way, or the buffer is closed.  One flag, read on every call.
        self.alert = False
        self._wakeup = anyio.Event()
        self._low = 0
        self._room: anyio.Event | None = None

    @property
    def owner(self) -> int:
        return self._owner

    # -- the callers' side ---------------------------------------------------------------------

    def _update_alert(self) -> None:
        self.alert = (self.waiting and not self._wake_pending) or self.closed

    def put(self, item: Any) -> Put:
        """Hand *item* over without blocking, from any thread."""
        try:
            self.send_nowait(item)
        except self._full:
            return CLOSED if self.closed else FULL
        except self._gone:
            return CLOSED
        if self.alert or len(self.items) > self.soft_limit:
            return self.after_put(item)
        return TAKEN

    def not_sent(self) -> Put:
        """What a ``send_nowait`` that raised means: no room, or closed."""
        return CLOSED if self.closed else FULL

    def after_put(self, item: Any) -> Put:
        """The rest of a put of *item* that found ``alert`` set or the soft limit passed."""
        if self.alert and not self._woken(item):
            return CLOSED
        return TAKEN if len(self.items) <= self.soft_limit else BEHIND

    def _woken(self, item: Any) -> bool:
        """After a put that found the batcher waiting or the buffer closed: wake it, or
        take *item* back (False) when a close from the loop's thread came in between."""
        if _get_ident() == self._owner:
            self.wake()
            return True
        if self.closed:
            try:
                self.items.remove(item)
                return False
            except ValueError:  # the batcher has it already
                return True
        if not self._wake_pending:
            self._wake_pending = True
            self._update_alert()
            self._wake_from_thread(self._wake_from_other_thread)
        return True

    def _wake_from_other_thread(self) -> None:
        self._wake_pending = False  # first: a put from now on schedules its own
        self._update_alert()
        self.wake()

    async def send(self, item: Any) -> None:
        """Put *item* on the stream, waiting for room (on the owner's loop).

        Raises:
            anyio.ClosedResourceError: the buffer is closed.
        """
        await self._send.send(item)
        self.wake()

    def level(self) -> int:
        return len(self.items)

    def behind(self) -> bool:
        return len(self.items) > self.soft_limit // 2 and not self.closed and not self.failing

    async def caught_up(self, most: float) -> None:
        """Wait until the batcher has taken all but half the soft limit, while delivery works."""
        if _get_ident() != self._owner:
            await _poll_caught_up(self, most)
            return
        import anyio

        with anyio.move_on_after(most):
            while self.behind():
                await self._below(self.soft_limit // 2)

    async def _below(self, low: int) -> None:
        """Wait until the batcher has taken the buffer down to *low*, or delivery fails."""
        if self._room is None:
            import anyio

            self._room = anyio.Event()
            self._low = low
        else:  # one event for all: woken at the highest level asked, each checks its own
            self._low = max(self._low, low)
        await self._room.wait()

    # -- the batcher's side (the owner's loop) ---------------------------------------------------

    def take(self) -> Any:
        """The next item, or ``None`` when there is none now (see ``readable``)."""
        try:
            return self._receive_nowait()
        except (self._empty, self._ended):
            return None

    async def readable(self) -> bool:
        """Wait until an item is buffered; ``False`` once the buffer is closed and empty.

        The documented way to wait for the first event of a batch: it takes
        nothing, so a cancellation here loses nothing.
        """
        while not self.items:
            if self.closed:
                return False
            self.waiting = True
            self._update_alert()
            # Announced first, checked again: a put from another thread that missed
            # the flag is seen here, and one that sees it wakes us.
            if not self.items and not self.closed:
                await self._wakeup.wait()
                import anyio

                self._wakeup = anyio.Event()
            self.waiting = False
            self._update_alert()
        return True

    def wake(self) -> None:
        """Wake a waiting batcher (on the owner's thread)."""
        if self.waiting:
            self.waiting = False
            self._update_alert()
            self._wakeup.set()

    def check_room(self) -> None:
        """After taking: release the callers waiting to catch up, if the level is low enough."""
        room = self._room
        if room is not None and (len(self.items) <= self._low or self.failing or self.closed):
            self._room = None
            room.set()

    def set_failing(self, failing: bool) -> None:
        """Delivery fails (or works again): while it fails, nobody waits to catch up."""
        self.failing = failing
        self.check_room()

    def close(self) -> None:
        """Stop intake (on the owner's thread): the batcher takes the rest and ends."""
        self.closed = True
        self.alert = True
        self._send.close()  # callers waiting for room get ClosedResourceError
        self.check_room()
        self.wake()

    def leftovers(self) -> list[Any]:
        """Close, and take what is still buffered (shutdown ran out of time, or came late)."""
        self.close()
        late = []
        while True:
            item = self.take()
            if item is None:
                break
            late.append(item)
        while self.items:  # a put from another thread that raced the close
            late.append(self.items.popleft())
        self._receive.close()
        return late


class StartupBuffer:
    """Thread mode's intake while the tracker's loop starts: a bounded list.

    ``hand_over`` moves what it holds to the real buffer, in order, and from
    then on forwards every put there (a caller may still hold this one).
    """

    owner = -1  # no thread's loop drains it

    def __init__(self, max_buffer: int, stats: Callable[[], Stats]) -> None:
        self._lock = threading.Lock()
        self.items: list[Any] = []
        self._max = max_buffer
        self.soft_limit = soft_limit(max_buffer)
        self._stats = stats
        self._target: Intake | None = None

    @property
    def closed(self) -> bool:
        target = self._target
        return target is not None and target.closed

    def put(self, item: Any) -> Put:
        with self._lock:
            target = self._target
            if target is None:
                if len(self.items) >= self._max:
                    return FULL
                self.items.append(item)
                return TAKEN if len(self.items) <= self.soft_limit else BEHIND
        return target.put(item)

    def level(self) -> int:
        target = self._target
        return len(self.items) if target is None else target.level()

    def behind(self) -> bool:
        target = self._target
        return target.behind() if target is not None else len(self.items) > self.soft_limit // 2

    async def caught_up(self, most: float) -> None:
        await _poll_caught_up(self, most)

    def hand_over(self, target: Intake) -> None:
        with self._lock:  # puts wait meanwhile: nothing overtakes the first events
            refused = sum(target.put(item) in (FULL, CLOSED) for item in self.items)
            self.items.clear()
            self._target = target
        if refused:  # the buffer starts empty and at least as big: only a closed one refuses
            self._stats().drop("after_close", refused)


class NullBuffer:
    """The intake of a tracker with nowhere to send (no API key, or its start failed)."""

    closed = False
    owner = -1

    def __init__(self, stats: Callable[[], Stats], reason: str = "no_api_key") -> None:
        self._stats = stats
        self._reason = reason

    def put(self, item: Any) -> Put:
        self._stats().drop(self._reason)
        return TAKEN  # counted as dropped: nothing to wait for

    def level(self) -> int:
        return 0

    def behind(self) -> bool:
        return False

    async def caught_up(self, most: float) -> None:
        return None


# -- what a tracking call returns ------------------------------------------------------------


class Done:
    """The completed awaitable a tracking call returns: ``await`` it or not, as you like."""

    __slots__ = ()

    # Not a method: a C callable that ``await`` calls without ``self`` and that hands back
    # one shared, exhausted iterator (done, value None).  Awaited calls are the hot path
    # of async code, and this is the cheapest awaitable CPython has short of none.
    if TYPE_CHECKING:

        def __await__(self) -> Generator[Any, None, None]: ...

    else:
        __await__ = itertools.repeat(iter(())).__next__

    def __repr__(self) -> str:
        return "<tracked>"


DONE = Done()


class Overflow:
    """Returned when the buffer is full.

    Awaited, it waits for room (*wait_for_room*) and then hands the event
    over.  Discarded without being awaited (a plain call), the event goes to
    *drop* (spool or count), right when the call's result is thrown away.
    """

    __slots__ = ("_awaited", "_drop", "_event", "_wait")

    def __init__(
        self,
        event: Any,
        wait_for_room: Callable[[Any], Awaitable[None]],
        drop: Callable[[Any, str], None],
    ) -> None:
        self._event = event
        self._wait = wait_for_room
        self._drop = drop
        self._awaited = False

    def __await__(self) -> Generator[Any, None, None]:
        self._awaited = True
        return self._wait(self._event).__await__()

    def __del__(self) -> None:
        if not self._awaited:
            self._drop(self._event, "buffer_full")


class Both:
    """What a call that put two events returns when neither was simply taken.

    Awaited, it awaits the first answer, then the second; discarded, each is
    discarded (an ``Overflow`` then spools or drops its event).
    """

    __slots__ = ("_first", "_second")

    def __init__(self, first: Awaitable[None], second: Awaitable[None]) -> None:
        self._first = first
        self._second = second

    def __await__(self) -> Generator[Any, None, None]:
        yield from self._first.__await__()
        yield from self._second.__await__()


class CatchUp:
    """Returned above the soft limit: the event is buffered already.

    Awaited, it waits (``CATCH_UP`` seconds at most, and only while delivery
    works) until the background has caught up; not awaited, it does nothing.
    """

    __slots__ = ("_intake",)

    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    def __await__(self) -> Generator[Any, None, None]:
        return self._intake.caught_up(CATCH_UP).__await__()
