"""Helpers of the security tests: a collector run like ``agentsight serve``, raw sockets.

The collector runs in the test's loop over SQLite (the HTTP layer under
test does not depend on the storage backend; ``tests/server`` runs the
storage contract on both).  It is built with ``create_app`` and started
with ``make_runner``, so the connection timeouts are those of the real
command.  The ``Collector`` of ``tests/server`` is the client side.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import anyio
import attrs
from aiohttp import web
from anyio.abc import SocketStream

from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import ServerOptions, create_app, open_storage
from agentsight.server._run import make_runner
from tests.server.collector_helpers import Collector

__all__ = ["Secured", "read_answer", "read_response", "run_secured"]


@attrs.define
class Secured:
    """A running collector, its application, and a client (``collector``) to talk to it."""

    collector: Collector
    app: web.Application
    port: int


@contextlib.asynccontextmanager
async def run_secured(
    db: Path,
    options: ServerOptions | None = None,
    prepare: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[Secured]:
    """Run a collector on 127.0.0.1 over *db* with projects A and B, one key each.

    *prepare* may change the application before it starts (add a route or
    a middleware).
    """
    options = options or ServerOptions()
    storage = await open_storage(db)
    keys = {}
    for project in ("A", "B"):
        keys[project] = generate_key()
        await storage.create_key(
            project, hash_key(keys[project]), redact(keys[project]), scope="admin"
        )
    app = create_app(storage, options=options)
    if prepare is not None:
        prepare(app)
    runner = make_runner(app, options, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(url) as session:
            yield Secured(Collector(url, session, keys, storage, db, app), app, port)
    finally:
        await runner.cleanup()


async def read_response(stream: SocketStream) -> tuple[int | None, bytes]:
    """Read from a raw connection until it closes: the status of the first answer, all bytes.

    A reset counts as the end (the collector may close with unread bytes from us).
    The status is ``None`` when the collector closed without answering.
    """
    received = b""
    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
        while True:
            received += await stream.receive()
    if not received.startswith(b"HTTP/1.1 "):
        return None, received
    return int(received[9:12]), received


async def read_answer(stream: SocketStream) -> tuple[int, bytes]:
    """Read one answer (status line, headers, a body of Content-Length bytes) from *stream*."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += await stream.receive()
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    while length is not None and len(body) < int(length.group(1)):
        body += await stream.receive()
    return int(head[9:12]), body
