"""Where sqlite3 calls run: one writer thread, and a small pool of readers.

sqlite3 blocks, so none of it may run in the event loop.  All writes go
through one connection on one thread, in order: SQLite takes one writer at a
time anyway, and a single thread avoids lock hand-offs between connections.
In WAL mode readers do not wait for the writer, so reads use their own
connections on a few pool threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["ReaderPool", "SpareReader", "WriterThread"]

T = TypeVar("T")
Connect = Callable[[], sqlite3.Connection]
_Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class WriterThread:
    """Runs jobs one after another on a single connection owned by one thread."""

    def __init__(self, connect: Connect) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, args=(connect,), name="agentsight-sqlite-writer", daemon=True
        )
        self._thread.start()

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run *job* on the writer connection and return its result.

        The job runs to its end even if the caller is cancelled, so a batch
        whose client went away is still committed (and later counted as duplicates).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, loop, future))
        return await future

    async def aclose(self) -> None:
        """Let queued jobs finish, then stop the thread and close its connection."""
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self, connect: Connect) -> None:
        connection = connect()
        try:
            while (item := self._jobs.get()) is not None:
                job, loop, future = item
                try:
                    result, error = job(connection), None
                except Exception as exc:
                    result, error = None, exc
                # RuntimeError: the loop is closed, nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, future, result, error)
        finally:
            connection.close()


class ReaderPool:
    """A few threads, each with its own read-only connection."""

    def __init__(self, connect: Connect, size: int = 2) -> None:
        self._connect = connect
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(
            max_workers=size, thread_name_prefix="agentsight-sqlite-read"
        )

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run *job* on a reader connection of a pool thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, job)

    def _call(self, job: Callable[[sqlite3.Connection], T]) -> T:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            connection.execute("PRAGMA query_only = 1")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return job(connection)

    async def aclose(self) -> None:
        """Wait for running reads, then close every reader connection."""
        await asyncio.to_thread(self._pool.shutdown, True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()


class SpareReader:
    """One more reader thread, lent to a request that can split its statements.

    It has two connections: a read-only one for the statements, and one that
    only ever holds the write lock for a moment, so that both threads start
    their transactions on the same commit (see ``_metrics``).  A request
    claims it without waiting, or goes alone; once claimed, it waits for the
    write lock at most the lock connection's busy timeout.
    """

    def __init__(self, connect: Connect, lock: Connect) -> None:
        self._connect, self._lock = connect, lock
        self._claimed = threading.Lock()
        #: Statements of metrics requests this thread ran (diagnostics).
        self.statements = 0
        self._connections: list[sqlite3.Connection] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentsight-sqlite-spare")

    def claim(self) -> bool:
        """Whether the caller may use the thread (then :meth:`release` it after)."""
        return self._claimed.acquire(blocking=False)

    def release(self) -> None:
        self._claimed.release()

    def submit(
        self, job: Callable[[sqlite3.Connection, sqlite3.Connection], T]
    ) -> concurrent.futures.Future[T]:
        """Run ``job(reader, lock)`` on the thread, for a caller that claimed it."""
        return self._pool.submit(self._call, job)

    def _call(self, job: Callable[[sqlite3.Connection, sqlite3.Connection], T]) -> T:
        if not self._connections:  # only this thread touches them
            reader = self._connect()
            try:
                reader.execute("PRAGMA query_only = 1")
                self._connections += [reader, self._lock()]
            except BaseException:
                reader.close()
                raise
        reader, lock = self._connections
        return job(reader, lock)

    async def aclose(self) -> None:
        """Wait for the running job, then close both connections."""
        await asyncio.to_thread(self._pool.shutdown, True)
        for connection in self._connections:
            connection.close()
        self._connections.clear()
