"""The tracked process is killed, exits, forks, or outlives a long outage: nothing is lost."""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
import warnings
from pathlib import Path

import anyio
import pytest

from agentsight import ConversationTracker
from tests.e2e.collector import CollectorProcess
from tests.faults.helpers import (
    Record,
    figures_line,
    start_workload,
    stored_messages,
    workload,
)

pytestmark = pytest.mark.anyio


def _replay(collector: CollectorProcess, spool: Path) -> int:
    """Start a tracker on *spool* and wait until the spool is empty; events replayed."""
    tracker = ConversationTracker(
        api_key=collector.keys["A"], endpoint=collector.url, spool_dir=spool
    )
    tracker.track_human_message("replayer", conversation_id="replayer")  # starts it
    deadline = time.monotonic() + 60
    while list(spool.glob("spool-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    tracker.close()
    return tracker.stats().replayed


async def test_sigkilled_process_with_strict_spool_loses_nothing_spooled(
    collector: CollectorProcess, tmp_path: Path, figures: Record
) -> None:
    """SIGKILL after events reached a spool with fsync=always: the next process delivers them."""
    spool = tmp_path / "spool"
    collector.stop()  # the collector is down: batches go to the spool after spool_after
    process = start_workload(
        collector.url, collector.keys["A"], "--events", "5000", "--spool", str(spool),
        "--fsync", "always", "--spool-after", "0.2", "--prefix", "killed",
        "--hang-when-spooled",
    )  # fmt: skip
    assert process.stdout is not None
    line = await anyio.to_thread.run_sync(process.stdout.readline)
    assert line.strip() == "SPOOLED 5000", line
    process.send_signal(signal.SIGKILL)
    await anyio.to_thread.run_sync(process.wait)
    process.stdout.close()
    assert process.stderr is not None
    process.stderr.close()
    await anyio.to_thread.run_sync(collector.start)
    replayed = await anyio.to_thread.run_sync(_replay, collector, spool)
    stored = await anyio.to_thread.run_sync(stored_messages, collector, "killed-")
    figures(
        figures_line(
            "tracked process SIGKILLed, spool fsync=always",
            spooled_before_kill=5000,
            replayed=replayed,
            stored=sum(stored.values()),
            lost=5000 - sum(stored.values()),
        )
    )
    assert sum(stored.values()) == 5000
    assert replayed == 5000


async def test_30s_outage_with_small_buffer_spools_and_delivers_all(
    collector: CollectorProcess, tmp_path: Path, figures: Record
) -> None:
    """Collector down 30 s, 1,000 events/s, buffer of 2,000: spooled, all delivered, RSS bounded."""
    spool = tmp_path / "spool"
    process = start_workload(
        collector.url, collector.keys["A"], "--events", "45000", "--rate", "1000",
        "--spool", str(spool), "--spool-after", "1", "--max-buffer", "2000",
        "--prefix", "outage",
    )  # fmt: skip
    await anyio.sleep(3)
    await anyio.to_thread.run_sync(collector.kill)
    down_at = time.monotonic()
    await anyio.sleep(30)
    await anyio.to_thread.run_sync(collector.start)
    down_for = time.monotonic() - down_at
    out, err = await anyio.to_thread.run_sync(lambda: process.communicate(timeout=120))
    assert process.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    leftover = await anyio.to_thread.run_sync(_replay, collector, spool)
    stored = await anyio.to_thread.run_sync(stored_messages, collector, "outage-")
    stats = report["stats"]
    figures(
        figures_line(
            "collector down 30 s, buffer 2,000, spool",
            tracked=45_000,
            spooled=stats["spooled"],
            replayed=stats["replayed"] + leftover,
            stored=sum(stored.values()),
            lost=45_000 - sum(stored.values()),
            dropped=stats["dropped"],
            down_seconds=round(down_for, 1),
            peak_rss_mb=report["peak_rss_mb"],
        )
    )
    assert sum(stored.values()) == 45_000
    assert stats["dropped"] == 0 and stats["spooled"] > 20_000
    # The bound: the backlog is on disk, not in memory ("peak" says when RSS peaked).
    assert report["peak_rss_mb"] < 150, report["peak"]


async def test_exit_with_50000_buffered_delivers_everything(
    collector: CollectorProcess, tmp_path: Path, figures: Record
) -> None:
    """A process tracks 50,000 events flat out and exits: all delivered, or spooled and replayed."""
    spool = tmp_path / "spool"
    args = ("--events", "50000", "--spool", str(spool), "--prefix", "exit")
    report = await anyio.to_thread.run_sync(
        lambda: workload(collector.url, collector.keys["A"], *args)
    )
    replayed = await anyio.to_thread.run_sync(_replay, collector, spool)
    stored = await anyio.to_thread.run_sync(stored_messages, collector, "exit-")
    stats = report["stats"]
    figures(
        figures_line(
            "exit with 50,000 buffered",
            tracked=50_000,
            delivered_before_exit=stats["accepted"],
            spooled=stats["spooled"],
            replayed_by_next=replayed,
            stored=sum(stored.values()),
            lost=50_000 - sum(stored.values()),
        )
    )
    assert sum(stored.values()) == 50_000
    assert stats["dropped"] == 0


_FORK_TRACKER: list[ConversationTracker] = []


def _child_work() -> None:
    tracker = _FORK_TRACKER[0]
    for n in range(2000):
        tracker.track_human_message(f"{n}", conversation_id=f"fork-child-{n % 4}")
    tracker.close()


async def test_fork_mid_tracking_both_deliver_their_own(
    collector: CollectorProcess, figures: Record
) -> None:
    """A fork while tracking: parent and child each deliver exactly their own events."""
    tracker = ConversationTracker(
        api_key=collector.keys["A"], endpoint=collector.url, flush_interval=0.05
    )
    _FORK_TRACKER[:] = [tracker]
    for n in range(2000):
        tracker.track_human_message(f"{n}", conversation_id=f"fork-parent-{n % 4}")
    context = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: "process has threads"
        child = context.Process(target=_child_work)
        child.start()
    for n in range(2000, 4000):
        tracker.track_human_message(f"{n}", conversation_id=f"fork-parent-{n % 4}")
    await anyio.to_thread.run_sync(child.join, 60)
    await tracker.aclose()
    parent = await anyio.to_thread.run_sync(stored_messages, collector, "fork-parent-")
    children = await anyio.to_thread.run_sync(stored_messages, collector, "fork-child-")
    figures(
        figures_line(
            "fork mid-tracking",
            parent_tracked=4000,
            parent_stored=sum(parent.values()),
            child_tracked=2000,
            child_stored=sum(children.values()),
            child_exit_code=child.exitcode,
        )
    )
    assert child.exitcode == 0
    assert parent == {f"fork-parent-{k}": 1000 for k in range(4)}
    assert children == {f"fork-child-{k}": 500 for k in range(4)}
