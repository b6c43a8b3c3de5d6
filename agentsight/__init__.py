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

from ._stats import SendReport, TrackerStats
from ._tracker import ConversationTracker, ReportHandle, conversation_tracker
from .exceptions import (
    AgentSightError,
    APIError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    ValidationError,
)

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
