"""``ConversationTracker``: the tracking calls, and the module-level ``conversation_tracker``.

A tracking call validates its arguments, resolves the conversation from the
context, builds one small event (timestamp and ``seq`` taken here) and hands
it to the runtime's intake.  It never waits for the network.  Called plainly
it has done its work when it returns; awaited, it is the same (it returns a
completed awaitable), except that when the buffer is full an awaited call
waits for room while a plain call drops the event and counts it.
"""

from __future__ import annotations

import atexit

# Its exit hook must be registered before ours (see _register_exit_hook); imported here
# rather than at the first call, which a web app's first request would wait for.
import concurrent.futures.thread
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import _validate as check
from ._config import TrackerConfig, resolve_config
from ._context import ConversationBlock, ConversationState, Registry, new_context_var
from ._events import CONVERSATION_FIELDS, Event, items
from ._intake import ABOVE_SOFT_LIMIT, REFUSED, TAKEN, IntakeLike, soft_limit
from ._keys import is_well_formed
from ._running import running_backend
from ._stats import Stats
from .helpers import generate_conversation_id

if TYPE_CHECKING:
    import concurrent.futures

    import anyio
    import anyio.abc

    from ._action import Action
    from ._reports import SendReport, TrackerStats
    from ._runtime import Runtime, ThreadRuntime
    from ._spool import Spool
    from .transports._base import Transport

# The event-loop machinery (anyio, asyncio, the runtime, the encoder) is imported
# when a tracker starts, not by `import agentsight`: importing it costs more than
# everything else in the package together, and a process that never tracks
# should not pay for it.

logger = logging.getLogger("agentsight")

__all__ = ["ConversationTracker", "ReportHandle", "conversation_tracker"]

_now_ns = time.time_ns
_TOKENS_LOCK = threading.Lock()


class _Done:
    """The completed awaitable a tracking call returns: ``await`` it or not, as you like."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())  # type: ignore[return-value]

    def __repr__(self) -> str:
        return "<tracked>"


_DONE = _Done()


class _Overflow:
    """Returned when the buffer is full.

    Awaited, it waits for room and then hands the event over.  Discarded
    without being awaited (a plain call), the event is dropped and counted,
    right when the call's result is thrown away.
    """

    __slots__ = ("_awaited", "_event", "_tracker")

    def __init__(self, tracker: ConversationTracker, event: Event) -> None:
        self._tracker = tracker
        self._event = event
        self._awaited = False

    def __await__(self) -> Generator[Any, None, None]:
        self._awaited = True
        return self._tracker._put_waiting(self._event).__await__()

    def __del__(self) -> None:
        if not self._awaited:
            self._tracker._drop(self._event, "buffer_full")


class _CatchUp:
    """Returned above the buffer's soft limit: the event is buffered already.

    Awaited, it waits (at most ``_CATCH_UP`` seconds, and only while delivery
    works) until the background has caught up; not awaited, it does nothing.
    """

    __slots__ = ("_intake",)

    def __init__(self, intake: IntakeLike) -> None:
        self._intake = intake

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        intake = self._intake
        if threading.get_ident() == intake.owner:
            await intake.caught_up(_CATCH_UP)  # type: ignore[attr-defined]
            return
        import anyio

        # Another loop's thread: the pipeline's events cannot wake this loop; poll.
        with anyio.move_on_after(_CATCH_UP):
            while _behind_by(intake):  # noqa: ASYNC110
                await anyio.sleep(0.005)


#: Seconds a call above the soft limit waits at most for the background to catch up.
_CATCH_UP = 0.1


def _behind_by(intake: IntakeLike) -> bool:
    """Still above half the soft limit, with delivery working (worth waiting for)."""
    return intake.level() > intake.soft_limit // 2 and not intake.closed and intake.delivering()


class ReportHandle:
    """What ``send_tracked_data()``, ``flush()`` and ``initialize_conversation()`` return.

    ``await handle`` gives the ``SendReport`` without blocking the loop;
    ``handle.result()`` blocks for it.  Called plainly from sync code (no
    running loop) the call already waited, so ``result()`` returns at once.
    """

    def __init__(self, future: concurrent.futures.Future[SendReport]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, SendReport]:
        from ._loops import wait_future

        return wait_future(self._future).__await__()

    def result(self, timeout: float | None = None) -> SendReport:
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()


def _completed(report: SendReport) -> ReportHandle:
    import concurrent.futures

    future: concurrent.futures.Future[SendReport] = concurrent.futures.Future()
    future.set_result(report)
    return ReportHandle(future)


class _NullIntake:
    """The intake of a tracker with nowhere to send (no API key): counts and drops."""

    closed = False
    owner = -1
    soft_limit = sys.maxsize

    def __init__(self, stats: Stats, reason: str = "no_api_key") -> None:
        self._stats = stats
        self._reason = reason

    def put(self, item: object) -> int:
        self._stats.drop(self._reason)
        return TAKEN  # counted as dropped: nothing to wait for

    def level(self) -> int:
        return 0

    def delivering(self) -> bool:
        return False


class _Starting:
    """Thread mode's intake while the tracker's thread starts: a bounded buffer.

    ``hand_over`` moves what it holds to the runtime's intake, in order, and
    from then on forwards every call there (a caller may still hold it).
    """

    owner = -1  # no thread's loop drains it

    def __init__(self, max_buffer: int, stats: Stats) -> None:
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._max = max_buffer
        self.soft_limit = soft_limit(max_buffer)
        self._stats = stats
        self._target: IntakeLike | None = None

    @property
    def closed(self) -> bool:
        target = self._target
        return target is not None and target.closed

    def put(self, item: object) -> int:
        with self._lock:
            target = self._target
            if target is None:
                if len(self._items) >= self._max:
                    return REFUSED
                self._items.append(item)
                return TAKEN if len(self._items) <= self.soft_limit else ABOVE_SOFT_LIMIT
        return target.put(item)

    def level(self) -> int:
        target = self._target
        return len(self._items) if target is None else target.level()

    def delivering(self) -> bool:
        target = self._target
        return target is None or target.delivering()  # starting is progress too

    def hand_over(self, target: IntakeLike) -> None:
        with self._lock:  # puts wait meanwhile: nothing overtakes the first events
            refused = sum(target.put(item) == REFUSED for item in self._items)
            self._items.clear()
            self._target = target
        if refused:  # the runtime starts empty, so only a closed one refuses
            self._stats.drop("after_close", refused)


def _attributes(arguments: dict[str, Any]) -> dict[str, Any]:
    """The conversation attributes among a call's arguments (``locals()``)."""
    return {name: arguments[name] for name in CONVERSATION_FIELDS}


