"""Size limits not covered by tests/server/test_limits.py: boundaries, lies, chunks, every route.

Each refusal is checked to store nothing.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from agentsight.server import ServerOptions
from tests.server.collector_helpers import Collector, batch, conversation, message

from .helpers import Secured, read_answer, run_secured

pytestmark = pytest.mark.anyio
KiB, MiB = 1024, 1024 * 1024
SMALL = ServerOptions(max_body_bytes=64 * KiB, max_decompressed_bytes=256 * KiB, max_events=50)


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[Secured]:
    """A collector with small limits: 64 KiB sent, 256 KiB decoded, 50 events."""
    async with run_secured(tmp_path / "small.db", SMALL) as running:
        yield running


def _padded(size: int) -> bytes:
    """A valid one-event batch of exactly *size* bytes (JSON allows trailing blanks)."""
    body = json.dumps(batch(conversation("c1", 0, 0.0))).encode()
    return body + b" " * (size - len(body))


async def _stored(collector: Collector) -> int:
    return len((await collector.listing())["conversations"])


async def _chunks(body: bytes, size: int = 8 * KiB) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _gzip_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(bytes(MiB)) for _ in range(size // MiB)]
    return b"".join([*parts, packer.flush()])


async def test_many_small_events_past_the_default_limit_are_413(secured: Secured) -> None:
    """10,001 tiny events in a small gzip body: refused whole by the default 10,000-event limit."""
    collector = secured.collector
    events = [message("c1", i, 0.0, "x") for i in range(10_001)]
    body = gzip.compress(json.dumps(batch(*events)).encode())
    assert len(body) < ServerOptions().max_body_bytes // 10
    with anyio.fail_after(20):
        status, answer = await collector.post_raw(body, {"Content-Encoding": "gzip"})
    assert (status, answer["error"].split(":")[0]) == (413, "events")
    assert await _stored(collector) == 0


@pytest.mark.parametrize("chunked", [False, True])
async def test_body_limit_is_exact(small: Secured, chunked: bool) -> None:
    """A body of exactly max_body_bytes is stored, one byte more is 413: with and without length."""
    collector = small.collector
    for size, expected in ((64 * KiB + 1, 413), (64 * KiB, 200)):
        body = _padded(size)
        data = _chunks(body) if chunked else body
        async with collector.session.post("/v1/batch", data=data, headers=collector.auth()) as r:
            assert r.status == expected, (size, await r.text())
        assert await _stored(collector) == (expected == 200)


async def test_decompressed_limit_is_exact(small: Secured) -> None:
    """Gzip decoding to exactly max_decompressed_bytes is stored, one byte more is 413."""
    collector = small.collector
    gzip_header = {"Content-Encoding": "gzip"}
    status, answer = await collector.post_raw(gzip.compress(_padded(256 * KiB + 1)), gzip_header)
    assert (status, await _stored(collector)) == (413, 0), answer
    status, answer = await collector.post_raw(gzip.compress(_padded(256 * KiB)), gzip_header)
    assert (status, answer["accepted"]) == (200, 1)


async def test_chunked_gzip_bomb_is_413_without_inflating_it(small: Secured) -> None:
    """A gzip bomb streamed in chunks, with no Content-Length, is refused at the decoded limit."""
    collector = small.collector
    bomb = _gzip_zeros(128 * MiB)  # 128 KiB of gzip, 256 KiB decoded limit
    headers = {**collector.auth(), "Content-Encoding": "gzip"}
    tracemalloc.start()
    try:
        with anyio.fail_after(10):
            post = collector.session.post("/v1/batch", data=_chunks(bomb), headers=headers)
            async with post as r:
                status, answer = r.status, await r.json()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, answer["error"].endswith("once decompressed")) == (413, True)
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert await _stored(collector) == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("PATCH", "/v1/conversations/c1"), ("POST", "/v1/conversations/c1/feedback")],
)
async def test_every_body_route_has_the_limits(small: Secured, method: str, path: str) -> None:
    """The management routes refuse an oversized body and a gzip bomb like /v1/batch does."""
    collector = small.collector
    await collector.send(conversation("c1", 0, 0.0))
    headers = {**collector.auth(), "Content-Type": "application/json"}
    too_big = json.dumps({"metadata": {"k": "x" * 70 * KiB}}).encode()
    async with collector.session.request(method, path, data=too_big, headers=headers) as r:
        assert r.status == 413
    bomb = _gzip_zeros(8 * MiB)
    gzipped = {**headers, "Content-Encoding": "gzip"}
    async with collector.session.request(method, path, data=bomb, headers=gzipped) as r:
        assert (r.status, (await r.json())["error"].endswith("once decompressed")) == (413, True)
    answer = await collector.conversation("c1")
    assert (answer["conversation"]["metadata"], answer["conversation"]["feedback"]) == (None, [])


async def test_content_length_past_the_limit_is_refused_before_the_body(small: Secured) -> None:
    """A Content-Length of 1 GiB is answered 413 at once: the collector never waits for it."""
    stream = await anyio.connect_tcp("127.0.0.1", small.port)
    async with stream:
        head = (
            "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {small.collector.keys['A']}\r\n"
            f"Content-Length: {1024**3}\r\n\r\n"
        )
        await stream.send(head.encode())
        with anyio.fail_after(5):
            status, body = await read_answer(stream)
    assert status == 413, body
    assert await _stored(small.collector) == 0


@pytest.mark.parametrize("one_write", [False, True])
async def test_content_length_shorter_than_the_body_stores_only_what_it_covers(
    small: Secured, one_write: bool
) -> None:
    """Bytes past the Content-Length are parsed as a new request and refused: never stored."""
    first = json.dumps(batch(conversation("counted", 0, 0.0))).encode()
    smuggled = json.dumps(batch(conversation("smuggled", 0, 0.0))).encode()
    key = small.collector.keys["A"]
    head = (
        "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: {len(first)}\r\n\r\n"
    )
    stream = await anyio.connect_tcp("127.0.0.1", small.port)
    async with stream:
        with anyio.fail_after(5):
            if one_write:  # parsed in one go: the whole segment is refused
                await stream.send(head.encode() + first + smuggled)
                statuses = [(await read_answer(stream))[0]]
            else:
                await stream.send(head.encode() + first)
                statuses = [(await read_answer(stream))[0]]
                await stream.send(smuggled)
                statuses.append((await read_answer(stream))[0])
    assert statuses == ([400] if one_write else [200, 400])
    listed = (await small.collector.listing())["conversations"]
    assert [c["conversation_id"] for c in listed] == ([] if one_write else ["counted"])


@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 10\r\nContent-Length: 20\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: 1e3\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
    ],
)
async def test_ambiguous_framing_is_400(small: Secured, framing: str) -> None:
    """Conflicting or malformed body framing (the stuff of request smuggling) is refused."""
    key = small.collector.keys["A"]
    head = (
        "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\n{framing}\r\n"
    )
    stream = await anyio.connect_tcp("127.0.0.1", small.port)
    async with stream:
        await stream.send(head.encode() + b"0123456789" * 2)
        with anyio.fail_after(5):
            status, body = await read_answer(stream)
    assert status == 400, body
    assert await _stored(small.collector) == 0
