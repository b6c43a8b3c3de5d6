"""The whole hostile-input suite against one real ``agentsight serve`` process.

Every probe of ``hostile.py`` runs in turn against the same collector
process (SQLite, with a rate limit, so that the lock-out probe has a budget
to exhaust); then its log must hold no traceback, no answer may have been a
500, and its peak memory must have stayed within the documented bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from agentsight._keys import generate_key
from tests.e2e.collector import CollectorProcess
from tests.server.collector_helpers import Collector

from . import hostile

pytestmark = pytest.mark.anyio
RATE, BURST = 500, 3000
#: Peak RSS the collector may reach over the whole suite (its largest bodies
#: are 48 MiB decoded); the bound measured by benchmarks/hostile_bodies.py.
PEAK_RSS_MB = 600


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
async def process(tmp_path: Path) -> AsyncIterator[CollectorProcess]:
    """``agentsight serve`` over a fresh SQLite file, with ``--rate-limit``."""
    args = ["--rate-limit", f"{RATE}:{BURST}"]
    running = await anyio.to_thread.run_sync(
        lambda: CollectorProcess(tmp_path / "whole.db", args=args)
    )
    try:
        yield running
    finally:
        await anyio.to_thread.run_sync(running.stop)


async def probe_bad_keys_do_not_lock_out_live_ones(c: Collector) -> None:
    """Past the failure budget of an address, made-up keys are 429 and live keys still 200."""
    made_up = {"Authorization": f"Bearer {generate_key()}"}
    statuses: list[int] = []
    while 429 not in statuses[-1:]:
        assert len(statuses) < 4 * BURST
        statuses.append(
            (await hostile.call(c, "GET", "/v1/conversations", None, headers=made_up))[0]
        )
    assert set(statuses) == {401, 429}
    for project in ("A", "B"):
        assert (await hostile.call(c, "GET", "/v1/conversations", project))[0] == 200


async def test_whole_suite_against_one_collector_process(
    process: CollectorProcess, figures: Any
) -> None:
    """No hostile input of the suite is a 500 or leaves a traceback in the collector's log."""
    statuses: list[int] = []

    async def on_request_end(session: Any, context: Any, params: Any) -> None:
        statuses.append(params.response.status)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(process.url, trace_configs=[trace], timeout=timeout) as s:
        target = Collector(process.url, s, process.keys, storage=None, db=process.db)  # type: ignore[arg-type]
        for probe in (*hostile.PROBES, probe_bad_keys_do_not_lock_out_live_ones):
            await probe(target)
    log = "".join(process.log)
    assert "Traceback" not in log and "unexpected error" not in log, log[-5000:]
    assert 500 not in statuses
    assert len(statuses) > BURST  # every probe ran
    peak = _peak_rss_mb(process.pid)
    figures(f"hostile suite: {len(statuses)} answers, none a 500; collector peak RSS {peak:.0f} MB")
    assert peak < PEAK_RSS_MB
