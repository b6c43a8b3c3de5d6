"""An in-memory transport: keeps what it is sent, for tests and for trying things out."""

from __future__ import annotations

from typing import Any

from ._base import Batch, Outcome, SendResult
from ._decode import batch_events

__all__ = ["InMemoryTransport"]


class InMemoryTransport:
    """Stores every delivered event in ``events``, in delivery order.

    It decodes the real wire body, so what a test sees is what a collector
    would receive.  Event ids it has already seen are counted as duplicates,
    as the collector does.
    """

    needs_asyncio = False

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.batches = 0
        self._seen: set[str] = set()

    async def send(self, batch: Batch) -> SendResult:
        self.batches += 1
        accepted = duplicates = 0
        for event in batch_events(batch):
            if event["id"] in self._seen:
                duplicates += 1
                continue
            self._seen.add(event["id"])
            self.events.append(event)
            accepted += 1
        return SendResult(Outcome.DELIVERED, accepted=accepted, duplicates=duplicates, status=200)

    async def aclose(self) -> None:
        pass

    def clear(self) -> None:
        """Forget what was received."""
        self.events.clear()
        self._seen.clear()
        self.batches = 0