class ConversationTracker:
    """Tracks conversations and delivers them to the AgentSight collector.

    Use it under ``async with`` in async applications (the background task
    then runs in your loop), or call it plainly from sync code (it then runs
    on a daemon thread of its own, drained at exit).  Settings come from the
    keyword arguments, then the ``AGENTSIGHT_*`` environment variables, then
    the defaults listed in the README.

    Args:
        api_key: the collector project's key (``AGENTSIGHT_API_KEY``).
        endpoint: the collector's URL (``AGENTSIGHT_API_ENDPOINT``).
        environment: default environment of conversations (``AGENTSIGHT_ENVIRONMENT``).
        log_level: level of the ``agentsight`` logger (``AGENTSIGHT_LOG_LEVEL``).
        transport: where batches go instead of the collector (an
            ``InMemoryTransport`` in tests, a ``JsonLinesTransport``...).
        shutdown_timeout...spool_max_bytes: the delivery and spool knobs,
            each with its ``AGENTSIGHT_*`` variable and default in the README.

    Raises:
        ConfigurationError: a setting or environment variable is invalid.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        api_key: str | None = None,
        endpoint: str | None = None,
        *,
        environment: Literal["production", "development"] | None = None,
        log_level: str | None = None,
        transport: Transport | None = None,
        shutdown_timeout: float | None = None,
        flush_timeout: float | None = None,
        max_buffer: int | None = None,
        max_batch_events: int | None = None,
        max_batch_bytes: int | None = None,
        flush_interval: float | None = None,
        request_timeout: float | None = None,
        retry_initial_delay: float | None = None,
        retry_max_delay: float | None = None,
        max_concurrent_requests: int | None = None,
        gzip_threshold: int | None = None,
        max_message_length: int | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_after: float | None = None,
        spool_fsync: Literal["always", "interval", "never"] | None = None,
        spool_max_bytes: int | None = None,
        _deferred: bool = False,
    ) -> None:
        self._settings: dict[str, Any] = {
            name: value
            for name, value in locals().items()
            if name not in ("self", "transport", "_deferred") and value is not None
        }
        self._transport = transport
        self._config: TrackerConfig | None = None
        # max_message_length once the settings are resolved; -1 before: every text is
        # longer, and the slow path (_text) resolves them.  One compare on the hot path.
        self._max_chars = -1
        # The module-level tracker reads its settings at first use, not at import
        # (so load_dotenv() after the import works), and never raises for them.
        self._lenient = _deferred
        if not _deferred:
            self._config_now()
        self._context = new_context_var()
        self._registry = Registry()
        self._stats = Stats()
        self._start_lock = threading.Lock()
        self._intake: IntakeLike | None = None
        self._runtime: Runtime | None = None
        self._thread_runtime: ThreadRuntime | None = None
        self._started: threading.Event | None = None  # set once a thread-mode start ended
        self._thread: threading.Thread | None = None  # thread mode's own thread
        self._on_started: list[Callable[[], None]] = []  # flushes waiting for the start
        self._stop_loop: anyio.Event | None = None
        self._stopped: anyio.Event | None = None
        self._loop_task: concurrent.futures.Future[None] | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        # One entry per `async with` block open: whether that block started the tracker.
        self._blocks: list[bool] = []
        self._warned_no_conversation = False
        self._warned_full = False
        self._atexit_registered = False
        self._spool: Spool | None = None
        self._pid = os.getpid()
        _register_at_fork(self)

    # -- configuration ------------------------------------------------------------------------

    def _config_now(self) -> TrackerConfig:
        if self._config is None:
            self._config = resolve_config(self._settings, lenient=self._lenient)
            self._max_chars = self._config.max_message_length
            if self._config.log_level:
                logger.setLevel(self._config.log_level)
        return self._config

    @property
    def config(self) -> TrackerConfig:
        """The resolved settings."""
        return self._config_now()

    def configure(self, **settings: Any) -> None:
        """Change settings before the tracker starts (the first tracking call starts it).

        Raises:
            ConfigurationError: a bad setting.
            RuntimeError: the tracker is already running; ``aclose()`` it first.
        """
        if self._intake is not None:
            raise RuntimeError("configure() must be called before the first tracking call")
        transport = settings.pop("transport", None)
        merged = {**self._settings, **{k: v for k, v in settings.items() if v is not None}}
        resolve_config(merged)  # raises on a bad value, before anything changes
        self._settings = merged
        if transport is not None:
            self._transport = transport
        self._config = None
        self._max_chars = -1

    def _get_spool(self) -> Spool | None:
        config = self._config_now()
        if config.spool_dir is None:
            return None
        if self._spool is None:
            from ._spool import Spool

            self._spool = Spool(
                config.spool_dir, fsync=config.spool_fsync, max_bytes=config.spool_max_bytes
            )
        return self._spool

    def _make_transport(self) -> Transport | None:
        if self._transport is not None:
            return self._transport
        config = self._config_now()
        if config.api_key is None:
            return None
        # Checked here, when the tracker starts (on thread mode's own thread): the
        # checksum needs hashlib, a few ms to import that the first call should not pay.
        if not is_well_formed(config.api_key):
            logger.warning(
                "api_key does not look like an AgentSight key (ags_ + 32 hex + _ + 6 hex); "
                "the collector will refuse it"
            )
        from .transports._aiohttp import HttpTransport

        return HttpTransport(config.endpoint, config.api_key, timeout=config.request_timeout)

    # -- starting and stopping ------------------------------------------------------------------

    def _start(self) -> IntakeLike:
        """Start thread mode on the first tracking call made outside ``async with``.

        Returns at once: the tracker's thread is started here (cheap), and it
        imports aiohttp and anyio and starts its loop itself (100-300 ms that a
        web app's first request should not wait for).  Meanwhile calls go to a
        ``_Starting`` buffer, handed over in order once the runtime serves.
        """
        with self._start_lock:
            if self._intake is not None:
                return self._intake
            if os.getpid() != self._pid:
                self._after_fork()
            config = self._config_now()
            if self._transport is None and config.api_key is None:
                logger.warning(
                    "AgentSight has no API key (set AGENTSIGHT_API_KEY or pass api_key=): "
                    "tracked events are dropped and counted in stats().dropped_by_reason"
                )
                self._intake = _NullIntake(self._stats)
                return self._intake
            self._get_spool()  # here, under the lock: overflow while starting spools too
            starting = _Starting(config.max_buffer, self._stats)
            started = threading.Event()
            thread = threading.Thread(
                target=self._thread_main, args=(starting, started), name="agentsight", daemon=True
            )
            try:
                thread.start()
            except RuntimeError as exc:  # at interpreter exit, say: never raise into a call
                logger.error("AgentSight could not start its thread (%s); events are dropped", exc)
                self._intake = _NullIntake(self._stats, "start_failed")
                return self._intake
            self._intake = starting
            self._started = started
            self._thread = thread
            _starting_trackers.add(self)
            if not self._atexit_registered:
                self._atexit_registered = True
                _register_exit_hook(functools.partial(_close_at_exit, weakref.ref(self)))
            return starting

    def _thread_main(self, starting: _Starting, started: threading.Event) -> None:
        """The tracker's thread: its runtime, then its loop until the tracker closes."""
        time.sleep(0.002)  # let the first call return before the imports take the GIL
        thread_runtime = None
        try:
            from ._runtime import ThreadRuntime

            transport = self._make_transport()
            assert transport is not None
            thread_runtime = ThreadRuntime(
                self._config_now(), transport, self._stats, self._get_spool()
            )
        except Exception:  # never raise into a tracking call: count and drop instead
            logger.exception("AgentSight could not start its thread; events are dropped")

        def ready(runtime: Runtime) -> None:  # in the loop, once the runtime serves
            with self._start_lock:
                self._thread_runtime = thread_runtime
                self._runtime = runtime
                starting.hand_over(runtime.intake)
                if self._intake is starting:
                    self._intake = runtime.intake
                self._end_start(started)

        try:
            if thread_runtime is not None:
                thread_runtime.run(ready)
        finally:
            if not started.is_set():  # it never served: drop (and count) from now on
                if thread_runtime is not None:
                    logger.error("AgentSight could not start its thread; events are dropped")
                null = _NullIntake(self._stats, "start_failed")
                with self._start_lock:
                    if self._intake is starting:
                        self._intake = null
                    starting.hand_over(null)
                    self._end_start(started)

    def _end_start(self, started: threading.Event) -> None:
        """The start is over (served or failed), with ``_start_lock`` held: tell the waiters."""
        _starting_trackers.discard(self)
        started.set()
        callbacks, self._on_started = self._on_started, []
        for callback in callbacks:
            callback()

    def _wait_started(self, timeout: float | None = None) -> bool:
        """Wait for a thread-mode start in progress; False if it is still starting."""
        started = self._started
        if started is None or started.is_set():
            return True
        if threading.current_thread() is self._thread:
            return False  # the tracker's own thread: waiting would wait for itself
        return started.wait(timeout)

    async def __aenter__(self) -> ConversationTracker:
        if self._intake is not None:
            # Already running (thread mode, or an outer block): leaving this block
            # flushes; the tracker keeps running for whoever started it.
            self._blocks.append(False)
            return self
        import anyio

        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(self._serve_in_loop)
        except BaseException:
            await task_group.__aexit__(None, None, None)
            raise
        self._task_group = task_group
        self._blocks.append(True)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._blocks and not self._blocks.pop():
            await self.flush()
            return
        task_group, self._task_group = self._task_group, None
        try:
            await self.aclose()
        finally:  # even when cancelled: the task group must be left where it was entered
            if task_group is not None:
                await task_group.__aexit__(*exc_info)

    async def astart(self) -> None:
        """Start in the running asyncio loop without ``async with`` (startup/shutdown hooks).

        Pair it with ``await tracker.aclose()``, which may run in another task.
        Under trio, use ``async with tracker`` instead.
        """
        if self._intake is not None:
            return
        import anyio

        if running_backend() != "asyncio":
            raise RuntimeError("astart() needs asyncio; under trio use `async with tracker:`")
        import asyncio

        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                await tg.start(self._serve_in_loop)
                ready.set_result(None)

        task = asyncio.get_running_loop().create_task(main())
        self._loop_task = task  # type: ignore[assignment]
        await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()

    async def _serve_in_loop(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Run a runtime in this loop until ``aclose()``."""
        import anyio

        from ._runtime import Runtime

        transport = self._make_transport()
        if transport is None:
            self._start()  # the no-key path: warn once, count drops
            task_status.started()
            return
        self._stop_loop = stop = anyio.Event()
        self._stopped = stopped = anyio.Event()
        runtime = Runtime(self._config_now(), transport, self._stats, self._get_spool())
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(runtime.serve)
                self._runtime = runtime
                self._intake = runtime.intake
                task_status.started()
                try:
                    await stop.wait()
                finally:
                    # Also when the application is cancelled: the pipeline is shielded
                    # and still delivers (or spools, or counts) within shutdown_timeout.
                    with anyio.CancelScope(shield=True):
                        await runtime.shutdown(self._config_now().shutdown_timeout)
        finally:
            self._intake = None
            self._runtime = None
            self._log_summary()
            stopped.set()

    async def aclose(self) -> None:
        """Deliver what is buffered (within ``shutdown_timeout``) and stop.

        A tracking call made afterwards starts the tracker again (in thread mode).
        """
        if not self._wait_started(0):
            import anyio

            await anyio.to_thread.run_sync(self._wait_started, self._config_now().shutdown_timeout)
        if self._thread_runtime is not None:
            thread_runtime, self._thread_runtime = self._thread_runtime, None
            await thread_runtime.aclose()
            self._intake = self._runtime = None
            self._log_summary()
        elif self._stop_loop is not None:
            stop, self._stop_loop = self._stop_loop, None
            stop.set()
            if self._stopped is not None:
                await self._stopped.wait()  # delivered, or counted as dropped
            task, self._loop_task = self._loop_task, None
            if task is not None:
                await task  # type: ignore[misc]
        elif isinstance(self._intake, _NullIntake):
            self._intake = None

    def close(self) -> None:
        """Sync ``aclose()`` for thread mode (scripts, WSGI apps); ``atexit`` calls it too."""
        self._wait_started(self._config_now().shutdown_timeout)
        thread_runtime, self._thread_runtime = self._thread_runtime, None
        if thread_runtime is not None:
            thread_runtime.close()
            self._intake = self._runtime = None
            self._log_summary()
        elif isinstance(self._intake, _NullIntake):
            self._intake = None

    def _log_summary(self) -> None:
        s = self.stats()
        level = logging.WARNING if s.dropped else logging.INFO
        logger.log(
            level,
            "agentsight stopped: %d sent (%d accepted, %d duplicates, %d rejected), "
            "%d retried, %d spooled, %d replayed, %d dropped %s",
            s.sent,
            s.accepted,
            s.duplicates,
            s.rejected,
            s.retried,
            s.spooled,
            s.replayed,
            s.dropped,
            s.dropped_by_reason or "",
        )

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's thread, buffer and locks; start afresh."""
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        self._registry.after_fork()
        multiprocessing = sys.modules.get("multiprocessing")
        if multiprocessing is not None:
            # A multiprocessing child ends with os._exit: atexit never runs there, but
            # multiprocessing's own finalizers do.  Deliver what the child tracked.
            import multiprocessing.util

            multiprocessing.util.Finalize(None, self.close, exitpriority=10)
        self._intake = None
        self._runtime = None
        self._thread_runtime = None
        self._started = None
        self._thread = None
        self._on_started = []
        self._stop_loop = None
        self._loop_task = None
        self._task_group = None
        self._blocks = []
        self._stats = Stats()
        self._atexit_registered = False
        if self._spool is not None:
            self._spool.forget()  # the parent's open file stays the parent's
            self._spool = None

    # -- the hot path ----------------------------------------------------------------------------

    def _emit(self, event: Event) -> Any:
        intake = self._intake
        if intake is None:
            intake = self._start()
        taken = intake.put(event)
        if taken == TAKEN:
            return _DONE
        return self._not_taken(event, intake, taken)

    def _not_taken(self, event: Event, intake: IntakeLike, taken: int) -> Any:
        """``put`` said REFUSED or ABOVE_SOFT_LIMIT: what the call returns."""
        if taken:  # ABOVE_SOFT_LIMIT: buffered, but the background is behind
            return self._behind(intake)
        if intake.closed:
            self._drop(event, "after_close")
            return _DONE
        return _Overflow(self, event)

    def _behind(self, intake: IntakeLike) -> Any:
        """The buffer is past its soft limit: let the caller slow down (see ``Intake``).

        On a thread running an event loop: an awaitable that waits until the
        background has caught up (a plain call ignores it).  On a thread with
        no running loop (sync code in thread mode): wait here, the same way.
        Either waits only while delivery works, ``_CATCH_UP`` seconds at most.
        """
        if threading.get_ident() == intake.owner or running_backend() is not None:
            return _CatchUp(intake)
        deadline = time.monotonic() + _CATCH_UP
        while _behind_by(intake) and time.monotonic() < deadline:
            time.sleep(0.001)  # sync code, no loop here: the tracker's thread drains
        return _DONE

    def _drop(self, event: Event, reason: str) -> None:
        spool = self._spool
        if spool is not None and reason == "buffer_full":
            from ._encode import encode_event, new_ids, utf8

            try:
                spool.append([utf8(encode_event(event, new_ids(1)[0]))])
                self._stats.add_spooled(1)
                return
            except OSError as exc:  # disk full, say: count it, say it once
                logger.error("AgentSight could not spool an event: %s", exc)
                reason = "spool_failed"
        self._stats.drop(reason)
        if not self._warned_full:
            self._warned_full = True
            logger.warning(
                "AgentSight dropped an event (%s); raise max_buffer, set spool_dir, or await "
                "the tracking calls to wait for room (counted in stats().dropped_by_reason)",
                reason,
            )

    async def _put_waiting(self, event: Event) -> None:
        import anyio

        runtime = self._runtime
        while True:
            intake = self._intake or self._start()
            on_owner = runtime is not None and threading.get_ident() == runtime.intake.owner
            if runtime is not None and intake is runtime.intake and on_owner:
                try:
                    await runtime.intake.send(event)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    self._drop(event, "after_close")
                return
            if intake.put(event) != REFUSED:
                return
            if intake.closed:
                self._drop(event, "after_close")
                return
            await anyio.sleep(0.005)

    def _text(self, message: object) -> tuple[str, bool]:
        """A message's text, checked, and whether it was cut to ``max_message_length``."""
        if type(message) is not str:
            message = check.message("message", message)
        limit = self._max_chars = self._config_now().max_message_length
        if len(message) > limit:
            return message[:limit], True
        return message, False

    def _state(self, conversation_id: object) -> ConversationState:
        if conversation_id is None:
            state = self._context.get()
            if state is not None:
                return state
            return self._generated_state()
        return self._registry.get(check.identifier("conversation_id", conversation_id))

    def _generated_state(self) -> ConversationState:
        state = self._registry.get(generate_conversation_id())
        self._context.set(state)
        if not self._warned_no_conversation:
            self._warned_no_conversation = True
            logger.warning(
                "a tracking call had no conversation: generated %s. Call "
                "get_or_create_conversation() first or pass conversation_id=, "
                "or analytics fragment into one conversation per call site",
                state.conversation_id,
            )
        return state

    def _message(
        self,
        sender: str,
        message: object,
        attachments: Sequence[Any] | None,
        metadata: Mapping[str, Any] | None,
        conversation_id: object,
    ) -> Awaitable[None]:
        truncated = False
        if type(message) is not str or len(message) > self._max_chars:
            message, truncated = self._text(message)
        flat = None
        if metadata is not None:
            # Copied flat (keys, then values): the caller changing its dict later
            # changes nothing tracked, and the event can leave the GC (see _events).
            # The copy first: another thread changing the caller's dict between reading
            # its keys and its values would pair them wrongly.
            metadata = (
                metadata.copy() if type(metadata) is dict else check.metadata("metadata", metadata)
            )
            flat = (*metadata, *metadata.values())
        if attachments is not None:
            attachments = check.attachments("attachments", attachments)
        state = self._context.get() if conversation_id is None else None
        if state is None:
            state = self._state(conversation_id)
        event = (
            "message",
            state.conversation_id,
            next(state.seq),
            _now_ns(),
            sender,
            message,
            flat,
            attachments,
            truncated,
        )
        # _emit() written out: messages are most calls, and a call frame is ~5% of one.
        intake = self._intake
        if intake is None:
            return self._emit(event)  # type: ignore[no-any-return]
        taken = intake.put(event)
        if taken == TAKEN:
            return _DONE
        return self._not_taken(event, intake, taken)  # type: ignore[no-any-return]

    # -- the documented calls ---------------------------------------------------------------------

    def track_human_message(
        self,
        message: str,
        attachments: Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a message from the end user.

        Args:
            message: the text.  Longer than ``max_message_length`` it is
                truncated and flagged ``truncated``.
            attachments: descriptions of attached files (JSON-able objects).
            metadata: anything about the message; odd values are serialised.
            conversation_id: the conversation, instead of the current one.

        Raises:
            ValidationError: ``message`` is not a str, ``metadata`` not a mapping...
        """
        return self._message("end_user", message, attachments, metadata, conversation_id)

    def track_agent_message(
        self,
        message: str,
        attachments: Sequence[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a message from the agent (same arguments as ``track_human_message``)."""
        return self._message("agent", message, attachments, metadata, conversation_id)

    def track_action(
        self,
        action_name: str,
        started_at: Any = None,
        ended_at: Any = None,
        duration_ms: float | None = None,
        tools_used: Any = None,
        response: Any = None,
        error_msg: str | BaseException | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a tool call or other action the agent ran.

        Args:
            action_name: e.g. ``"db_lookup"``; ``"fallback_to_human"`` counts as an escalation.
            started_at, ended_at: ISO 8601 strings or datetimes.
            duration_ms: how long it took, in milliseconds.
            tools_used: which tools (any JSON-able value).
            response: what it returned (a non-str is stored as its JSON form).
            error_msg: why it failed: a str or the exception itself.
            metadata: anything else.
        """
        name = check.text("action_name", action_name, required=True)
        assert name is not None
        if response is not None and type(response) is not str:
            import json

            from ._encode import _clean

            response = json.dumps(_clean(response))
        state = self._state(conversation_id)
        return self._emit(  # type: ignore[no-any-return]
            (
                "action",
                state.conversation_id,
                next(state.seq),
                _now_ns(),
                name,
                check.timestamp("started_at", started_at),
                check.timestamp("ended_at", ended_at),
                check.duration_ms(duration_ms),
                tools_used,
                response,
                check.error_message(error_msg),
                None if metadata is None else items(check.metadata("metadata", metadata)),
            )
        )

    def track_button(
        self,
        button_event: str,
        label: str,
        value: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track a button the end user pressed.

        Args:
            button_event: what the button is for, e.g. ``"rate"``.
            label: the text shown on it.
            value: the value it carries.
            metadata: anything else.
        """
        event_name = check.text("button_event", button_event, required=True)
        assert event_name is not None
        state = self._state(conversation_id)
        return self._emit(  # type: ignore[no-any-return]
            (
                "button",
                state.conversation_id,
                next(state.seq),
                _now_ns(),
                event_name,
                check.button_value("label", label),
                check.button_value("value", value),
                None if metadata is None else items(check.metadata("metadata", metadata)),
            )
        )

    def track_token_usage(
        self,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        total_tokens: int | None = None,
        embedding_tokens: int = 0,
        *,
        conversation_id: str | None = None,
    ) -> Awaitable[None]:
        """Track the tokens of one model call; they add up per conversation.

        Args:
            prompt_tokens, completion_tokens, embedding_tokens: counts >= 0.
            total_tokens: defaults to ``prompt_tokens + completion_tokens``.
        """
        counts = [
            check.token_count("prompt_tokens", prompt_tokens),
            check.token_count("completion_tokens", completion_tokens),
            check.token_count(
                "total_tokens",
                prompt_tokens + completion_tokens if total_tokens is None else total_tokens,
            ),
            check.token_count("embedding_tokens", embedding_tokens),
        ]
        state = self._state(conversation_id)
        with _TOKENS_LOCK:  # `+=` on a list item is not atomic across threads
            for index, count in enumerate(counts):
                state.tokens[index] += count
        return self._emit(  # type: ignore[no-any-return]
            ("token_usage", state.conversation_id, next(state.seq), _now_ns(), *counts)
        )

    def get_token_usage(self, conversation_id: str | None = None) -> dict[str, int]:
        """Running token totals of the current (or the named) conversation in this process."""
        if conversation_id is None:
            state = self._context.get()
            if state is None:
                return ConversationState("").token_usage()
            return state.token_usage()
        cid = check.identifier("conversation_id", conversation_id)
        return self._registry.get(cid).token_usage()

    def _conversation_event(
        self, conversation_id: object, attributes: dict[str, Any], *, is_used: bool
    ) -> Event:
        cid = check.identifier("conversation_id", conversation_id)
        environment = attributes.get("environment")
        metadata = attributes.get("metadata")
        state = self._registry.get(cid)
        self._context.set(state)
        return (
            "conversation" if is_used else "interaction",
            cid,
            next(state.seq),
            _now_ns(),
            check.optional_identifier("customer_id", attributes.get("customer_id")),
            check.ip_address(attributes.get("customer_ip_address")),
            check.device(attributes.get("device")),
            check.text("source", attributes.get("source")),
            check.text("language", attributes.get("language")),
            check.text("name", attributes.get("name")),
            self._config_now().environment
            if environment is None
            else check.environment(environment),
            None if metadata is None else items(check.metadata("metadata", metadata)),
            is_used,
        )

    def get_or_create_conversation(
        self,
        conversation_id: str,
        customer_id: str | None = None,
        customer_ip_address: str | None = None,
        device: Literal["desktop", "mobile"] | None = None,
        source: str | None = None,
        language: str | None = None,
        name: str | None = None,
        environment: Literal["production", "development"] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Awaitable[None]:
        """Make *conversation_id* the current conversation and record its attributes.

        Every later tracking call in this task (or thread) belongs to it.  The
        collector keeps the first value of each attribute: a later call with
        other values fills only what is still empty.

        Args:
            conversation_id: your id for the conversation (an int is turned into a str).
            customer_id: the end user's id.
            customer_ip_address: resolved to a country by the collector; an
                unparseable address is stored as absent.
            device: ``"desktop"`` or ``"mobile"``.
            source: e.g. ``"web"``, ``"whatsapp"``, ``"telegram"``.
            language: e.g. ``"en"``, ``"es-ES"``.
            name: a title for the conversation.
            environment: ``"production"`` or ``"development"``; defaults to
                ``AGENTSIGHT_ENVIRONMENT``, else ``"development"``.
            metadata: anything else about it.

        Raises:
            ValidationError: an empty ``conversation_id``, an unknown ``device``
                or ``environment``, ``metadata`` not a mapping...
        """
        attributes = _attributes(locals())
        return self._emit(  # type: ignore[no-any-return]
            self._conversation_event(conversation_id, attributes, is_used=True)
        )

    def initialize_conversation(
        self,
        conversation_id: str,
        customer_id: str | None = None,
        customer_ip_address: str | None = None,
        device: Literal["desktop", "mobile"] | None = None,
        source: str | None = None,
        language: str | None = None,
        name: str | None = None,
        environment: Literal["production", "development"] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> ReportHandle:
        """Create the conversation in the collector now, not yet marked as used.

        Use it when a conversation is offered (a chat widget shown) to measure
        engagement: it counts as used once ``get_or_create_conversation`` (or a
        ``conversation`` block) is called for it.  Same arguments as
        ``get_or_create_conversation``; it also makes the conversation current.
        Like ``send_tracked_data`` it waits for the collector's answer.
        """
        attributes = _attributes(locals())
        self._emit(self._conversation_event(conversation_id, attributes, is_used=False))
        return self.flush()

    def action(
        self,
        name: str,
        *,
        tools_used: Any = None,
        metadata: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        record_response: bool = True,
    ) -> Action:
        """Time a tool call and track it: ``with``/``async with`` block or decorator.

        See ``agentsight._action.Action``: each block or decorated call becomes
        one ``action`` event with its timing, its response and, if it raised,
        the error (re-raised).
        """
        from ._action import Action

        return Action(
            self,
            name,
            tools_used=tools_used,
            metadata=metadata,
            conversation_id=conversation_id,
            record_response=record_response,
        )

    def conversation(self, conversation_id: str, **attributes: Any) -> ConversationBlock:
        """A block (``with`` or ``async with``) in which *conversation_id* is current.

        Entering records it like ``get_or_create_conversation(conversation_id,
        **attributes)``; leaving restores the conversation current before.
        """
        return ConversationBlock(self, conversation_id, attributes)

    @property
    def current_conversation_id(self) -> str | None:
        """The id of the current conversation in this task or thread, if any."""
        state = self._context.get()
        return None if state is None else state.conversation_id

    def flush(self, timeout: float | None = None) -> ReportHandle:
        """Send everything buffered now, whatever the conversation, and wait for the answers.

        Awaited, it waits without blocking the loop.  Called plainly from sync
        code it blocks up to *timeout* (default ``flush_timeout``).  Called
        plainly on a thread running an event loop it never blocks: it starts the
        flush and returns a handle to await later, or to ignore.

        Returns:
            A ``ReportHandle`` whose result is a ``SendReport``.  It never raises
            for delivery failures: they show as ``pending`` or ``failed``.
        """
        wait = self._config_now().flush_timeout if timeout is None else timeout
        # _reports (attrs) is imported only where a report is built: not by a flush on a
        # loop thread while thread mode starts, which must return at once.
        in_loop = running_backend() is not None
        if not self._wait_started(0 if in_loop else wait):
            with self._start_lock:  # thread mode is still starting
                if self._started is not None and not self._started.is_set():
                    if in_loop:  # never block that loop: flush once started
                        return ReportHandle(self._flush_once_started(wait))
                    from ._reports import SendReport

                    pending = self._intake.level() if self._intake is not None else 0
                    return _completed(SendReport(pending=pending))
        runtime = self._runtime
        if runtime is None:
            from ._reports import SendReport

            return _completed(SendReport())
        future = self._submit_flush(runtime, wait)
        if not in_loop:
            import concurrent.futures

            try:
                future.result(wait + 5)
            except concurrent.futures.TimeoutError:
                logger.error("flush did not finish within %.1fs", wait + 5)
        return ReportHandle(future)

    @staticmethod
    def _submit_flush(runtime: Runtime, wait: float) -> concurrent.futures.Future[SendReport]:
        from ._reports import SendReport

        # If the runtime stops first, the flush reports what was still buffered then.
        return runtime.submit(lambda: runtime.flush(wait), SendReport(pending=runtime.pending))

    def _flush_once_started(self, wait: float) -> concurrent.futures.Future[SendReport]:
        """A flush for when the start ends (called with ``_start_lock`` held)."""
        import concurrent.futures

        future: concurrent.futures.Future[SendReport] = concurrent.futures.Future()

        def flush() -> None:
            runtime = self._runtime
            if runtime is None:  # the start failed: its events were counted as dropped
                from ._reports import SendReport

                future.set_result(SendReport())
                return
            inner = self._submit_flush(runtime, wait)
            inner.add_done_callback(lambda done: future.set_result(done.result()))

        self._on_started.append(flush)
        return future

    def send_tracked_data(self, timeout: float | None = None) -> ReportHandle:
        """Flush now and wait for the collector's answers (see ``flush``)."""
        return self.flush(timeout)

    def stats(self) -> TrackerStats:
        """Counts of what was queued, sent, accepted, retried, dropped and spooled."""
        runtime, intake = self._runtime, self._intake
        if runtime is None:
            return self._stats.snapshot(intake.level() if type(intake) is _Starting else 0)
        return self._stats.snapshot(queued=runtime.pending)


def _register_exit_hook(hook: Callable[[], None]) -> None:
    """Run *hook* when the main thread ends, before thread pools shut down.

    A plain ``atexit`` hook runs after ``concurrent.futures`` has closed its
    executors, when asyncio can no longer resolve a host name in a worker
    thread: the last events of a script sent to ``http://localhost`` would
    fail.  ``threading._register_atexit`` (what concurrent.futures uses) runs
    earlier; where it is missing, fall back to ``atexit``.
    """
    # concurrent.futures.thread is imported with this module (see the top), so that its
    # own exit hook is registered before ours and runs after it (they run last
    # registered, first): the loop's DNS look-ups need its threads.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(hook)
            return
        except RuntimeError:  # the interpreter is already shutting down
            pass
    atexit.register(hook)


def _close_at_exit(ref: weakref.ref[ConversationTracker]) -> None:
    tracker = ref()
    if tracker is not None:
        tracker._wait_started(tracker._config_now().shutdown_timeout)
    if tracker is not None and tracker._thread_runtime is not None:
        pending = tracker.stats().queued
        if pending:
            logger.info("agentsight: delivering %d buffered events before exit", pending)
        tracker.close()


_trackers: weakref.WeakSet[ConversationTracker] = weakref.WeakSet()


def _register_at_fork(tracker: ConversationTracker) -> None:
    _trackers.add(tracker)


def _reset_after_fork() -> None:
    global _TOKENS_LOCK
    _TOKENS_LOCK = threading.Lock()  # a lock held at the fork would never be released
    for tracker in list(_trackers):
        tracker._after_fork()


#: Trackers whose thread is starting (importing aiohttp and anyio).
_starting_trackers: weakref.WeakSet[ConversationTracker] = weakref.WeakSet()


def _wait_for_starts() -> None:
    """Before a fork: let starting trackers finish their imports (5 s at most).

    A child forked mid-import inherits half-imported modules whose import
    locks belong to a thread it does not have: its next import of them hangs.
    """
    for tracker in list(_starting_trackers):
        tracker._wait_started(5.0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_wait_for_starts, after_in_child=_reset_after_fork)


conversation_tracker = ConversationTracker(_deferred=True)
"""The module-level tracker the documented examples use; configured from the environment."""
