"""Thread mode, the buffer rule, no API key, exit and fork."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from agentsight import ConversationTracker
from agentsight.testing import capture_events
from agentsight.transports import InMemoryTransport
from tests.sink import KEY, Sink


def test_no_api_key_warns_once_and_counts_drops(caplog: pytest.LogCaptureFixture) -> None:
    """Without a key nothing raises: one warning, and every event counted as dropped."""
    tracker = ConversationTracker()
    tracker.get_or_create_conversation("c")
    for _ in range(5):
        tracker.track_human_message("hi")
    assert tracker.stats().dropped_by_reason == {"no_api_key": 6}
    warnings = [r for r in caplog.records if "no API key" in r.getMessage()]
    assert len(warnings) == 1
    report = tracker.send_tracked_data().result()
    assert report.sent == 0
    tracker.close()


def test_missing_conversation_generates_one_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A call with no conversation gets a generated id, kept for later calls, one warning."""
    tracker = ConversationTracker()
    with capture_events(tracker) as captured:
        tracker.track_human_message("first")
        tracker.track_agent_message("second")
        events = captured.wait_for(2)
    assert events[0]["conversation_id"].startswith("conv_")
    assert events[0]["conversation_id"] == events[1]["conversation_id"]
    assert len([r for r in caplog.records if "had no conversation" in r.getMessage()]) == 1


def test_token_usage_adds_up() -> None:
    """Token usage is one event per call, and get_token_usage() keeps running totals."""
    tracker = ConversationTracker()
    with capture_events(tracker) as captured:
        tracker.get_or_create_conversation("c")
        tracker.track_token_usage(prompt_tokens=50, completion_tokens=20, total_tokens=70)
        tracker.track_token_usage(prompt_tokens=5, completion_tokens=1, embedding_tokens=3)
        assert tracker.get_token_usage() == {
            "prompt_tokens": 55,
            "completion_tokens": 21,
            "total_tokens": 76,
            "embedding_tokens": 3,
        }
        events = captured.wait_for(3)
    usage = [e for e in events if e["type"] == "token_usage"]
    assert [u["total_tokens"] for u in usage] == [70, 6]


def test_plain_call_drops_when_full_and_counts() -> None:
    """A full buffer: plain calls drop and count (never block), the rest is delivered."""
    sink = Sink()  # not started: the collector is down, so the buffer fills up
    tracker = ConversationTracker(
        api_key=KEY, endpoint=sink.url, max_buffer=100, max_batch_events=10, shutdown_timeout=0.5
    )
    for n in range(1000):
        tracker.track_human_message(f"m{n}", conversation_id="c")
    stats = tracker.stats()
    tracker.close()
    assert stats.dropped_by_reason["buffer_full"] > 0
    assert stats.dropped_by_reason["buffer_full"] + stats.queued == 1000


@pytest.mark.anyio
async def test_awaited_call_waits_for_room() -> None:
    """A full buffer: awaited calls wait for room, so nothing is dropped."""
    transport = InMemoryTransport()
    tracker = ConversationTracker(transport=transport, max_buffer=10, max_batch_events=5)
    async with tracker:
        for n in range(500):
            await tracker.track_human_message(f"m{n}", conversation_id="c")
    assert [e["content"] for e in transport.events] == [f"m{n}" for n in range(500)]
    assert tracker.stats().dropped == 0


@pytest.mark.anyio
async def test_many_tasks_waiting_for_room_all_get_in() -> None:
    """Fifty tasks awaiting calls on a buffer of 10: each waits its turn, none is dropped,
    and each task's own events keep their order."""
    import anyio

    transport = InMemoryTransport()
    tracker = ConversationTracker(transport=transport, max_buffer=10, max_batch_events=5)

    async def talk(task: int) -> None:
        for n in range(40):
            await tracker.track_human_message(f"{n}", conversation_id=f"c{task}")

    async with tracker:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for task in range(50):
                    tg.start_soon(talk, task)
    assert tracker.stats().dropped == 0
    for task in range(50):
        mine = [e["content"] for e in transport.events if e["conversation_id"] == f"c{task}"]
        assert mine == [f"{n}" for n in range(40)]


def test_exit_delivers_50000_buffered_events(sink: Sink) -> None:
    """A script that tracks 50,000 events and just ends: atexit delivers them all."""
    script = textwrap.dedent(
        """
        from agentsight import conversation_tracker as t
        t.get_or_create_conversation("exit-test")
        for n in range(49_999):
            t.track_human_message(f"m{n}")
        """
    )
    env = {**os.environ, "AGENTSIGHT_API_KEY": KEY, "AGENTSIGHT_API_ENDPOINT": sink.url}
    done = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert done.returncode == 0
    assert len(sink.wait_for(50_000, timeout=10)) == 50_000


_FORKED: list[ConversationTracker] = []


