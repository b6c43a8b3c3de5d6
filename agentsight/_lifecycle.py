"""A tracker's lifecycle: which engine runs, starting and stopping it, the interpreter's exit, fork.

The tracker owns one ``Lifecycle``; it holds at most one engine at a time
(see ``_engine``) and replaces it whole: the first tracking call outside
``async with`` starts thread mode, ``async with`` and ``astart()`` start an
engine in the running loop, closing or forking drops it, and the next call
starts a new one.  The tracker's hot path reads the engine's buffer from
the tracker itself (``on_intake`` keeps it current).
"""

from __future__ import annotations

import atexit

# Its exit hook must be registered before ours (see register_exit_hook); imported here
# rather than at the first call, which a web app's first request would wait for.
import concurrent.futures.thread  # noqa: F401
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._engine import Engine, NullEngine, ReportHandle, ThreadEngine, completed, make_transport
from ._loops import running_backend

if TYPE_CHECKING:
    from ._buffer import Intake
    from ._config import TrackerConfig
    from ._engine import LoopEngine
    from ._spool import Spool
    from ._stats import Stats
    from .transports._base import Transport

logger = logging.getLogger("agentsight")

__all__ = ["Lifecycle", "on_fork"]


class Lifecycle:
    """Starts, holds and stops a tracker's engine.

    *config* resolves the tracker's settings, *transport* gives the one it
    was handed (or ``None``), *on_intake* is told the buffer calls go to
    (``None``: no engine, the next call starts one).
    """

    def __init__(
        self,
        config: Callable[[], TrackerConfig],
        transport: Callable[[], Transport | None],
        on_intake: Callable[[Intake | None], None],
    ) -> None:
        self._config = config
        self._transport = transport
        self._on_intake = on_intake
        self._lock = threading.Lock()
        self.engine: Engine | None = None
        self._stats: Stats | None = None  # made at the first start (attrs is a slow import)
        self._blocks: list[bool] = []  # per open `async with`: whether it started the engine

    @property
    def stats(self) -> Stats:
        return self._stats_now()

    def _stats_now(self) -> Stats:
        """The counters, made at first need (their module imports attrs, a slow import)."""
        if self._stats is None:
            from ._stats import Stats

            self._stats = Stats()
        return self._stats

    @property
    def pending(self) -> int:
        engine = self.engine
        return 0 if engine is None else engine.pending

    def _spool(self) -> Spool | None:
        config = self._config()
        if config.spool_dir is None:
            return None
        from ._spool import Spool

        return Spool(config.spool_dir, fsync=config.spool_fsync, max_bytes=config.spool_max_bytes)

    def _attach(self, engine: Engine) -> None:
        """With ``_lock`` held: *engine* runs now."""
        engine.on_stopped = lambda: self._stopped(engine)
        self.engine = engine
        self._on_intake(engine.intake)

    def _started(self, engine: Engine) -> None:
        """A thread engine serves now: calls go straight to its buffer."""
        with self._lock:
            if self.engine is engine:
                self._on_intake(engine.intake)

    def _stopped(self, engine: Engine) -> None:
        """*engine* has stopped: the next tracking call starts a new one."""
        with self._lock:
            if self.engine is not engine:
                return
            self.engine = None
            self._on_intake(None)
        self._log_summary()

    def start(self) -> Intake:
        """Thread mode, on the first tracking call made outside ``async with``."""
        with self._lock:
            if self.engine is not None:
                return self.engine.intake
            config, stats = self._config(), self._stats_now
            engine: Engine
            if self._transport() is None and config.api_key is None:
                logger.warning(
                    "AgentSight has no API key (set AGENTSIGHT_API_KEY or pass api_key=): "
                    "tracked events are dropped and counted in stats().dropped_by_reason"
                )
                engine = NullEngine(config, stats)
            else:
                # The spool here: overflow while the thread starts spools too.
                thread = ThreadEngine(
                    config, lambda: make_transport(config, self._transport()), stats, self._spool()
                )
                thread.on_started = lambda: self._started(thread)
                try:
                    thread.start()
                    engine = thread
                except RuntimeError as exc:  # at interpreter exit: never raise into a call
                    logger.error("AgentSight could not start its thread (%s); events dropped", exc)
                    engine = NullEngine(config, stats, "start_failed")
            self._attach(engine)
            return engine.intake

    def _loop_engine(self) -> LoopEngine | None:
        """An engine for the running loop; ``None`` without an API key."""
        from ._engine import LoopEngine

        config = self._config()
        transport = make_transport(config, self._transport())
        if transport is None:
            return None
        return LoopEngine(config, transport, self._stats_now, self._spool())

    async def enter(self) -> None:
        """``async with tracker``: an engine in this loop, unless one runs already."""
        if self.engine is not None:
            # Already running (thread mode, or an outer block): leaving this block
            # flushes; the tracker keeps running for whoever started it.
            self._blocks.append(False)
            return
        engine = self._loop_engine()
        if engine is None:  # no API key: count and drop, as in thread mode
            self.start()
            self._blocks.append(True)
            return
        import anyio

        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        try:
            await task_group.start(engine.serve)
        except BaseException:
            await task_group.__aexit__(None, None, None)
            raise
        engine.task_group = task_group
        with self._lock:
            self._attach(engine)
        self._blocks.append(True)

    async def exit(self, *exc_info: Any) -> None:
        """Leaving ``async with``: stop what this block started, else flush."""
        if self._blocks and not self._blocks.pop():
            await self.flush(self._config().flush_timeout)
            return
        task_group = getattr(self.engine, "task_group", None)
        try:
            await self.aclose()
        finally:  # even when cancelled: the task group must be left where it was entered
            if task_group is not None:
                await task_group.__aexit__(*exc_info)

    async def astart(self) -> None:
        """An engine in the running asyncio loop, in a task of its own."""
        if self.engine is not None:
            return
        if running_backend() != "asyncio":
            raise RuntimeError("astart() needs asyncio; under trio use `async with tracker:`")
        engine = self._loop_engine()
        if engine is None:  # no API key: count and drop, as in thread mode
            self.start()
            return
        import asyncio

        import anyio

        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                await tg.start(engine.serve)
                ready.set_result(None)

        engine.task = task = asyncio.get_running_loop().create_task(main())
        await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        with self._lock:
            self._attach(engine)

    def flush(self, wait: float) -> ReportHandle:
        engine = self.engine
        return completed() if engine is None else engine.flush(wait)

    async def aclose(self) -> None:
        engine = self.engine
        if engine is not None:
            await engine.aclose()  # it detaches itself (_stopped)

    def close(self) -> None:
        engine = self.engine
        if engine is not None:
            engine.close()

    def _log_summary(self) -> None:
        s = self.stats.snapshot(0)
        level = logging.WARNING if s.dropped else logging.INFO
        logger.log(
            level,
            "agentsight stopped: %d sent (%d accepted, %d duplicates, %d rejected), "
            "%d retried, %d spooled, %d replayed, %d dropped %s",
            *(s.sent, s.accepted, s.duplicates, s.rejected, s.retried),
            *(s.spooled, s.replayed, s.dropped, s.dropped_by_reason or ""),
        )

    def after_fork(self) -> None:
        """In a forked child: forget the parent's engine, counts and locks."""
        self._lock = threading.Lock()  # a lock held at the fork would never be released
        if self.engine is not None:
            self.engine.forget()  # the parent's open spool file stays the parent's
        self.engine = self._stats = None
        self._on_intake(None)
        self._blocks = []
        multiprocessing = sys.modules.get("multiprocessing")
        if multiprocessing is not None:
            # A multiprocessing child ends with os._exit: the exit hook never runs there,
            # but multiprocessing's own finalizers do.  Deliver what the child tracked.
            import multiprocessing.util

            multiprocessing.util.Finalize(None, self.close, exitpriority=10)


