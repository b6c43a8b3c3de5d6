"""A loopback stand-in for the collector's ingest route, for the SDK's tests.

It runs a real aiohttp server on 127.0.0.1 in a thread of its own (so trio
tests and thread-mode tests can use it too), decodes real batches, stores
events by id like the collector does, and can be told to fail: answer a
status with ``Retry-After``, hang, or be down altogether.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from typing import Any

from aiohttp import web

from agentsight._keys import _checksum
from agentsight._loops import PortalThread

_BODY = "0123456789abcdef0123456789abcdef"
KEY = f"ags_{_BODY}_{_checksum(_BODY)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Sink:
    """A fake collector: ``events`` in arrival order, ``requests`` with their answers."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.events: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.received_ids: Counter[str] = Counter()  # every delivery, resends included
        self.requests: list[tuple[float, int]] = []  # (monotonic time, status answered)
        self.fail_with: int | None = None
        self.retry_after: str | None = None
        self.fail_next = 0  # answer fail_with this many times, then succeed
        self.hang = False
        # (status, JSON body, headers) answered without storing anything, to the next
        # answer_next requests (-1: all of them): a server that lies or redirects.
        self.answer: tuple[int, Any, dict[str, str]] | None = None
        self.answer_next = 0
        self.max_body = 0  # the largest (decompressed) body received
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._thread: PortalThread | None = None
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None

    # -- server ----------------------------------------------------------------------------

    async def _batch(self, request: web.Request) -> web.Response:
        if self.hang:
            assert self._release is not None
            await self._release.wait()  # until stop(): then answer 503
            return web.json_response({"error": "was hung"}, status=503)
        with self.lock:
            answer = self.answer if self.answer_next != 0 else None
            if answer is not None:
                self.answer_next -= 1
            failing = self.fail_with is not None and (self.fail_next > 0 or self.fail_next < 0)
            if failing:
                self.fail_next -= 1
        if answer is not None:
            await request.read()
            self._record(answer[0])
            return web.json_response(answer[1], status=answer[0], headers=answer[2])
        if failing:
            assert self.fail_with is not None
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            self._record(self.fail_with)
            return web.json_response(
                {"error": "failing on purpose"}, status=self.fail_with, headers=headers
            )
        raw = await request.read()  # aiohttp has already undone Content-Encoding: gzip
        self.max_body = max(self.max_body, len(raw))
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        accepted = duplicates = 0
        with self.changed:
            for event in body["events"]:
                self.received_ids[event["id"]] += 1
                if event["id"] in self.by_id:
                    duplicates += 1
                    continue
                self.by_id[event["id"]] = event
                self.events.append(event)
                accepted += 1
            self.requests.append((time.monotonic(), 200))
            self.changed.notify_all()
        return web.json_response({"accepted": accepted, "duplicates": duplicates, "rejected": []})

    def _record(self, status: int) -> None:
        with self.changed:
            self.requests.append((time.monotonic(), status))
            self.changed.notify_all()

    async def _count(self, request: web.Request) -> web.Response:
        return web.json_response({"events": len(self.events), "requests": len(self.requests)})

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/batch", self._batch)
        app.router.add_get("/count", self._count)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def _stop(self) -> None:
        if self._release is not None:
            self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> Sink:
        self._thread = PortalThread("sink")
        self._thread.run(self._start()).result(10)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.run(self._stop()).result(10)
            self._thread.stop(cancel=True)
            self._thread = None

    # -- waiting ---------------------------------------------------------------------------

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Block until *count* distinct events arrived; return them."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.events)} of {count} events arrived")
                self.changed.wait(left)
            return list(self.events)

    def wait_requests(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.requests)} of {count} requests arrived")
                self.changed.wait(left)

    @property
    def resent_after_acceptance(self) -> int:
        """Deliveries of an id that had already been accepted (must stay 0)."""
        return sum(count - 1 for count in self.received_ids.values() if count > 1)


class SinkProcess:
    """A ``Sink`` in a process of its own, so its work does not compete for our GIL."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        self._process = subprocess.Popen([sys.executable, "-m", "tests.sink", str(self.port)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.count()
                return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("the sink process did not start")

    def count(self) -> int:
        with urllib.request.urlopen(self.url + "/count", timeout=5) as answer:
            events: int = json.load(answer)["events"]
            return events

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


if __name__ == "__main__":
    sink = Sink(int(sys.argv[1])).start()
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
