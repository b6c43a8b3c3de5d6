"""Ours, the plain module-level ``conversation_tracker`` from sync code (thread mode).

Settings come from ``AGENTSIGHT_API_KEY`` / ``AGENTSIGHT_API_ENDPOINT``, read
at first use, as in the README's first example.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import attrs
from workload import MESSAGE, METADATA, SyncAdapter


class OursSync(SyncAdapter):
    events_per_conversation = 1  # entering a conversation block records it

    def __init__(self, endpoint: str, key: str) -> None:
        os.environ["AGENTSIGHT_API_KEY"] = key
        os.environ["AGENTSIGHT_API_ENDPOINT"] = endpoint
        from agentsight import conversation_tracker

        self.tracker = conversation_tracker
        self.track_human_message = conversation_tracker.track_human_message

    def conversation(self, cid: str) -> contextlib.AbstractContextManager[Any]:
        return self.tracker.conversation(cid)

    def track(self, cid: str) -> object:
        return self.track_human_message(MESSAGE, metadata=METADATA)

    def flush(self) -> None:
        self.tracker.flush()

    def stop(self) -> None:
        self.tracker.close()

    def sdk_stats(self) -> dict[str, Any]:
        return attrs.asdict(self.tracker.stats())


def make(endpoint: str, key: str) -> OursSync:
    return OursSync(endpoint, key)
