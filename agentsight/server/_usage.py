"""When keys and sessions were last used: noted in memory, written once a minute.

A request only sets a dict entry (the key's id, or the session's token
hash, to the time); a background task writes what was noted every
``usage_interval`` seconds in one transaction, and once more at shutdown.
So a key is written at most once per interval whatever its traffic, and no
request, the batches least of all, ever waits for that write.  Memory
follows the keys and sessions used within one interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ._ingest._time import now_micros
from ._state import OPTIONS, STORAGE
from .storage import Storage, StorageUnavailable

__all__ = ["USAGE", "Usage", "run_usage"]

log = logging.getLogger("agentsight.server")


class Usage:
    """Last-use times waiting to be written."""

    def __init__(self) -> None:
        self._keys: dict[int, int] = {}
        self._sessions: dict[str, int] = {}

    def key_used(self, key_id: int) -> None:
        """Note that key *key_id* was used now."""
        self._keys[key_id] = now_micros()

    def session_used(self, token_hash: str) -> None:
        """Note that a session was used now."""
        self._sessions[token_hash] = now_micros()

    def session_seen(self, token_hash: str) -> int | None:
        """When a session was used, as noted since the last write (microseconds)."""
        return self._sessions.get(token_hash)

    async def write(self, storage: Storage) -> None:
        """Write what was noted; kept for the next time when the database is unavailable."""
        if not self._keys and not self._sessions:
            return
        keys, self._keys = self._keys, {}
        sessions, self._sessions = self._sessions, {}
        try:
            await storage.record_use(keys, sessions)
        except StorageUnavailable as exc:
            log.warning("could not write when keys were last used: %s", exc)
            for key_id, at in keys.items():  # newer notes win
                self._keys.setdefault(key_id, at)
            for token_hash, at in sessions.items():
                self._sessions.setdefault(token_hash, at)


async def _write_every(usage: Usage, storage: Storage, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await usage.write(storage)


async def run_usage(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: write last-use times every interval, and once more at the end."""
    storage = app[STORAGE]
    task = asyncio.create_task(_write_every(app[USAGE], storage, app[OPTIONS].usage_interval))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app[USAGE].write(storage)


#: Where ``create_app`` keeps the last-use times.
USAGE = web.AppKey("agentsight.usage", Usage)
