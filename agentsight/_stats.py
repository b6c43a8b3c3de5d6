"""What a tracker counts, and the snapshots it hands out: ``stats()`` and ``SendReport``.

``Stats`` is written by the background (and by drops from any thread);
``TrackerStats`` and ``SendReport`` are the frozen attrs classes users hold.
Not loaded by ``import agentsight``: attrs costs more to import than the rest
of the package, so the tracker loads this module when it first starts or
reports.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import attrs

from ._legacy import LegacyMapping

if TYPE_CHECKING:
    from .transports._base import Rejection

__all__ = ["SendReport", "Stats", "TrackerStats"]


@attrs.frozen
class TrackerStats:
    """A snapshot of what a tracker did since it was created.

    Attributes:
        queued: events tracked and not yet delivered, dropped or rejected.
        sent: events in batches the receiver answered (accepted + duplicates + rejected).
        accepted: events stored by the receiver for the first time.
        duplicates: events the receiver already had (a resend after a lost answer).
        rejected: events the receiver refused for good (see the log for why).
        retried: event deliveries attempted again after a failure.
        dropped: events given up on, for any reason; ``dropped_by_reason`` says which.
        spooled: events written to the spool directory.
        replayed: spooled events delivered later from the spool.
        batches: batches answered by the receiver.
        redaction_failures: values the ``redact=`` function raised on (or
            returned no str for), each replaced by ``[redaction failed]``.

    .. versionchanged:: 0.2
       ``redaction_failures``.
    """

    queued: int
    sent: int
    accepted: int
    duplicates: int
    rejected: int
    retried: int
    dropped: int
    spooled: int
    replayed: int
    batches: int
    dropped_by_reason: dict[str, int]
    redaction_failures: int = 0


@attrs.frozen
class SendReport(LegacyMapping):
    """What one ``send_tracked_data()`` / ``flush()`` achieved.

    Attributes:
        sent: events in the batches answered while waiting.
        accepted, duplicates: as in ``TrackerStats``.
        rejected: the events refused for good, with the receiver's reasons.
        failed: events in batches refused for good as a whole (say, a 401).
        spooled: events written to the spool meanwhile (the collector was
            unreachable for ``spool_after``); they are replayed later.
        pending: events that were buffered at the call and are still not
            delivered (the collector is unreachable, or the timeout passed);
            they stay buffered and keep being retried.
    """

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: tuple[Rejection, ...] = ()
    failed: int = 0
    spooled: int = 0
    pending: int = 0

    @property
    def complete(self) -> bool:
        """True when everything buffered at the call was answered by the receiver."""
        return self.pending == 0 and self.spooled == 0

    def legacy_dict(self) -> dict[str, Any]:
        """The official SDK 0.0.44's answer: ``report["summary"]["errors"]`` counts losses.

        Ours sends every buffered conversation at once and counts events, not
        items by type: ``summary`` holds our counts, and ``errors``
        (rejected and failed events).  ``items`` is empty.

        .. versionadded:: 0.3
        """
        summary = {
            "sent": self.sent,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "pending": self.pending,
            "spooled": self.spooled,
            "errors": len(self.rejected) + self.failed,
        }
        return {"items": [], "summary": summary}


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

    def snapshot(self, queued: int, *, redaction_failures: int = 0) -> TrackerStats:
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
            redaction_failures=redaction_failures,
        )
