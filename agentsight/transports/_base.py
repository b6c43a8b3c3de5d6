"""The transport interface: one attempt at delivering one encoded batch.

The pipeline (channel, batching, retries, shutdown) lives elsewhere; a
transport only makes one attempt and says how it went.  It must not raise
for a failure of the network or the receiver: it returns a ``SendResult``
with ``outcome="retry"`` (worth trying again) or ``"failed"`` (final).
"""

from __future__ import annotations

import enum
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Batch", "Outcome", "Rejection", "SendResult", "Transport"]


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@attrs.frozen
class Batch:
    """An encoded batch: the JSON body (gzip-encoded when ``gzipped``) and its event ids.

    Built once, before the first attempt, and kept unchanged through retries,
    so every attempt carries the same event ids.
    """

    body: bytes
    gzipped: bool
    ids: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.ids)


@attrs.frozen
class Rejection:
    """One event the receiver refused for good, with its reason."""

    index: int
    id: str | None
    error: str


@attrs.frozen
class SendResult:
    """What one attempt achieved.

    ``accepted + duplicates + len(rejected)`` is the batch size when the
    outcome is ``DELIVERED``.  ``retry_after`` is the receiver's wish, in
    seconds, when it sent one.
    """

    outcome: Outcome
    accepted: int = 0
    duplicates: int = 0
    rejected: tuple[Rejection, ...] = ()
    retry_after: float | None = None
    status: int | None = None
    error: str | None = None


@runtime_checkable
class Transport(Protocol):
    """Delivers batches somewhere: the collector over HTTP, memory, a file."""

    async def send(self, batch: Batch) -> SendResult:
        """Make one attempt at delivering *batch*; never raise for delivery failures."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...

    @property
    def needs_asyncio(self) -> bool:
        """True when ``send`` must run in an asyncio loop (aiohttp does)."""
        ...
