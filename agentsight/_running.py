"""Which event loop, if any, runs on this thread: without importing asyncio, anyio or trio.

A light module: the tracker asks this on plain calls from any thread, and a
caller that never imported an event loop library cannot be running one.
"""

from __future__ import annotations

import sys

__all__ = ["running_backend"]


def running_backend() -> str | None:
    """``"asyncio"`` or ``"trio"`` when this thread is running that loop, else ``None``.

    Never raises: another thread may be importing asyncio right now (the
    tracker's own thread does, as it starts), and a module half imported
    cannot be running a loop on this thread.
    """
    get_running_loop = getattr(sys.modules.get("asyncio"), "get_running_loop", None)
    if get_running_loop is not None:
        try:
            get_running_loop()
            return "asyncio"
        except RuntimeError:
            pass
    lowlevel = getattr(sys.modules.get("trio"), "lowlevel", None)
    current_trio_token = getattr(lowlevel, "current_trio_token", None)
    if current_trio_token is not None:
        try:
            current_trio_token()
            return "trio"
        except RuntimeError:
            pass
    return None
