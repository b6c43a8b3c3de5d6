"""What both storages share: the conversation columns, counting events, LIKE patterns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import _wire as wire

if TYPE_CHECKING:
    from ._base import NewEvent

#: The conversation attributes of the wire schema kept as columns of their own.
ATTRIBUTE_COLUMNS = tuple(name for name in wire.CONVERSATION_FIELDS if name != "metadata")
TEXT_COLUMNS = ("conversation_id", *ATTRIBUTE_COLUMNS, "country")
COUNT_COLUMNS = (
    "event_count",
    "message_count",
    "end_user_message_count",
    "agent_message_count",
    "action_count",
)
TOKEN_COLUMNS = wire.TOKEN_FIELDS
#: What a batch adds to a conversation's row, in the order ``count_event`` keeps them.
COUNTERS = (*COUNT_COLUMNS, *TOKEN_COLUMNS)
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


def count_event(totals: list[int], event: NewEvent) -> None:
    """Add *event* to its conversation's [started, ended, counters...] list."""
    totals[0] = min(totals[0], event.timestamp)
    totals[1] = max(totals[1], event.timestamp)
    totals[2] += 1
    if event.type == "message":
        totals[3] += 1
        totals[4 if event.payload["sender"] == "end_user" else 5] += 1
    elif event.type == "action":
        totals[6] += 1
    elif event.type == "token_usage":
        for offset, field in enumerate(TOKEN_COLUMNS):
            totals[7 + offset] += event.payload[field]


def like_pattern(text: str) -> str:
    """*text* as a LIKE pattern matching it anywhere, its wildcards escaped (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
