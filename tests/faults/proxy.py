"""A loopback proxy in front of the real collector that injects faults on demand."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

from agentsight._loops import PortalThread
from tests.sink import free_port


class FaultProxy:
    """Forwards ``POST /v1/batch`` to the collector, or fails it as told.

    Modes: ``"pass"``; ``"status"`` (answer ``status`` with ``retry_after``,
    without forwarding); ``"slow"`` (hold the request ``delay`` seconds, past
    the client's timeout, then forward it anyway: the collector may store a
    batch whose answer the client never saw); ``"reset"`` (forward, so the
    collector commits, then break the connection in the middle of the answer).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = "pass"
        self.status = 503
        self.retry_after: str | None = None
        self.delay = 0.0
        self.requests: list[tuple[float, str]] = []  # (monotonic time, what was done)
        self._lock = threading.Lock()
        self._thread: PortalThread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def requests_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for at, _ in self.requests if start <= at <= end)

    def _note(self, what: str) -> None:
        with self._lock:
            self.requests.append((time.monotonic(), what))

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes, Any]:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._session.post(
            self.upstream + "/v1/batch", data=body, headers=headers
        ) as answer:
            return answer.status, await answer.read(), answer.headers

    async def _batch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        mode = self.mode
        self._note(mode)
        if mode == "status":
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.json_response({"error": "injected"}, status=self.status, headers=headers)
        if mode == "slow":
            await asyncio.sleep(self.delay)
        status, payload, _ = await self._forward(request, body)
        if mode == "reset":
            response = web.StreamResponse(status=status)
            response.content_length = len(payload)
            await response.prepare(request)
            await response.write(payload[: len(payload) // 2])
            assert request.transport is not None
            request.transport.abort()  # the collector committed; its answer is lost
            return response
        return web.Response(status=status, body=payload, content_type="application/json")

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/batch", self._batch)
        self._runner = web.AppRunner(app, handle_signals=False, auto_decompress=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def start(self) -> FaultProxy:
        self._thread = PortalThread("fault-proxy")
        self._thread.run(self._start()).result(10)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.run(self._stop()).result(30)
            self._thread.stop(cancel=True)
            self._thread = None
