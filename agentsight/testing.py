"""Assert on what your bot tracked, in your own tests, without a network.

    from agentsight import conversation_tracker
    from agentsight.testing import capture_events

    def test_greets(bot):
        with capture_events() as captured:
            bot.handle("hello")
            events = captured.wait_for(3)
        assert [e["type"] for e in events] == ["conversation", "message", "message"]

With pytest, the ``agentsight_events`` fixture does the same for the
module-level ``conversation_tracker`` (this module is registered as a pytest
plugin).  Events are the wire dicts a collector would receive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from ._tracker import ConversationTracker, conversation_tracker
from .transports._memory import InMemoryTransport

__all__ = ["Captured", "agentsight_events", "capture_events"]


class Captured:
    """The events a tracker delivered while capturing, in delivery order."""

    def __init__(self, tracker: ConversationTracker, transport: InMemoryTransport) -> None:
        self.tracker = tracker
        self.transport = transport

    @property
    def events(self) -> list[dict[str, Any]]:
        """What was delivered so far (call ``flush()`` or ``wait_for()`` first to be sure)."""
        return list(self.transport.events)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    def messages(self, conversation_id: str | None = None) -> list[tuple[str, str]]:
        """``(sender, content)`` of the messages, optionally of one conversation."""
        return [
            (event["sender"], event["content"])
            for event in self.of_type("message")
            if conversation_id is None or event["conversation_id"] == conversation_id
        ]

    def flush(self) -> None:
        """Deliver what is buffered (blocking; from async code use ``await aflush()``)."""
        self.tracker.flush().result()

    async def aflush(self) -> None:
        await self.tracker.flush()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least *count* events were delivered; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.transport.events) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.transport.events)} of {count} events delivered")
            self.tracker.flush(timeout=max(0.1, deadline - time.monotonic()))
            if len(self.transport.events) < count:
                time.sleep(0.01)
        return self.events

    async def await_events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """``wait_for`` for async tests: waits without blocking the loop."""
        with anyio.fail_after(timeout):
            while len(self.transport.events) < count:
                await self.tracker.flush()
                if len(self.transport.events) < count:
                    await anyio.sleep(0.01)
        return self.events


@contextmanager
def capture_events(
    tracker: ConversationTracker | None = None, *, flush_interval: float = 0.01
) -> Iterator[Captured]:
    """Send *tracker*'s events (default: ``conversation_tracker``) to memory for the block.

    The tracker is stopped (delivering what it had) before and after the block,
    and its settings and transport are restored afterwards.
    """
    tracker = conversation_tracker if tracker is None else tracker
    tracker.close()
    saved = (tracker._transport, tracker._settings, tracker._config)
    transport = InMemoryTransport()
    tracker.configure(transport=transport, flush_interval=flush_interval)
    try:
        yield Captured(tracker, transport)
    finally:
        tracker.close()
        tracker._transport, tracker._settings = saved[:2]
        tracker._restore_config(saved[2])


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is only needed for the fixture
    pass
else:

    @pytest.fixture
    def agentsight_events() -> Iterator[Captured]:
        """The module-level ``conversation_tracker``'s events, captured in memory."""
        with capture_events() as captured:
            yield captured
