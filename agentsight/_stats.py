"""Delivery counters; ``_reports`` has the snapshots that ``stats()`` returns."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._reports import TrackerStats

__all__ = ["Stats"]


class Stats:
    """Mutable counters.  Written by the pipeline's loop; drops may come from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = self.accepted = self.duplicates = self.rejected = 0
        self.retried = self.spooled = self.replayed = self.batches = 0
        self.dropped_by_reason: Counter[str] = Counter()

    def add_spooled(self, count: int) -> None:
        with self._lock:
            self.spooled += count

    def drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self.dropped_by_reason[reason] += count

    def snapshot(self, queued: int) -> TrackerStats:
        from ._reports import TrackerStats

        with self._lock:
            dropped = dict(self.dropped_by_reason)
        return TrackerStats(
            queued=queued,
            sent=self.sent,
            accepted=self.accepted,
            duplicates=self.duplicates,
            rejected=self.rejected,
            retried=self.retried,
            dropped=sum(dropped.values()),
            spooled=self.spooled,
            replayed=self.replayed,
            batches=self.batches,
            dropped_by_reason=dropped,
        )
