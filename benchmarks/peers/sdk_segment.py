"""Segment (``segment-analytics-python``): ``Client(write_key, host=...)``, ``track()`` per message.

Defaults: one consumer thread, batches of 100, a 10,000-event queue that
drops when full, JSON without gzip to ``/v1/batch``.
"""

from __future__ import annotations

from segment.analytics import Client
from workload import MESSAGE, METADATA, SyncAdapter


class SegmentAdapter(SyncAdapter):
    def __init__(self, endpoint: str, key: str) -> None:
        self.client = Client(write_key=key, host=endpoint)
        self.send = self.client.track

    def track(self, cid: str) -> object:
        return self.send(
            user_id=cid,
            event="user_message",
            properties={"conversation_id": cid, "content": MESSAGE, "metadata": METADATA},
        )

    def flush(self) -> None:
        self.client.flush()

    def stop(self) -> None:
        self.client.shutdown()


def make(endpoint: str, key: str) -> SegmentAdapter:
    return SegmentAdapter(endpoint, key)
