"""What runs a tracker's background: started once, stopped once, then replaced whole.

A tracker owns at most one engine at a time:

- ``ThreadEngine``, thread mode: the first tracking call outside
  ``async with`` starts it.  Its service runs in an asyncio loop on a daemon
  thread of anyio's blocking portal; the portal is started from a short-lived
  thread of ours, so that the first call does not wait for the imports and
  the loop (meanwhile events wait in a ``StartupBuffer``).  An exit hook
  delivers what is buffered when the interpreter ends.
- ``LoopEngine``: ``async with tracker`` or ``astart()``; the service runs in
  the application's loop (asyncio or trio), and a blocking portal into that
  loop serves flushes from other threads.
- ``NullEngine``: no API key (or a start that failed): events are counted as
  dropped.

Closing an engine, or forking, drops it (``_lifecycle``); the next tracking
call starts a new one.  This module is imported with the package: what it
needs of anyio is imported where an engine starts.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

from ._buffer import BEHIND, CLOSED, TAKEN, Intake, NullBuffer, StartupBuffer
from ._config import TrackerConfig
from ._keys import problem
from ._loops import running_backend, wait_future

if TYPE_CHECKING:
    import anyio
    import anyio.abc
    from anyio.from_thread import BlockingPortal

    from ._events import Event
    from ._loops import PortalThread
    from ._service import Service
    from ._spool import Spool
    from ._stats import SendReport, Stats
    from .transports._base import Transport

logger = logging.getLogger("agentsight")

__all__ = [
    "Engine",
    "LoopEngine",
    "NullEngine",
    "ReportHandle",
    "ThreadEngine",
    "completed",
    "make_transport",
]


class ReportHandle:
    """What ``send_tracked_data()``, ``flush()`` and ``initialize_conversation()`` return.

    ``await handle`` gives the ``SendReport`` without blocking the loop;
    ``handle.result()`` blocks for it.  Called plainly from sync code (no
    running loop) the call already waited, so ``result()`` returns at once.
    """

    def __init__(self, future: concurrent.futures.Future[SendReport]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, SendReport]:
        return wait_future(self._future).__await__()

    def result(self, timeout: float | None = None) -> SendReport:
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()

    def __getitem__(self, key: str) -> Any:
        """The official SDK 0.0.44's dict: ``send_tracked_data()["summary"]`` (waits)."""
        return self.result()[key]


def completed(pending: int = 0) -> ReportHandle:
    """A handle whose report is ready: nothing was sent, *pending* events wait."""
    return ReportHandle(_completed_future(pending))


def _completed_future(pending: int = 0) -> concurrent.futures.Future[SendReport]:
    from ._stats import SendReport

    future: concurrent.futures.Future[SendReport] = concurrent.futures.Future()
    future.set_result(SendReport(pending=pending))
    return future


def make_transport(config: TrackerConfig, transport: Transport | None) -> Transport | None:
    """The transport a tracker sends through: the one it was given, else HTTP to the collector."""
    if transport is not None:
        return transport
    if config.api_key is None:
        return None
    # Checked here, when the tracker starts (thread mode: on its own thread): the
    # checksum needs hashlib, a few ms to import that the first call should not pay.
    wrong = problem(config.api_key)
    if wrong is not None:
        logger.warning("api_key: %s; the collector will refuse it", wrong)
    from .transports._aiohttp import HttpTransport

    return HttpTransport(config.endpoint, config.api_key, timeout=config.request_timeout)


class Engine(Protocol):
    """The interface the tracker sees."""

    intake: Intake
    on_stopped: Callable[[], None]

    @property
    def pending(self) -> int: ...

    def flush(self, wait: float) -> ReportHandle: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...

    def wait_started(self, timeout: float | None) -> bool: ...

    def drop(self, event: Event, reason: str) -> None: ...

    async def wait_for_room(self, event: Event) -> None: ...

    def forget(self) -> None: ...


def _nothing() -> None:
    pass


