"""The official SDK 0.0.44's ``agentsight.enums``, for code written against it.

``Sentiment`` is ``agentsight.api.Sentiment``.  The others are plain
enumerations of the values our calls take as strings (``environment=``,
``attachment_mode=``, a message's sender...): passing a member works
wherever the string does.

.. versionadded:: 0.3
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "AgentType",
    "AttachmentMode",
    "Environment",
    "LogLevel",
    "Sender",
    "Sentiment",  # noqa: F822  (loaded on first use, below)
    "TokenHandlerType",
]


class LogLevel(str, enum.Enum):
    """Logging levels (the ``logging`` module's names)."""

    CRITICAL = "CRITICAL"
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"
    DEBUG = "DEBUG"

    @classmethod
    def from_string(cls, level: str) -> LogLevel:
        """The level named *level* (any case); ``INFO`` for anything else."""
        if isinstance(level, cls):
            return level
        try:
            return cls((level or "INFO").upper())
        except ValueError:
            return cls.INFO


class AgentType(enum.Enum):
    """Kinds of agents (kept for imports; nothing of ours reads it)."""

    CHATBOT = "chatbot"
    AGENT = "agent"
    VOICE = "voice"
    CUSTOM = "custom"


class AttachmentMode(enum.Enum):
    """How 0.0.44 sent a message's files; ours takes both (see ``track_attachments``)."""

    BASE64 = "base64"
    FORM_DATA = "form_data"


class Sender(str, enum.Enum):
    """Who wrote a message."""

    USER = "end_user"
    AGENT = "agent"
    SYSTEM = "system"


class Environment(str, enum.Enum):
    """The environments a conversation may belong to."""

    PRODUCTION = "production"
    DEVELOPMENT = "development"


class TokenHandlerType(enum.Enum):
    """0.0.44's framework token handlers (see ``agentsight.integrations.llm`` for ours)."""

    LLAMAINDEX = "llamaindex"
    LANGCHAIN = "langchain"


def __getattr__(name: str) -> Any:
    if name == "Sentiment":  # from the API module, loaded on first use (it needs attrs)
        from .api import Sentiment

        return Sentiment
    raise AttributeError(f"module 'agentsight.enums' has no attribute {name!r}")
