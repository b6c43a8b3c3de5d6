"""Storage behind the collector: the interface and ``open_storage``."""

from ._base import (
    ConversationChanges,
    ConversationPage,
    ConversationQuery,
    Feedback,
    KeyInfo,
    NewEvent,
    Storage,
    StorageUnavailable,
    WriteResult,
    open_storage,
)

__all__ = [
    "ConversationChanges",
    "ConversationPage",
    "ConversationQuery",
    "Feedback",
    "KeyInfo",
    "NewEvent",
    "Storage",
    "StorageUnavailable",
    "WriteResult",
    "open_storage",
]
