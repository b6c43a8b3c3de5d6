"""Whole-batch refusals: sizes, gzip, encoding, JSON, schema, storage unavailable."""

from __future__ import annotations

import gzip
import json
import sqlite3
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from agentsight.server import ServerOptions
from tests.server.collector_helpers import Collector, batch, conversation, message, run_collector
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio
KiB, MiB = 1024, 1024 * 1024


def _gzip_zeros(size: int) -> bytes:
    """gzip of *size* zero bytes, built in pieces (it is a bomb: about 1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    piece = bytes(MiB)
    parts = [packer.compress(piece) for _ in range(size // MiB)]
    return b"".join([*parts, packer.flush()])


@pytest.fixture
async def small(database: Database) -> AsyncIterator[Collector]:
    """A collector with small limits."""
    options = ServerOptions(max_body_bytes=64 * KiB, max_decompressed_bytes=1 * MiB, max_events=5)
    async with run_collector(database("small"), options) as running:
        yield running


async def _nothing_stored(collector: Collector) -> None:
    assert (await collector.listing())["conversations"] == []


async def test_gzip_bomb_is_413_without_inflating_it(database: Database) -> None:
    """256 MiB of zeros in 250 KiB of gzip: refused at the 1 MiB decoded limit, memory stays low."""
    bomb = _gzip_zeros(256 * MiB)
    options = ServerOptions(max_decompressed_bytes=1 * MiB)  # body limit at its 10 MiB default
    async with run_collector(database("bomb"), options) as collector:
        tracemalloc.start()
        try:
            with anyio.fail_after(5):
                status, answer = await collector.post_raw(bomb, {"Content-Encoding": "gzip"})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (status, answer["error"].startswith("body: larger than")) == (413, True)
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_gzip_bomb_over_default_limit_is_413(collector: Collector) -> None:
    """With the default limits, 64 MiB of decoded zeros is refused too."""
    with anyio.fail_after(5):
        status, _ = await collector.post_raw(_gzip_zeros(64 * MiB), {"Content-Encoding": "gzip"})
    assert status == 413


async def test_body_too_large_is_413(small: Collector) -> None:
    """A body over the limit is refused, with or without a Content-Length."""
    events = [message("c1", i, 0.0, "x" * 20_000) for i in range(5)]
    body = json.dumps(batch(*events)).encode()
    assert len(body) > 64 * KiB
    status, _ = await small.post_raw(body)
    assert status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8 * KiB):
            yield body[start : start + 8 * KiB]

    async with small.session.post("/v1/batch", data=chunks(), headers=small.auth()) as response:
        assert response.status == 413
    await _nothing_stored(small)


async def test_too_many_events_is_413(small: Collector) -> None:
    """More events than the limit refuses the whole batch."""
    events = [message("c1", i, 0.0) for i in range(6)]
    status, answer = await small.post_raw(json.dumps(batch(*events)).encode())
    assert (status, answer["error"].split(":")[0]) == (413, "events")
    await _nothing_stored(small)


GOOD = json.dumps(batch(conversation("c1", 0, 0.0))).encode()


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400),
        (gzip.compress(GOOD)[:-12], {"Content-Encoding": "gzip"}, 400),
        (gzip.compress(GOOD) + b"trailing", {"Content-Encoding": "gzip"}, 400),
        (GOOD, {"Content-Encoding": "br"}, 415),
        (GOOD[:-2] + b"\xff\xfe}", {}, 400),
        (b"", {}, 400),
        (b"{not json", {}, 400),
        (b"[" * 100_000, {}, 400),
        (b'{"schema": 1, "events": [1e999]}', {}, 400),
        (b'{"schema": 1, "events": [NaN]}', {}, 400),
        (b"[]", {}, 400),
        (b'{"events": []}', {}, 400),
        (b'{"schema": 3, "events": []}', {}, 400),
        (b'{"schema": true, "events": []}', {}, 400),
        (b'{"schema": "1", "events": []}', {}, 400),
        (b'{"schema": 1, "events": {}}', {}, 400),
        (b'{"schema": 1}', {}, 400),
    ],
)
async def test_bad_body_is_refused_whole(
    collector: Collector, body: bytes, headers: dict[str, str], status: int
) -> None:
    """Bad gzip, bad UTF-8, not JSON, wrong schema: a 4xx JSON error and nothing stored."""
    got, answer = await collector.post_raw(body, headers)
    assert got == status, answer
    assert isinstance(answer["error"], str)
    await _nothing_stored(collector)


async def test_empty_batch_is_fine(collector: Collector) -> None:
    """A batch with no events answers zeros."""
    status, answer = await collector.post_raw(b'{"schema": 1, "events": []}')
    assert (status, answer) == (200, {"accepted": 0, "duplicates": 0, "rejected": []})


def _lock(db: Path | str) -> sqlite3.Connection:
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


# SQLite only: the file's write lock (PostgreSQL's outage is in test_postgres.py).
async def test_locked_database_is_503_with_retry_after(tmp_path: Path) -> None:
    """A write lock held past the busy timeout gives 503 + Retry-After; the retry succeeds."""
    async with run_collector(tmp_path / "locked.db", busy_timeout=0.2) as collector:
        holder = await anyio.to_thread.run_sync(_lock, collector.db)
        try:
            body = json.dumps(batch(conversation("c1", 0, 0.0))).encode()
            with anyio.fail_after(5):
                async with collector.session.post(
                    "/v1/batch", data=body, headers=collector.auth()
                ) as response:
                    assert response.status == 503
                    assert int(response.headers["Retry-After"]) > 0
                    assert "error" in await response.json()
        finally:
            await anyio.to_thread.run_sync(holder.close)
        await _nothing_stored(collector)
        status, answer = await collector.post_raw(body)
        assert (status, answer["accepted"]) == (200, 1)
