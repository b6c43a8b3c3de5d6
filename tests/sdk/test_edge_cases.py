"""Edge cases a review found: cancellation at exit, a failing spool, late flushes, exits."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import anyio
import pytest

from agentsight import ConversationTracker
from tests.sink import KEY, Sink

pytestmark = pytest.mark.anyio


async def test_cancelled_while_leaving_async_with_still_delivers(sink: Sink) -> None:
    """The app is cancelled inside `async with tracker`: no scope errors, events delivered."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=10)
    with anyio.move_on_after(0.2):
        async with tracker:
            for n in range(500):
                await tracker.track_human_message(f"m{n}", conversation_id="cancelled")
            await anyio.sleep(10)  # cancelled here, with everything still buffered
    assert len(sink.events) == 500
    assert tracker.stats().dropped == 0


async def test_flush_report_counts_batches_answered_while_waiting(sink: Sink) -> None:
    """A flush right after 1,000 events reports them, even if batches left before its marker."""
    async with ConversationTracker(
        api_key=KEY, endpoint=sink.url, max_batch_events=100, flush_interval=0.01
    ) as tracker:
        for n in range(1000):
            tracker.track_human_message(f"m{n}", conversation_id="report")
        report = await tracker.send_tracked_data()
    assert report.complete
    assert report.accepted == 1000


async def test_flush_after_the_engine_stopped_does_not_hang(sink: Sink) -> None:
    """A flush that reaches an engine after its shutdown returns at once with a report."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url)
    async with tracker:
        engine = tracker._lifecycle.engine
        assert engine is not None
        await tracker.track_human_message("hi", conversation_id="late")
    with anyio.fail_after(1):
        report = await engine.flush(30.0)
    assert report.sent == 0 and report.pending == 0
    assert len(sink.events) == 1  # delivered by the shutdown, not by the late flush


def test_unwritable_spool_keeps_retrying_in_memory(sink: Sink, tmp_path: Path) -> None:
    """A spool that cannot be written (read-only directory): retried in memory, not lost."""
    if os.geteuid() == 0:
        spool = Path("/proc/agentsight-spool")  # even root cannot create files in /proc
    else:
        spool = tmp_path / "ro"
        spool.mkdir()
        spool.chmod(0o500)
    port_sink = Sink()  # down for now
    tracker = ConversationTracker(
        api_key=KEY,
        endpoint=port_sink.url,
        spool_dir=tmp_path / "ok",  # created fine; replaced below by an unwritable one
        spool_after=0.1,
        retry_initial_delay=0.05,
        retry_max_delay=0.2,
        flush_interval=0.05,
    )
    from agentsight._spool import Spool

    unwritable = Spool(tmp_path / "ok", fsync="never", max_bytes=10**9)
    unwritable.directory = spool  # every new file now fails to be created
    tracker._lifecycle._spool = lambda: unwritable  # type: ignore[method-assign]
    for n in range(100):
        tracker.track_human_message(f"m{n}", conversation_id="ro")
    threading.Event().wait(1.0)  # past spool_after: spooling was tried and failed
    port_sink.start()
    try:
        report = tracker.send_tracked_data(timeout=20).result()
        tracker.close()
        assert report.complete
        assert len(port_sink.events) == 100
        assert tracker.stats().dropped == 0
    finally:
        port_sink.stop()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_stats_is_safe_while_the_loop_changes_batches() -> None:
    """stats() reads the unanswered batches while the loop's senders add and remove them."""
    from agentsight._config import resolve_config
    from agentsight._service import Service
    from agentsight._stats import Stats
    from agentsight.transports import Batch, InMemoryTransport

    service = Service(resolve_config({}), InMemoryTransport(), Stats())
    unfinished = service.delivery.unfinished
    batch = Batch(body=b"", gzipped=False, ids=("x",) * 10)
    unfinished.update(dict.fromkeys(range(2000), batch))
    stop = threading.Event()

    def churn() -> None:  # what the senders do to the dict, as fast as possible
        number = 2000
        while not stop.is_set():
            unfinished[number] = batch
            del unfinished[number - 2000]
            number += 1

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        for _ in range(3000):
            assert service.pending in (20_000, 20_010)  # mid-churn: one batch more
    finally:
        stop.set()
        churner.join()
        service.buffer.leftovers()  # closes the stream


def test_script_exit_delivers_to_a_host_name(sink: Sink) -> None:
    """A script ending right after tracking, endpoint `localhost`: delivered (DNS at exit)."""
    endpoint = sink.url.replace("127.0.0.1", "localhost")
    code = (
        "from agentsight import conversation_tracker as t\n"
        f"t.configure(api_key={KEY!r}, endpoint={endpoint!r}, flush_interval=5)\n"
        "t.track_human_message('bye', conversation_id='exit')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [e["content"] for e in sink.wait_for(1)] == ["bye"]


_POOL_TRACKER: list[ConversationTracker] = []


def _pool_task(n: int) -> int:
    _POOL_TRACKER[0].track_human_message(f"from worker {n}", conversation_id=f"pool-{n}")
    return n


def test_multiprocessing_pool_workers_deliver(sink: Sink) -> None:
    """Events tracked in fork-started Pool workers are delivered when the workers end."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=5)
    _POOL_TRACKER[:] = [tracker]
    tracker.track_human_message("parent", conversation_id="pool-parent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "process has threads"
        context = multiprocessing.get_context("fork")
        with context.Pool(2, maxtasksperchild=2) as pool:
            assert sorted(pool.map(_pool_task, range(6))) == list(range(6))
            pool.close()
            pool.join()
    tracker.close()
    contents = sorted(e["content"] for e in sink.wait_for(7))
    assert contents == sorted(["parent", *(f"from worker {n}" for n in range(6))])


async def test_big_messages_keep_batches_under_max_batch_bytes(sink: Sink) -> None:
    """128 messages of 100,000 characters: split into batches under max_batch_bytes."""
    async with ConversationTracker(api_key=KEY, endpoint=sink.url) as tracker:
        for n in range(128):
            await tracker.track_human_message(str(n % 10) * 100_000, conversation_id="big")
    assert len(sink.events) == 128
    assert sink.max_body <= 4 * 1024 * 1024 + 300_000  # one chunk of slack at most


def test_running_backend_during_another_threads_import_of_asyncio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While thread mode's own thread imports asyncio, a tracking call on another thread sees
    a half-imported module in sys.modules: asking which loop runs here must not raise into
    the call (it did, under load: `partially initialized module 'asyncio'`)."""
    import types

    from agentsight._loops import running_backend

    monkeypatch.setitem(sys.modules, "asyncio", types.ModuleType("asyncio"))
    monkeypatch.setitem(sys.modules, "trio", types.ModuleType("trio"))
    assert running_backend() is None
