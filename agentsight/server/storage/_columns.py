"""What both storages share: the conversation columns, counting events, LIKE patterns,
the rows of keys and audit entries, the size of a deletion step."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ... import _wire as wire
from .._ingest._time import format_ts
from ._base import KeyInfo

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


#: Conversations one retention or erasure step looks at, at most.
CONVERSATIONS_PER_STEP = 100


def _when(micros: int | None) -> str | None:
    return None if micros is None else format_ts(micros)


def key_info(row: Sequence[Any]) -> KeyInfo:
    """A ``KeyInfo`` from a row of ``_KEY_COLUMNS``."""
    key_id, name, redacted, created, revoked, scope, used = row
    return KeyInfo(
        int(key_id), name, redacted, format_ts(created), _when(revoked), scope, _when(used)
    )


def audit_row(row: Sequence[Any]) -> dict[str, Any]:
    """An audit entry as the API answers it."""
    entry_id, at, actor, action, project, target, details, address = row
    return {
        "id": int(entry_id),
        "at": format_ts(at),
        "actor": actor,
        "action": action,
        "project": project,
        "target": target,
        "details": None if details is None else json.loads(details),
        "address": address,
    }