class _Base:
    """What every engine does alike: the overflow path of the tracking calls."""

    intake: Intake

    def __init__(
        self, config: TrackerConfig, stats: Callable[[], Stats], spool: Spool | None
    ) -> None:
        self._config = config
        # The counters, made on first use: their module imports attrs, which the first
        # tracking call of a process should not wait for (thread mode makes them on its
        # starter thread).
        self._stats_of = stats
        self._spool = spool
        self._warned_full = False
        self.on_stopped: Callable[[], None] = _nothing  # the tracker detaches it

    def forget(self) -> None:
        """In a forked child: the parent's open spool file stays the parent's."""
        if self._spool is not None:
            self._spool.forget()

    def wait_started(self, timeout: float | None) -> bool:
        return True

    def drop(self, event: Event, reason: str) -> None:
        """A plain call found no room (or the tracker closing): spool the event, or count it."""
        if self._spool is not None and reason == "buffer_full":
            from ._encode import encode_event, new_ids, utf8
            from ._events import take_own_ids

            ids = new_ids(1)
            take_own_ids([event], ids)
            try:
                self._spool.append([utf8(encode_event(event, ids[0]))])
                self._stats_of().add_spooled(1)
                return
            except OSError as exc:  # disk full, say: count it, say it once
                logger.error("AgentSight could not spool an event: %s", exc)
                reason = "spool_failed"
        self._stats_of().drop(reason)
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "AgentSight dropped an event (%s); raise max_buffer, set spool_dir, or await "
                "the tracking calls to wait for room (counted in stats().dropped_by_reason)",
                reason,
            )

    async def wait_for_room(self, event: Event) -> None:
        """An awaited call found no room: wait for it (the buffer may change meanwhile)."""
        import anyio

        from ._buffer import Buffer

        while True:
            intake = self.intake
            if isinstance(intake, Buffer) and threading.get_ident() == intake.owner:
                try:
                    await intake.send(event)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    self.drop(event, "after_close")
                return
            put = intake.put(event)
            if put is TAKEN or put is BEHIND:
                return
            if put is CLOSED:
                self.drop(event, "after_close")
                return
            await anyio.sleep(0.005)  # another thread's loop drains it: poll


class NullEngine(_Base):
    """Nowhere to send: every event is counted as dropped for *reason*."""

    def __init__(
        self, config: TrackerConfig, stats: Callable[[], Stats], reason: str = "no_api_key"
    ) -> None:
        super().__init__(config, stats, None)
        self.intake = NullBuffer(stats, reason)

    @property
    def pending(self) -> int:
        return 0

    def flush(self, wait: float) -> ReportHandle:
        return completed()

    def close(self) -> None:
        self.on_stopped()

    async def aclose(self) -> None:
        self.on_stopped()


