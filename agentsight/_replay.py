"""Replaying the spool: at start, when the collector answers again, and every half minute.

Files are taken oldest first, each under an exclusive lock (another process
replaying or still writing it is skipped), sent again in batches with their
original event ids, and deleted only once every batch was answered.  If the
collector fails again mid-file, the file stays for the next round; events
already accepted are recognised as duplicates then.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio

from ._config import TrackerConfig
from ._encode import gzip_body, wrap_batch
from ._spool import Spool
from ._stats import Stats
from .transports._base import Batch, Outcome, SendResult, Transport

logger = logging.getLogger("agentsight")

__all__ = ["Replayer"]

_PERIOD = 30.0  # seconds between looks at the spool when nothing else triggers one
_ATTEMPTS = 3  # tries per batch before the round is given up until the next trigger


class Replayer:
    """Sends spooled events again, file by file."""

    def __init__(
        self, config: TrackerConfig, transport: Transport, stats: Stats, spool: Spool
    ) -> None:
        self._config = config
        self._transport = transport
        self._stats = stats
        self._spool = spool
        self.wake = anyio.Event()

    async def run(self, recovered: Any) -> None:
        """Replay now, then when *recovered()* (an ``anyio.Event`` getter) fires, or a period."""
        while True:
            await self.replay_all()
            with anyio.move_on_after(_PERIOD):
                await recovered().wait()

    async def replay_all(self) -> int:
        """One round over the spool; returns the events delivered."""
        delivered = 0
        files = await anyio.to_thread.run_sync(self._spool.files)
        for path, _size in files:
            count = await self._replay_file(path)
            if count is None:
                break  # the collector is failing again: stop this round
            delivered += count
        return delivered

    async def _replay_file(self, path: Path) -> int | None:
        claim = await anyio.to_thread.run_sync(self._spool.claim, path)
        if claim is None:
            return 0  # another process holds it, or it is the file we are writing
        fd, records = claim
        try:
            sent = 0
            for chunk in self._chunks(records, path.name):
                if not await self._send(chunk):
                    return None
                self._stats.replayed += len(chunk)
                sent += len(chunk)
            await anyio.to_thread.run_sync(self._spool.done, path)
            if sent:
                logger.info("replayed %d spooled events from %s", sent, path.name)
            return sent
        finally:
            self._spool.release(fd)  # os.close: never blocks, and must run even when cancelled

    def _chunks(self, records: list[bytes], name: str) -> Iterator[list[dict[str, Any]]]:
        """The records' events in batches of ``max_batch_events``, parsed as needed."""
        chunk: list[dict[str, Any]] = []
        for record in records:
            try:
                events = json.loads(record)
            except ValueError:
                logger.warning("spool file %s has an unreadable record; skipped", name)
                continue
            chunk.extend(events)
            while len(chunk) >= self._config.max_batch_events:
                yield chunk[: self._config.max_batch_events]
                chunk = chunk[self._config.max_batch_events :]
        if chunk:
            yield chunk

    async def _send(self, events: list[dict[str, Any]]) -> bool:
        threshold = self._config.gzip_threshold
        # Off the loop: a replay is a burst of whole batches, not a trickle.
        batch = await anyio.to_thread.run_sync(_encode_replay, events, threshold)
        for attempt in range(_ATTEMPTS):
            try:
                result = await self._transport.send(batch)
            except Exception:
                logger.exception("transport raised while replaying the spool")
                result = SendResult(Outcome.RETRY)
            if result.outcome is Outcome.DELIVERED:
                self._stats.accepted += result.accepted
                self._stats.duplicates += result.duplicates
                self._stats.rejected += len(result.rejected)
                return True
            if result.outcome is Outcome.FAILED:
                # Refused as a whole (a revoked key, say): keep the file for when that is
                # fixed, rather than deleting data; the next round tries again.
                logger.error("the collector refused spooled events: %s; kept", result.error)
                return False
            await anyio.sleep(min(self._config.retry_max_delay, 0.5 * 2**attempt))
        return False


def _encode_replay(events: list[dict[str, Any]], gzip_threshold: int) -> Batch:
    body = wrap_batch([json.dumps(event, separators=(",", ":")) for event in events])
    gzipped = len(body) > gzip_threshold
    return Batch(
        body=gzip_body(body) if gzipped else body,
        gzipped=gzipped,
        ids=tuple(str(event.get("id")) for event in events),
    )
