"""PostHog (``posthog``): ``Posthog(key, host=...)`` with its defaults, ``capture()`` per message.

Defaults: one consumer thread, batches of 100, a 10,000-event queue that
drops when full, JSON without gzip to ``/batch/``.
"""

from __future__ import annotations

from typing import Any

from posthog import Posthog
from workload import MESSAGE, METADATA, SyncAdapter


class PostHogAdapter(SyncAdapter):
    def __init__(self, endpoint: str, key: str) -> None:
        self.client = Posthog(key, host=endpoint)
        self.capture = self.client.capture

    def track(self, cid: str) -> object:
        return self.capture(
            "user_message",
            distinct_id=cid,
            properties={"conversation_id": cid, "content": MESSAGE, "metadata": METADATA},
        )

    def flush(self) -> None:
        self.client.flush()

    def stop(self) -> None:
        self.client.shutdown()

    def sdk_stats(self) -> dict[str, Any]:
        return {}


def make(endpoint: str, key: str) -> PostHogAdapter:
    return PostHogAdapter(endpoint, key)