def _child() -> None:
    t = _FORKED[0]  # the parent's tracker, inherited with its thread gone
    for n in range(100):
        t.track_human_message(f"child {n}", conversation_id="child")
    report = t.send_tracked_data().result()
    os._exit(0 if report.complete else 3)


def test_fork_child_delivers_its_own_events(sink: Sink) -> None:
    """After fork the child starts a fresh pipeline; parent and child each deliver their own."""
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=0.05)
    _FORKED[:] = [tracker]
    for n in range(100):
        tracker.track_human_message(f"parent {n}", conversation_id="parent")
    process = multiprocessing.get_context("fork").Process(target=_child)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "this process has threads"
        process.start()
    process.join(60)
    assert process.exitcode == 0
    for n in range(100, 200):
        tracker.track_human_message(f"parent {n}", conversation_id="parent")
    assert tracker.send_tracked_data().result().complete
    tracker.close()
    events = sink.wait_for(300)
    contents: dict[str, Any] = {}
    for event in events:
        contents.setdefault(event["conversation_id"], []).append(event["content"])
    assert sorted(contents["parent"]) == sorted(f"parent {n}" for n in range(200))
    assert sorted(contents["child"]) == sorted(f"child {n}" for n in range(100))
    assert sink.resent_after_acceptance == 0


@pytest.mark.anyio
async def test_thread_mode_from_async_code_does_not_block(sink: Sink) -> None:
    """Plain calls in async code without `async with` use the thread; flush returns a handle."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=0.05)
    tracker.track_human_message("hello", conversation_id="c")
    handle = tracker.send_tracked_data()  # plain call on a loop thread: must not block
    report = await handle
    assert report.complete
    await tracker.aclose()
    assert [e["content"] for e in sink.events] == ["hello"]
    await anyio.lowlevel.checkpoint()


def _write_syscalls() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("syscw"))


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io")
def test_thread_mode_hand_off_costs_no_system_call_per_event() -> None:
    """20,000 plain calls from a thread wake the tracker's thread a handful of times, not 20,000."""
    transport = InMemoryTransport()  # no network: the only writes are wake-ups
    tracker = ConversationTracker(transport=transport, max_buffer=30_000)
    tracker.track_human_message("start", conversation_id="syscalls")  # starts the thread
    tracker.flush().result()
    before = _write_syscalls()
    for n in range(20_000):
        tracker.track_human_message(f"m{n}", conversation_id="syscalls")
    during = _write_syscalls() - before
    tracker.close()
    assert len(transport.events) == 20_001
    print(f"write system calls during 20,000 plain calls: {during}")
    assert during < 2_000, during  # one wake-up per burst the thread drains, not per event


