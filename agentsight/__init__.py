"""AgentSight: track the conversations of AI agents and chatbots.

    from agentsight import conversation_tracker

    conversation_tracker.get_or_create_conversation(conversation_id="chat-123")
    conversation_tracker.track_human_message("Hello")
    conversation_tracker.track_agent_message("Hi!")
    conversation_tracker.send_tracked_data()

Importing this package opens no connection, starts no thread, reads no
setting and never imports the collector (``agentsight.server``).

The modules, in the order an event passes through them:

- ``_tracker``: ``ConversationTracker``, the documented calls.  Checks the
  arguments (``_validate``), finds the conversation (``_context``) and builds
  the event, a plain tuple (``_events``) in the wire order of ``_wire``.
- ``_buffer``: the anyio memory object stream the event is put on, from any
  thread, and what a call returns when it is full or behind.
- ``_lifecycle``: which engine runs for a tracker, and when it starts and
  stops (the first call, ``async with``, close, the interpreter's exit, fork).
- ``_engine``: what runs the background: thread mode on an anyio blocking
  portal, or the application's own loop; flush and shutdown.
- ``_service``: the background in one loop: ``_batcher`` (events into encoded
  batches, ``_encode``), ``_delivery`` (retries, backoff, spool-after,
  accounting in ``_stats``), ``_spool`` and ``_replay`` (disk, and back).
- ``transports/``: one attempt at one batch: HTTP to the collector
  (aiohttp), memory, a file.  ``_loops`` holds the event-loop plumbing.
- ``server/``: the collector (``agentsight serve``), a separate extra; it
  reads the same ``_wire``.
"""

from __future__ import annotations

__version__ = "0.2.0.dev0"

import typing as _typing

from ._tracker import ConversationTracker, ReportHandle, conversation_tracker
from .exceptions import (
    AgentSightError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    ValidationError,
)

if _typing.TYPE_CHECKING:
    from ._stats import SendReport, TrackerStats
    from .api import AgentSightAPI, ConversationManager, agentsight_api, conversation_manager


#: The official SDK 0.0.44's top-level names of the query and management API.
_API_NAMES = ("AgentSightAPI", "ConversationManager", "agentsight_api", "conversation_manager")


def __getattr__(name: str) -> _typing.Any:
    # Loaded on first use: they need attrs, which costs more to import than the rest.
    if name in ("SendReport", "TrackerStats"):
        from . import _stats

        return getattr(_stats, name)
    if name in _API_NAMES:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'agentsight' has no attribute {name!r}")


__all__ = [
    "APIError",
    "AgentSightAPI",
    "AgentSightError",
    "AuthenticationError",
    "ConfigurationError",
    "ConversationManager",
    "ConversationTracker",
    "NotFoundError",
    "ReportHandle",
    "SendReport",
    "TrackerStats",
    "ValidationError",
    "__version__",
    "agentsight_api",
    "conversation_manager",
    "conversation_tracker",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