class ThreadEngine(_Base):
    """Thread mode: the service in an asyncio loop on a portal thread.

    Built on the first tracking call; returns at once.  ``start`` raises
    ``RuntimeError`` when no thread can start (at interpreter exit).
    """

    def __init__(
        self,
        config: TrackerConfig,
        transport: Callable[[], Transport | None],
        stats: Callable[[], Stats],
        spool: Spool | None,
    ) -> None:
        super().__init__(config, stats, spool)
        self._make_transport = transport
        self.on_started: Callable[[], None] = _nothing  # the tracker's calls skip the startup
        self._startup = StartupBuffer(config.max_buffer, stats)
        self.intake: Intake = self._startup
        self._started = threading.Event()  # set once the start ended, served or failed
        self._lock = threading.Lock()
        self._on_started: list[Callable[[], None]] = []
        self._thread: PortalThread | None = None
        self._service: Service | None = None
        self._stop: anyio.Event | None = None
        self._done = threading.Event()  # set when _serve has ended, served or not
        self._closed = False

    def start(self) -> None:
        starter = threading.Thread(target=self._start, name="agentsight-start", daemon=True)
        starter.start()
        _starting.add(self)
        _live.add(self)
        from ._lifecycle import register_exit_hook

        register_exit_hook()

    def _start(self) -> None:
        """On the starter thread: the portal, then the service in it."""
        time.sleep(0.002)  # let the first call return before the imports take the GIL
        try:
            from ._loops import PortalThread

            self._stats_of()  # here, not on the first call's thread (see _Base)
            transport = self._make_transport()
            assert transport is not None
            self._thread = PortalThread("agentsight")
            self._thread.run(self._serve(transport))
        except Exception:  # never raise into a tracking call: count and drop instead
            logger.exception("AgentSight could not start its thread; events are dropped")
            self._fail()

    async def _serve(self, transport: Transport) -> None:
        """In the portal's loop: serve until ``close``."""
        import anyio

        from ._service import Service

        try:
            service = Service(self._config, transport, self._stats_of(), self._spool, own_loop=True)
            self._stop = stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                await tg.start(service.serve)
                self._ready(service)
                await stop.wait()
                await service.shutdown(self._config.shutdown_timeout)
        except Exception:
            logger.exception("AgentSight's background stopped on an error")
            raise
        finally:
            self._fail()  # a no-op once it served
            self._done.set()

    def _ready(self, service: Service) -> None:
        with self._lock:
            self._service = service
            self._startup.hand_over(service.buffer)
            self.intake = service.buffer
            self._end_start()

    def _fail(self) -> None:
        with self._lock:
            if self._started.is_set():
                return
            null = NullBuffer(self._stats_of, "start_failed")
            self.intake = null
            self._startup.hand_over(null)
            self._end_start()

    def _end_start(self) -> None:
        """The start is over (served or failed), with ``_lock`` held: tell the waiters."""
        _starting.discard(self)
        self._started.set()
        self.on_started()
        callbacks, self._on_started = self._on_started, []
        for callback in callbacks:
            callback()

    def wait_started(self, timeout: float | None) -> bool:
        """Wait for the start; False if it is still starting after *timeout*."""
        if self._started.is_set():
            return True
        thread = self._thread
        if thread is not None and threading.get_ident() == thread.ident:
            return False  # the portal's own thread: waiting would wait for itself
        return self._started.wait(timeout)

    @property
    def pending(self) -> int:
        service = self._service
        return self.intake.level() if service is None else service.pending

    def flush(self, wait: float) -> ReportHandle:
        in_loop = running_backend() is not None
        if not self.wait_started(0 if in_loop else wait):
            with self._lock:
                if not self._started.is_set():
                    if in_loop:  # never block that loop: flush once started
                        return ReportHandle(self._flush_once_started(wait))
                    return completed(self.intake.level())
        future = self._submit_flush(wait)
        if not in_loop:
            try:
                future.result(wait + 5)
            except concurrent.futures.TimeoutError:
                logger.error("flush did not finish within %.1fs", wait + 5)
        return ReportHandle(future)

    def _submit_flush(self, wait: float) -> concurrent.futures.Future[SendReport]:
        service, thread = self._service, self._thread
        if service is None or thread is None:  # the start failed: its events were counted
            return _completed_future()
        if threading.get_ident() == thread.ident:
            return service.start_flush(wait)
        try:
            return thread.run(service.flush(wait))
        except RuntimeError:  # stopped meanwhile
            return _completed_future(service.pending)

    def _flush_once_started(self, wait: float) -> concurrent.futures.Future[SendReport]:
        """A flush for when the start ends (called with ``_lock`` held)."""
        future: concurrent.futures.Future[SendReport] = concurrent.futures.Future()

        def flush() -> None:
            inner = self._submit_flush(wait)
            inner.add_done_callback(lambda done: future.set_result(done.result()))

        self._on_started.append(flush)
        return future

    def close(self) -> None:
        """Deliver what is buffered (within ``shutdown_timeout``), stop the thread."""
        if self._closed:
            return
        self._closed = True
        _live.discard(self)
        self.wait_started(self._config.shutdown_timeout)
        thread, stop = self._thread, self._stop
        if thread is None:  # the start failed before the portal ran
            self.on_stopped()
            return
        if threading.get_ident() == thread.ident:  # cannot wait for itself: stop and go
            if stop is not None:
                stop.set()
            return
        try:
            if stop is not None:
                thread.portal.call(stop.set)
            if not self._done.wait(self._config.shutdown_timeout + 5):
                logger.error("the agentsight thread did not stop within shutdown_timeout")
        except Exception as exc:  # whatever went wrong, closing must not raise
            logger.error("the agentsight thread did not stop cleanly: %r", exc)
        finally:
            thread.stop(cancel=True)
            self.on_stopped()

    async def aclose(self) -> None:
        import anyio

        await anyio.to_thread.run_sync(self.close)


