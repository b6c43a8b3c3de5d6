"""Which event loop, if any, runs on this thread: without importing asyncio, anyio or trio.

A light module: the tracker asks this on plain calls from any thread, and a
caller that never imported an event loop library cannot be running one.
"""

from __future__ import annotations

import sys

__all__ = ["running_backend"]


def running_backend() -> str | None:
    """``"asyncio"`` or ``"trio"`` when this thread is running that loop, else ``None``."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
            return "asyncio"
        except RuntimeError:
            pass
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
            return "trio"
        except RuntimeError:
            pass
    return None
