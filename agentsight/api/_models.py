"""What the query API answers, as frozen attrs classes built from the collector's JSON.

Parsing is lenient about additions (unknown fields are ignored, so a newer
collector does not break an older client) and strict about the shape: a
missing required field raises ``KeyError``/``TypeError``, which the client
turns into an ``APIError`` naming the call.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from .._legacy import LegacyMapping

__all__ = [
    "Conversation",
    "ConversationDetail",
    "ConversationPage",
    "Event",
    "Feedback",
    "Sentiment",
    "TokenUsage",
    "parse_conversation",
    "parse_detail",
    "parse_feedback",
    "parse_page",
]


class Sentiment(str, enum.Enum):
    """The sentiment of a piece of feedback (the original SDK's enum; plain strs work too)."""

    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


def _time(value: Any) -> dt.datetime | None:
    """A timezone-aware datetime from the collector's RFC 3339 string (``...Z``)."""
    if value is None:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@attrs.frozen
class TokenUsage:
    """The token counts of a conversation, summed over its ``token_usage`` events."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    embedding_tokens: int = 0


@attrs.frozen
class Feedback:
    """One piece of feedback on a conversation.

    ``created_at`` is set on feedback read back with the conversation;
    ``conversation_id`` on the answer of ``submit_feedback``.
    """

    sentiment: str
    comment: str | None = None
    metadata: Mapping[str, Any] | None = None
    created_at: dt.datetime | None = None
    conversation_id: str | None = None


@attrs.frozen
class Conversation(LegacyMapping):
    """A conversation's attributes and counters as the collector stores them.

    ``feedback`` is filled by ``get_conversation`` and the management calls;
    listings leave it empty.
    """

    conversation_id: str
    name: str | None = None
    customer_id: str | None = None
    customer_ip_address: str | None = None
    device: str | None = None
    source: str | None = None
    language: str | None = None
    environment: str | None = None
    country: str | None = None
    metadata: Mapping[str, Any] | None = None
    is_used: bool = False
    is_marked: bool = False
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    event_count: int = 0
    message_count: int = 0
    end_user_message_count: int = 0
    agent_message_count: int = 0
    action_count: int = 0
    token_usage: TokenUsage = TokenUsage()
    feedback: tuple[Feedback, ...] = ()

    def legacy_dict(self) -> dict[str, Any]:
        """The conversation as a JSON-like dict (times as ISO text), as 0.0.44 returned it.

        .. versionadded:: 0.3
        """
        return attrs.asdict(self, value_serializer=_plain)


@attrs.frozen
class Event:
    """One stored event: the shared wire fields, and the fields of its kind in ``data``.

    ``data`` holds e.g. ``sender`` and ``content`` for a ``message``,
    ``action_name`` and ``duration_ms`` for an ``action``.
    """

    id: str
    type: str
    conversation_id: str
    seq: int
    timestamp: dt.datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ConversationPage(LegacyMapping):
    """One page of a listing, newest first; ``next_cursor`` gets the next (``None``: last)."""

    conversations: tuple[Conversation, ...]
    next_cursor: str | None = None

    def legacy_dict(self) -> dict[str, Any]:
        """The official SDK 0.0.44's page: ``results``, ``count`` (of this page), ``next``.

        .. versionadded:: 0.3
        """
        results = [c.legacy_dict() for c in self.conversations]
        return {
            "count": len(results),
            "next": self.next_cursor,
            "previous": None,
            "results": results,
        }


@attrs.frozen
class ConversationDetail(LegacyMapping):
    """A conversation and all its events in ``(timestamp, seq)`` order."""

    conversation: Conversation
    events: tuple[Event, ...]

    def legacy_dict(self) -> dict[str, Any]:
        """The official SDK 0.0.44's detail: the conversation's fields, ``messages`` (each
        with the ``action_logs`` and ``button`` after it, and the files linked to it as
        ``attachments``) and ``feedbacks``.

        .. versionadded:: 0.3
        """
        answer = self.conversation.legacy_dict()
        messages: list[dict[str, Any]] = []
        by_id: dict[str, dict[str, Any]] = {}
        loose: dict[str, list[Any]] = {"action_logs": [], "buttons": [], "attachments": []}
        for event in self.events:
            data = dict(event.data)
            entry = {"id": event.id, "timestamp": event.timestamp.isoformat(), **data}
            last = messages[-1] if messages else None
            if event.type == "message":
                entry.setdefault("attachments", None)
                entry["attachments"] = entry["attachments"] or []
                messages.append({**entry, "action_logs": [], "button": None})
                by_id[event.id] = messages[-1]
            elif event.type == "action":
                (last["action_logs"] if last else loose["action_logs"]).append(entry)
            elif event.type == "button":
                if last is not None and last["button"] is None:
                    last["button"] = entry
                else:
                    loose["buttons"].append(entry)
            elif event.type == "attachment":  # on the message they are linked to, if any
                owner = by_id.get(entry.get("message_id") or "")
                files = entry.get("files") or ()
                (owner["attachments"] if owner else loose["attachments"]).extend(files)
        answer.update(messages=messages, feedbacks=answer.pop("feedback"), **loose)
        return answer


def _plain(instance: Any, field: Any, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


_CONVERSATION_FIELDS = frozenset(a.name for a in attrs.fields(Conversation))
_EVENT_FIELDS = ("id", "type", "conversation_id", "seq", "timestamp")


def _feedback(item: Mapping[str, Any]) -> Feedback:
    return Feedback(
        sentiment=item["sentiment"],
        comment=item.get("comment"),
        metadata=item.get("metadata"),
        created_at=_time(item.get("created_at")),
        conversation_id=item.get("conversation_id"),
    )


def _conversation(item: Mapping[str, Any]) -> Conversation:
    values = {k: v for k, v in item.items() if k in _CONVERSATION_FIELDS}
    values["started_at"] = _time(values.get("started_at"))
    values["ended_at"] = _time(values.get("ended_at"))
    values["token_usage"] = TokenUsage(**(values.get("token_usage") or {}))
    values["feedback"] = tuple(_feedback(f) for f in values.get("feedback") or ())
    return Conversation(**values)


def _event(item: Mapping[str, Any]) -> Event:
    data = {k: v for k, v in item.items() if k not in _EVENT_FIELDS}
    timestamp = _time(item["timestamp"])
    assert timestamp is not None
    return Event(item["id"], item["type"], item["conversation_id"], item["seq"], timestamp, data)


def parse_page(answer: Any) -> ConversationPage:
    """``GET /v1/conversations``: ``{"conversations": [...], "next_cursor": ...}``."""
    conversations = tuple(_conversation(c) for c in answer["conversations"])
    return ConversationPage(conversations, answer.get("next_cursor"))


def parse_detail(answer: Any) -> ConversationDetail:
    """``GET /v1/conversations/{id}``: ``{"conversation": {...}, "events": [...]}``."""
    events = tuple(_event(e) for e in answer["events"])
    return ConversationDetail(_conversation(answer["conversation"]), events)


def parse_conversation(answer: Any) -> Conversation:
    """``PATCH /v1/conversations/{id}``: ``{"conversation": {...}}``."""
    return _conversation(answer["conversation"])


def parse_feedback(answer: Any) -> Feedback:
    """``POST /v1/conversations/{id}/feedback``: ``{"feedback": {...}}``."""
    return _feedback(answer["feedback"])
