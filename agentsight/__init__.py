"""AgentSight: track the conversations of AI agents and chatbots.

    from agentsight import conversation_tracker

    conversation_tracker.get_or_create_conversation(conversation_id="chat-123")
    conversation_tracker.track_human_message("Hello")
    conversation_tracker.track_agent_message("Hi!")
    conversation_tracker.send_tracked_data()

Importing this package opens no connection, starts no thread, reads no
setting and never imports the collector (``agentsight.server``).
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
    from ._reports import SendReport, TrackerStats


def __getattr__(name: str) -> _typing.Any:
    # Loaded on first use: they need attrs, which costs more to import than the rest.
    if name in ("SendReport", "TrackerStats"):
        from . import _reports

        return getattr(_reports, name)
    raise AttributeError(f"module 'agentsight' has no attribute {name!r}")


__all__ = [
    "APIError",
    "AgentSightError",
    "AuthenticationError",
    "ConfigurationError",
    "ConversationTracker",
    "NotFoundError",
    "ReportHandle",
    "SendReport",
    "TrackerStats",
    "ValidationError",
    "__version__",
    "conversation_tracker",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
