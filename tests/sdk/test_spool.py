"""The durable spool: real files, torn records, locks between processes, size cap, replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from agentsight import ConversationTracker
from agentsight._spool import Spool, frame, read_records
from tests.sink import KEY, Sink, free_port


def _events(n: int, start: int = 0) -> list[dict[str, object]]:
    return [{"id": f"{i:032x}", "type": "message", "content": f"m{i}"} for i in range(start, n)]


def test_torn_last_record_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A record cut short by a power cut is skipped; every record before it is read."""
    spool = Spool(tmp_path, fsync="always", max_bytes=10**9)
    spool.append(_events(3))
    spool.append(_events(6, 3))
    spool.close()
    (path,) = tmp_path.iterdir()
    whole = path.read_bytes()
    torn = frame(json.dumps(_events(9, 6)).encode())[:-5]
    path.write_bytes(whole + torn)
    claimed = Spool(tmp_path, fsync="never", max_bytes=10**9).claim(path)
    assert claimed is not None
    fd, records = claimed
    os.close(fd)
    events = [event for record in records for event in json.loads(record)]
    assert [e["id"] for e in events] == [f"{i:032x}" for i in range(6)]
    assert "torn" in caplog.text
    flipped = bytearray(whole)
    flipped[-3] ^= 0xFF  # a corrupt payload: its CRC no longer matches
    assert len(list(read_records(bytes(flipped), "x"))) == 1


def test_a_file_is_claimed_by_one_process_only(tmp_path: Path) -> None:
    """While one process holds a spool file, another cannot claim (and so cannot resend) it."""
    writer = Spool(tmp_path, fsync="never", max_bytes=10**9)
    writer.append(_events(2))
    writer.close()
    (path,) = tmp_path.iterdir()
    holder = Spool(tmp_path, fsync="never", max_bytes=10**9).claim(path)
    assert holder is not None
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from agentsight._spool import Spool
        print(Spool({str(tmp_path)!r}, fsync="never", max_bytes=10**9).claim(Path({str(path)!r})))
        """
    )
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert other.stdout.strip() == "None"
    os.close(holder[0])
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert again.stdout.strip().startswith("(")  # free again: claimable


def test_the_file_being_written_is_not_replayed(tmp_path: Path) -> None:
    """A writer's own open file is never claimed; rotating hands it over."""
    spool = Spool(tmp_path, fsync="never", max_bytes=10**9)
    spool.append(_events(1))
    (path,) = tmp_path.iterdir()
    assert spool.claim(path) is None
    spool.rotate()
    claimed = spool.claim(path)
    assert claimed is not None
    os.close(claimed[0])


def test_size_cap_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    """Past max_bytes the oldest files go, and the events in them are counted."""
    spool = Spool(tmp_path, fsync="never", max_bytes=6000)
    for n in range(10):
        spool.append(_events(10 * n + 10, 10 * n))  # about 750 bytes a record
        spool.rotate()  # one file per record
    remaining = 0
    for path, _ in spool.files():
        claimed = spool.claim(path)
        assert claimed is not None
        os.close(claimed[0])
        remaining += sum(len(json.loads(record)) for record in claimed[1])
    assert spool.dropped > 0
    assert spool.dropped + remaining == 100
    assert sum(size for _, size in spool.files()) <= 6000


@pytest.mark.anyio
async def test_outage_spools_then_next_start_replays(tmp_path: Path) -> None:
    """Collector down past spool_after: batches go to disk; the next tracker delivers them."""
    port = free_port()
    sink = Sink(port)
    settings = {
        "api_key": KEY,
        "endpoint": sink.url,
        "spool_dir": tmp_path,
        "spool_after": 0.3,
        "flush_interval": 0.05,
        "retry_initial_delay": 0.05,
        "retry_max_delay": 0.2,
        "shutdown_timeout": 0.5,
    }
    first = ConversationTracker(**settings)  # type: ignore[arg-type]
    async with first:
        for n in range(500):
            await first.track_human_message(f"m{n}", conversation_id="outage")
        with anyio.fail_after(20):
            while first.stats().spooled < 500:  # noqa: ASYNC110 - polling a counter
                await anyio.sleep(0.05)
    assert first.stats().dropped == 0
    assert any(tmp_path.iterdir())
    sink.start()
    try:
        second = ConversationTracker(**settings)  # type: ignore[arg-type]
        async with second:
            await anyio.to_thread.run_sync(sink.wait_for, 500)
            with anyio.fail_after(10):
                while list(tmp_path.iterdir()):  # noqa: ASYNC110 - the file goes once all is sent
                    await anyio.sleep(0.02)
    finally:
        await anyio.to_thread.run_sync(sink.stop)
    assert sorted(e["content"] for e in sink.events) == sorted(f"m{n}" for n in range(500))
    assert sink.resent_after_acceptance == 0
    assert second.stats().replayed == 500
    assert list(tmp_path.iterdir()) == []


def test_full_buffer_spools_plain_calls(tmp_path: Path) -> None:
    """With a spool, a plain call that finds the buffer full goes to disk, not to /dev/null."""
    sink = Sink()  # not started yet
    tracker = ConversationTracker(
        api_key=KEY,
        endpoint=sink.url,
        spool_dir=tmp_path,
        max_buffer=50,
        max_batch_events=10,
        shutdown_timeout=0.5,
    )
    for n in range(2000):
        tracker.track_human_message(f"m{n}", conversation_id="burst")
    tracker.close()
    stats = tracker.stats()
    assert stats.dropped == 0
    assert stats.spooled == 2000 - stats.accepted
    sink.start()
    try:
        replayer = ConversationTracker(api_key=KEY, endpoint=sink.url, spool_dir=tmp_path)
        replayer.track_human_message("hello again", conversation_id="burst")
        sink.wait_for(2001)
        replayer.close()
    finally:
        sink.stop()
    contents = sorted(e["content"] for e in sink.events)
    assert contents == sorted([*(f"m{n}" for n in range(2000)), "hello again"])
