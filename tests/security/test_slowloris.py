"""Slow-loris clients: bodies and headers dribbled byte by byte are cut off in bounded time.

Meanwhile a normal client on another connection is served as usual.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketStream

from agentsight.server import ServerOptions
from tests.server.collector_helpers import batch, conversation

from .helpers import Secured, read_response, run_secured

pytestmark = pytest.mark.anyio
BODY_TIMEOUT, IDLE_TIMEOUT = 1.0, 1.5
#: The collector closes a slow connection within its timeout plus this much.
SLACK = 1.5


@pytest.fixture
async def slow(tmp_path: Path) -> AsyncIterator[Secured]:
    """A collector that allows 1 s for a body and 1.5 s for headers (or idling)."""
    options = ServerOptions(body_timeout=BODY_TIMEOUT, idle_timeout=IDLE_TIMEOUT)
    async with run_secured(tmp_path / "slow.db", options) as running:
        yield running


def _head(secured: Secured, framing: str, authorized: bool = True) -> bytes:
    auth = f"Authorization: Bearer {secured.collector.keys['A']}\r\n" if authorized else ""
    return f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}{framing}\r\n".encode()


async def _dribble(stream: SocketStream, data: bytes, every: float = 0.05) -> None:
    """Send *data* a byte at a time until it is sent or the collector hangs up."""
    try:
        for index in range(len(data)):
            await stream.send(data[index : index + 1])
            await anyio.sleep(every)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
        pass


async def _slow_client(secured: Secured, head: bytes, body: bytes) -> tuple[int | None, float]:
    """Send *head* at once, dribble *body*; the status (``None``: closed) and seconds to close."""
    started = time.monotonic()
    stream = await anyio.connect_tcp("127.0.0.1", secured.port)
    async with stream, anyio.create_task_group() as group:
        await stream.send(head)
        group.start_soon(_dribble, stream, body)
        status, _ = await read_response(stream)
        group.cancel_scope.cancel()
    return status, time.monotonic() - started


async def _normal_client_is_served(secured: Secured) -> None:
    """Health and a batch answer promptly on another connection."""
    await anyio.sleep(0.3)  # the slow clients are connected and dribbling by now
    started = time.monotonic()
    status, _ = await secured.collector.call("GET", "/v1/health", project=None)
    answer = await secured.collector.send(conversation("normal", 0, 0.0))
    assert (status, answer["accepted"]) == (200, 1)
    assert time.monotonic() - started < 0.5


CHUNKED_BODY = b"".join(b"1\r\n" + bytes([c]) + b"\r\n" for c in b"x" * 200) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("framing", "body"),
    [("Content-Length: 200\r\n", b"x" * 200), ("Transfer-Encoding: chunked\r\n", CHUNKED_BODY)],
    ids=["content-length", "chunked"],
)
async def test_slow_body_is_cut_off_with_408(slow: Secured, framing: str, body: bytes) -> None:
    """A body dribbled past body_timeout gets 408 and a closed connection; others are served."""
    results: list[tuple[int | None, float]] = []

    async def slow_client() -> None:
        results.append(await _slow_client(slow, _head(slow, framing), body))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(slow_client)
            group.start_soon(_normal_client_is_served, slow)
    [(status, seconds)] = results
    assert status == 408
    assert BODY_TIMEOUT <= seconds < BODY_TIMEOUT + SLACK, seconds
    listed = (await slow.collector.listing())["conversations"]
    assert [c["conversation_id"] for c in listed] == ["normal"]


async def test_slow_headers_are_cut_off(slow: Secured) -> None:
    """Headers dribbled past idle_timeout: the connection is closed, no request is handled."""
    head = _head(slow, "X-Padding: " + "y" * 200 + "\r\n")
    results: list[tuple[int | None, float]] = []

    async def slow_client() -> None:
        started = time.monotonic()
        stream = await anyio.connect_tcp("127.0.0.1", slow.port)
        async with stream, anyio.create_task_group() as group:
            group.start_soon(_dribble, stream, head)
            status, _ = await read_response(stream)
            group.cancel_scope.cancel()
        results.append((status, time.monotonic() - started))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(slow_client)
            group.start_soon(_normal_client_is_served, slow)
    [(status, seconds)] = results
    assert status is None
    assert IDLE_TIMEOUT <= seconds < IDLE_TIMEOUT + SLACK, seconds


async def test_many_slow_clients_do_not_starve_a_normal_one(slow: Secured) -> None:
    """50 slow bodies at once: all cut off in bounded time, a normal client served meanwhile."""
    results: list[tuple[int | None, float]] = []
    body = json.dumps(batch(conversation("slow", 0, 0.0))).encode()
    head = _head(slow, f"Content-Length: {len(body)}\r\n")

    async def slow_client() -> None:
        results.append(await _slow_client(slow, head, body))

    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(slow_client)
            group.start_soon(_normal_client_is_served, slow)
    assert len(results) == 50
    assert {status for status, _ in results} == {408}
    assert max(seconds for _, seconds in results) < BODY_TIMEOUT + SLACK
    listed = (await slow.collector.listing())["conversations"]
    assert [c["conversation_id"] for c in listed] == ["normal"]


async def test_unauthenticated_slow_body_is_refused_at_once(slow: Secured) -> None:
    """Without a key the answer is 401 before any of the body is awaited."""
    head = _head(slow, "Content-Length: 200\r\n", authorized=False)
    stream = await anyio.connect_tcp("127.0.0.1", slow.port)
    async with stream:
        await stream.send(head)
        started = time.monotonic()
        with anyio.fail_after(5):
            received = await stream.receive()
        assert received.startswith(b"HTTP/1.1 401 ")
        assert time.monotonic() - started < 0.5
