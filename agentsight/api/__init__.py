"""The collector's query and management API: typed async, sync and dual-use clients.

    from agentsight.api import AsyncClient

    async with AsyncClient() as client:            # AGENTSIGHT_API_KEY, ..._ENDPOINT
        page = await client.list_conversations(source="web", limit=20)
        detail = await client.get_conversation(page.conversations[0].conversation_id)
        await client.rename_conversation(detail.conversation.conversation_id, "Refund")

``Client`` has the same methods, blocking.  The original SDK's
``agentsight_api`` / ``conversation_manager`` (``AgentSightAPI`` /
``ConversationManager``) return a ``Pending`` handle: awaited in async code,
already completed (``.result()``) in sync code.

Importing this module opens no connection, starts no thread and reads no
setting; it never imports the collector (``agentsight.server``).
"""

from __future__ import annotations

from ._calls import ConversationFilters, OriginalFilters
from ._client import AsyncClient
from ._manager import AgentSightAPI, ConversationManager, agentsight_api, conversation_manager
from ._models import (
    Conversation,
    ConversationDetail,
    ConversationPage,
    Event,
    Feedback,
    Sentiment,
    TokenUsage,
)
from ._runner import Pending
from ._sync import Client

__all__ = [
    "AgentSightAPI",
    "AsyncClient",
    "Client",
    "Conversation",
    "ConversationDetail",
    "ConversationFilters",
    "ConversationManager",
    "ConversationPage",
    "Event",
    "Feedback",
    "OriginalFilters",
    "Pending",
    "Sentiment",
    "TokenUsage",
    "agentsight_api",
    "conversation_manager",
]
