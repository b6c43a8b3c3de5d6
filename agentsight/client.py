"""The original SDK's (0.0.44) ``agentsight.client``: the same objects as the package's
top-level names, for code that imports them from here.

.. versionadded:: 0.2
"""

from __future__ import annotations

from . import AgentSightAPI, ConversationManager, ConversationTracker
from . import agentsight_api as agentsight_api
from . import conversation_manager as conversation_manager
from . import conversation_tracker as conversation_tracker

__all__ = [
    "AgentSightAPI",
    "ConversationManager",
    "ConversationTracker",
    "agentsight_api",
    "conversation_manager",
    "conversation_tracker",
]