class LoopEngine(_Base):
    """The service in the application's running loop (``async with`` or ``astart()``)."""

    def __init__(
        self,
        config: TrackerConfig,
        transport: Transport,
        stats: Callable[[], Stats],
        spool: Spool | None,
    ) -> None:
        super().__init__(config, stats, spool)
        self._transport = transport
        self.intake = NullBuffer(stats, "after_close")  # until it serves
        self._service: Service | None = None
        self._portal: BlockingPortal | None = None
        self._stop: anyio.Event | None = None
        self._stopped: anyio.Event | None = None
        self.task_group: anyio.abc.TaskGroup | None = None  # the `async with` block's
        self.task: Any = None  # astart()'s asyncio task

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Run the service in this loop until ``aclose()``."""
        import anyio
        from anyio.from_thread import BlockingPortal

        from ._service import Service

        self._stop, self._stopped = stop, stopped = anyio.Event(), anyio.Event()
        service = Service(self._config, self._transport, self._stats_of(), self._spool)
        try:
            async with BlockingPortal() as portal, anyio.create_task_group() as tg:
                await tg.start(service.serve)
                self._portal, self._service = portal, service
                self.intake = service.buffer
                task_status.started()
                try:
                    await stop.wait()
                finally:
                    # Also when the application is cancelled: the service is shielded
                    # and still delivers (or spools, or counts) within shutdown_timeout.
                    with anyio.CancelScope(shield=True):
                        await service.shutdown(self._config.shutdown_timeout)
                        await portal.stop(cancel_remaining=True)
        finally:
            self.on_stopped()
            stopped.set()

    @property
    def pending(self) -> int:
        service = self._service
        return 0 if service is None else service.pending

    def flush(self, wait: float) -> ReportHandle:
        service, portal = self._service, self._portal
        if service is None or portal is None:
            return completed()
        if threading.get_ident() == service.buffer.owner:
            return ReportHandle(service.start_flush(wait))
        try:
            future = portal.start_task_soon(service.flush, wait)
        except RuntimeError:  # stopped meanwhile
            return completed(service.pending)
        if running_backend() is None:
            with contextlib.suppress(concurrent.futures.TimeoutError):
                future.result(wait + 5)
        return ReportHandle(future)

    def close(self) -> None:
        """Nothing to do from sync code: the loop's ``aclose()`` (or ``async with``) stops it."""

    async def aclose(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._stopped is not None:
            await self._stopped.wait()  # delivered, or counted as dropped
        task, self.task = self.task, None
        if task is not None:
            await task


# -- what the exit and fork hooks (see _lifecycle) need to know --------------------------------

#: Thread engines not closed yet: the exit hook closes them.
_live: weakref.WeakSet[ThreadEngine] = weakref.WeakSet()
#: Thread engines whose start is under way (importing aiohttp and anyio).
_starting: weakref.WeakSet[ThreadEngine] = weakref.WeakSet()


def live_thread_engines() -> list[ThreadEngine]:
    return list(_live)


def wait_for_starts() -> None:
    """Before a fork: let starting engines finish their imports (5 s at most).

    A child forked mid-import inherits half-imported modules whose import
    locks belong to a thread it does not have: its next import of them hangs.
    """
    for engine in list(_starting):
        engine.wait_started(5.0)


def forget_thread_engines() -> None:
    """In a forked child: the parent's threads are not here."""
    _live.clear()
    _starting.clear()
