"""Counting the requests being handled, so that shutdown can wait for them.

aiohttp's own graceful shutdown stops reading from connections at once, so a
batch still being uploaded when SIGTERM arrives would be cut off.  The
collector instead closes its listening socket, waits here until the requests
already started are answered, and only then shuts connections down.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["InFlight", "in_flight_middleware"]


class InFlight:
    """The number of requests being handled, and a way to wait until it is zero."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        """A request started."""
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        """A request was answered (or failed)."""
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no request is being handled."""
        await self._idle.wait()


def in_flight_middleware(tracker: InFlight) -> Middleware:
    """A middleware that counts requests on *tracker*."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        tracker.enter()
        try:
            return await handler(request)
        finally:
            tracker.leave()

    return middleware
