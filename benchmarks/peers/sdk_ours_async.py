"""Ours, in an asyncio app: ``async with ConversationTracker(...)``, calls on the loop.

The hot case times the plain call (``tracker.track_human_message(...)`` without
``await``: it returns a completed awaitable); the loop and e2e cases await it,
as the README shows for async code (awaited calls wait for room, never drop).
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
from workload import MESSAGE, METADATA

from agentsight import ConversationTracker


class OursAsync:
    in_loop = True
    events_per_conversation = 1  # entering a conversation block records it

    def __init__(self, endpoint: str, key: str) -> None:
        self.tracker = ConversationTracker(api_key=key, endpoint=endpoint)
        self.track_human_message = self.tracker.track_human_message

    def conversation(self, cid: str) -> contextlib.AbstractContextManager[Any]:
        return self.tracker.conversation(cid)

    def track(self, cid: str) -> object:
        return self.track_human_message(MESSAGE, metadata=METADATA)

    async def atrack(self, cid: str) -> None:
        await self.track_human_message(MESSAGE, metadata=METADATA)

    async def astart(self) -> None:
        await self.tracker.__aenter__()

    def flush(self) -> None:
        raise RuntimeError("in-loop tracker: use aflush()")

    async def aflush(self) -> None:
        await self.tracker.flush()

    def stop(self) -> None:
        raise RuntimeError("in-loop tracker: use astop()")

    async def astop(self) -> None:
        await self.tracker.__aexit__(None, None, None)

    def sdk_stats(self) -> dict[str, Any]:
        return attrs.asdict(self.tracker.stats())


def make(endpoint: str, key: str) -> OursAsync:
    return OursAsync(endpoint, key)