# -- the interpreter's exit and fork ------------------------------------------------------------

_exit_hook_registered = False


def register_exit_hook() -> None:
    """Run ``close_at_exit`` when the main thread ends, before thread pools shut down.

    A plain ``atexit`` hook runs after ``concurrent.futures`` has closed its
    executors, when asyncio can no longer resolve a host name in a worker
    thread: the last events of a script sent to ``http://localhost`` would
    fail.  ``threading._register_atexit`` (what concurrent.futures uses) runs
    earlier; where it is missing, fall back to ``atexit``.
    """
    global _exit_hook_registered
    if _exit_hook_registered:
        return
    _exit_hook_registered = True
    # concurrent.futures.thread is imported with this module (see the top), so that its
    # own exit hook is registered before ours and runs after it (last registered, first
    # run): the loop's DNS look-ups need its threads.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(_close_at_exit)
            return
        except RuntimeError:  # the interpreter is already shutting down
            pass
    atexit.register(_close_at_exit)


def _close_at_exit() -> None:
    from ._engine import live_thread_engines

    for engine in live_thread_engines():
        pending = engine.pending
        if pending:
            logger.info("agentsight: delivering %d buffered events before exit", pending)
        engine.close()


_fork_callbacks: list[weakref.WeakMethod[Callable[[], None]]] = []


def on_fork(callback: Callable[[], None]) -> None:
    """Call the bound method *callback* in a forked child (held weakly)."""
    _fork_callbacks.append(weakref.WeakMethod(callback))


def _before_fork() -> None:
    from ._engine import wait_for_starts

    wait_for_starts()


def _after_fork_in_child() -> None:
    global _exit_hook_registered
    from ._engine import forget_thread_engines

    forget_thread_engines()
    _exit_hook_registered = False
    alive = []
    for ref in _fork_callbacks:
        callback = ref()
        if callback is not None:
            callback()
            alive.append(ref)
    _fork_callbacks[:] = alive


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
