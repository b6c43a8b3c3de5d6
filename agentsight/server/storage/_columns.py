"""The conversation columns both storages read, in one place."""

from __future__ import annotations

TEXT_COLUMNS = (
    "conversation_id",
    "customer_id",
    "customer_ip_address",
    "device",
    "source",
    "language",
    "name",
    "environment",
    "country",
)
COUNT_COLUMNS = (
    "event_count",
    "message_count",
    "end_user_message_count",
    "agent_message_count",
    "action_count",
)
TOKEN_COLUMNS = ("prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens")
COLUMNS = (
    "pk",
    *TEXT_COLUMNS,
    "metadata",
    "is_used",
    "is_marked",
    "started_at",
    "ended_at",
    *COUNT_COLUMNS,
    *TOKEN_COLUMNS,
)
SELECT = f"SELECT {', '.join(COLUMNS)} FROM conversations"
EQUAL_FILTERS = ("customer_id", "source", "device", "language", "environment", "country")