def test_first_call_leaves_the_start_to_a_thread_of_its_own(sink: Sink) -> None:
    """The first plain call returns before aiohttp and anyio are imported: the tracker's
    threads import them and start its loop (100-300 ms a web app's first request skips)."""
    script = textwrap.dedent(
        """
        import sys, threading
        importers = {}

        class Watch:  # records which thread imports what; imports nothing itself
            def find_spec(self, name, path=None, target=None):
                if name in ("aiohttp", "anyio", "attr", "agentsight._service"):
                    importers.setdefault(name, threading.current_thread().name)
                return None

        sys.meta_path.insert(0, Watch())
        from agentsight import ConversationTracker
        tracker = ConversationTracker(api_key=sys.argv[1], endpoint=sys.argv[2])
        tracker.track_human_message("first", conversation_id="start")
        report = tracker.flush().result()
        tracker.close()
        print(report.complete, *sorted(importers.items()))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, KEY, sink.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # The starter thread imports aiohttp, anyio and attrs (the counters) and starts the
    # portal, whose thread ("agentsight") runs the loop and builds the service there.
    assert done.stdout.split() == [
        "True",
        "('agentsight._service',",
        "'agentsight')",
        "('aiohttp',",
        "'agentsight-start')",
        "('anyio',",
        "'agentsight-start')",
        "('attr',",
        "'agentsight-start')",
    ], done.stderr
    assert [e["content"] for e in sink.events] == ["first"]


def test_events_tracked_while_starting_are_all_delivered(sink: Sink) -> None:
    """Calls made while the tracker's thread starts are buffered and handed over; stats()
    counts them, and a flush right after them waits for the start and reports them."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url)
    for n in range(300):
        tracker.track_human_message(f"m{n}", conversation_id="starting")
    assert tracker.stats().queued + tracker.stats().sent == 300
    report = tracker.flush().result()
    tracker.close()
    assert report.complete
    assert report.sent == 300
    delivered = sorted(sink.events, key=lambda e: e["seq"])
    assert [(e["seq"], e["content"]) for e in delivered] == [(n, f"m{n}") for n in range(300)]


def test_script_ending_right_after_its_first_calls_delivers_them(sink: Sink) -> None:
    """Three calls and the end of the script, while thread mode is still starting: the exit
    hook waits for the start (no thread is started at exit: Python 3.12 refuses that)."""
    script = textwrap.dedent(
        """
        import sys
        from agentsight import ConversationTracker
        tracker = ConversationTracker(api_key=sys.argv[1], endpoint=sys.argv[2])
        for n in range(3):
            tracker.track_human_message(f"m{n}", conversation_id="short")
        """
    )
    subprocess.run([sys.executable, "-c", script, KEY, sink.url], timeout=60, check=True)
    assert sorted(e["content"] for e in sink.events) == ["m0", "m1", "m2"]


def test_fork_right_after_the_first_call_gives_a_working_child(sink: Sink) -> None:
    """A fork while the tracker's thread is importing: the fork waits for the start, so the
    child imports aiohttp itself (no lock of a lost thread) and delivers its own events."""
    script = textwrap.dedent(
        """
        import os, sys
        from agentsight import ConversationTracker
        tracker = ConversationTracker(api_key=sys.argv[1], endpoint=sys.argv[2])
        tracker.track_human_message("parent", conversation_id="fork")
        pid = os.fork()
        if pid == 0:
            import aiohttp.web  # hung in a child forked mid-import
            tracker.track_human_message("child", conversation_id="fork-child")
            report = tracker.flush().result()
            tracker.close()
            os._exit(0 if report.complete and report.sent == 1 else 3)
        _, status = os.waitpid(pid, 0)
        tracker.close()
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    subprocess.run([sys.executable, "-c", script, KEY, sink.url], timeout=60, check=True)
    assert sorted(e["content"] for e in sink.events) == ["child", "parent"]


@pytest.mark.anyio
async def test_flush_on_a_loop_while_thread_mode_starts_never_blocks_it(sink: Sink) -> None:
    """Thread mode used from async code: a flush right after the first call returns a
    handle at once (the start is still running) that, awaited, reports the delivery."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url)
    tracker.track_human_message("first", conversation_id="loop-flush")
    handle = tracker.flush()
    assert not handle.done()  # it did not wait here for the start
    report = await handle
    await tracker.aclose()
    assert report.complete
    assert report.sent == 1
    assert [e["content"] for e in sink.events] == ["first"]


@pytest.mark.anyio
async def test_malformed_api_key_warns_when_the_tracker_starts(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    """A key without our format, or with one wrong character, warns once at start and says
    which (the collector would refuse it); a well-formed one does not."""
    typo = KEY[:10] + ("0" if KEY[10] != "0" else "1") + KEY[11:]  # the right shape
    for key in ("not-a-key", typo, KEY):
        async with ConversationTracker(api_key=key, endpoint=sink.url, shutdown_timeout=0.2):
            pass
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("api_key:")]
    assert len(warned) == 2, warned
    assert "expected an AgentSight key" in warned[0]
    assert "checksum does not match: a character is wrong" in warned[1]


def _tracker_threads() -> list[Any]:
    import threading

    return [t for t in threading.enumerate() if t.name == "agentsight"]


@pytest.mark.anyio
async def test_async_with_on_a_running_thread_mode_tracker_flushes_and_keeps_it(
    sink: Sink,
) -> None:
    """`async with` around a tracker already running in thread mode: leaving the block
    delivers what is buffered, and the tracker's thread keeps running (not restarted)."""
    tracker = ConversationTracker(api_key=KEY, endpoint=sink.url, flush_interval=30)
    try:
        tracker.track_human_message("before", conversation_id="c")  # starts thread mode
        await tracker.flush()
        threads = _tracker_threads()
        assert len(threads) == 1
        async with tracker:
            tracker.track_human_message("inside", conversation_id="c")
        # Delivered on leaving the block, long before flush_interval.
        assert {e["content"] for e in sink.events} == {"before", "inside"}
        tracker.track_human_message("after", conversation_id="c")
        await tracker.flush()
        assert _tracker_threads() == threads
        assert [e["content"] for e in sink.events][-1] == "after"
    finally:
        await anyio.to_thread.run_sync(tracker.close)


@pytest.mark.anyio
async def test_nested_async_with_keeps_the_outer_block_running() -> None:
    """An inner `async with` of the same tracker flushes on exit; the outer block's runtime
    keeps going in the loop (no thread mode starts), and its exit delivers the rest."""
    transport = InMemoryTransport()
    tracker = ConversationTracker(transport=transport, flush_interval=30)
    async with tracker:
        async with tracker:
            tracker.track_human_message("inner", conversation_id="c")
        assert [e["content"] for e in transport.events] == ["inner"]
        tracker.track_human_message("outer", conversation_id="c")
        assert _tracker_threads() == []
    assert [e["content"] for e in transport.events] == ["inner", "outer"]
