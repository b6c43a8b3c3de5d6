"""Each API call as a checked, ready-to-send ``Call``: arguments validated before any request.

The builders here run in the caller's thread, so a bad argument raises
``ValidationError`` at the call site whichever client (async, sync or
dual-use) the call goes through; the clients only send ``Call`` objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, TypedDict, TypeVar
from urllib.parse import quote

import attrs

from .. import _validate as check
from ..exceptions import ValidationError
from ._models import (
    Conversation,
    ConversationDetail,
    ConversationPage,
    Feedback,
    parse_conversation,
    parse_detail,
    parse_feedback,
    parse_page,
)

__all__ = [
    "Call",
    "ConversationFilters",
    "OriginalFilters",
    "delete",
    "feedback",
    "get",
    "health",
    "listing",
    "patch",
]

T = TypeVar("T")
MAX_LIMIT = 500  # the collector's largest page
SENTIMENTS = ("positive", "neutral", "negative")
_CHOICES = {
    "device": ("desktop", "mobile"),
    "environment": ("production", "development"),
    "sentiment": SENTIMENTS,
}
_TEXT_FILTERS = ("customer_id", "source", "language", "country", "q")
_FLAG_FILTERS = ("is_used", "is_marked")
_TIME_FILTERS = ("since", "until")
FILTERS = (*_TEXT_FILTERS, *_CHOICES, *_FLAG_FILTERS, *_TIME_FILTERS)


class ConversationFilters(TypedDict, total=False):
    """The filters of ``GET /v1/conversations``; ``None`` means "do not filter on it"."""

    customer_id: str | None
    source: str | None
    device: Literal["desktop", "mobile"] | None
    language: str | None
    environment: Literal["production", "development"] | None
    country: str | None
    is_used: bool | None
    is_marked: bool | None
    sentiment: Literal["positive", "neutral", "negative"] | None
    since: dt.datetime | str | None
    until: dt.datetime | str | None
    q: str | None


class OriginalFilters(ConversationFilters, total=False):
    """``ConversationFilters`` plus the original SDK's names of the same filters."""

    page_size: int | None
    started_at_after: dt.datetime | str | None
    started_at_before: dt.datetime | str | None
    message_contains: str | None
    feedback_sentiment: Literal["positive", "neutral", "negative"] | None
    # The official SDK 0.0.44's filters this collector has no equivalent for: ignored
    # (with a warning), conversation_id found exactly.  .. versionadded:: 0.3
    conversation_id: str | None
    action_name: str | None
    customer_ip_address: str | None
    has_messages: bool | None
    name: str | None
    include_deleted: bool | None
    metadata: Any
    has_feedback: bool | None
    feedback_source: str | None
    page: int | None


@attrs.frozen
class Call(Generic[T]):
    """One request to the collector and how to read its answer."""

    method: str
    path: str  # percent-encoded already
    parse: Callable[[Any], T]
    params: tuple[tuple[str, str], ...] = ()
    body: Mapping[str, Any] | None = None
    auth: bool = True


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name}: expected a non-empty str, got {value!r}")
    return value


def _rfc3339(name: str, value: object) -> str:
    """A datetime or ISO 8601 str as the collector's RFC 3339 form (naive means UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{name}: expected an ISO 8601 timestamp, got {value!r}"
            ) from None
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{name}: expected a datetime or an ISO 8601 str, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _filter(name: str, value: object) -> str:
    if name in _CHOICES:
        value = getattr(value, "value", value)  # an enum member such as Sentiment.POSITIVE
        if value not in _CHOICES[name]:
            raise ValidationError(
                f"{name}: expected one of {', '.join(_CHOICES[name])}, got {value!r}"
            )
        return str(value)
    if name in _FLAG_FILTERS:
        if not isinstance(value, bool):
            raise ValidationError(f"{name}: expected True or False, got {value!r}")
        return "true" if value else "false"
    if name in _TIME_FILTERS:
        return _rfc3339(name, value)
    return _text(name, value)


def _query(filters: Mapping[str, object]) -> list[tuple[str, str]]:
    params = []
    for name, value in filters.items():
        if name not in FILTERS:
            raise ValidationError(f"{name}: unknown filter; expected one of {', '.join(FILTERS)}")
        if value is not None:
            params.append((name, _filter(name, value)))
    return params


def listing(
    filters: Mapping[str, object], limit: int | None, cursor: str | None
) -> Call[ConversationPage]:
    """``GET /v1/conversations`` with *filters*, a page size and a cursor."""
    params = _query(filters)
    if limit is not None:
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"limit: expected an int from 1 to {MAX_LIMIT}, got {limit!r}")
        params.append(("limit", str(limit)))
    if cursor is not None:
        params.append(("cursor", _text("cursor", cursor)))
    return Call("GET", "/v1/conversations", parse_page, tuple(params))


def _path(conversation_id: object, suffix: str = "") -> str:
    cid = check.identifier("conversation_id", conversation_id)
    return f"/v1/conversations/{quote(cid, safe='')}{suffix}"


def _number(value: object) -> int:
    if type(value) is not int or value < 1:
        raise ValidationError(f"conversation_id: expected a str or a number >= 1, got {value!r}")
    return value


def by_number(number: object) -> Call[str]:
    """``GET /api/conversations/{n}/``: the id of the conversation numbered *number*."""
    path = f"/api/conversations/{_number(number)}/"
    return Call("GET", path, lambda a: str(a["conversation_id"]), (("full", "false"),))


def lookup(conversation_id: object) -> Call[int]:
    """``GET /api/conversations/lookup/``: the number of a conversation."""
    cid = check.identifier("conversation_id", conversation_id)
    return Call(
        "GET", "/api/conversations/lookup/", lambda a: int(a["id"]), (("conversation_id", cid),)
    )


def attachments(number: object) -> Call[Any]:
    """``GET /api/conversations/{n}/attachments/``: the files, as the official API lists them."""
    path = f"/api/conversations/{_number(number)}/attachments/"
    return Call("GET", path, lambda a: a)


def get(conversation_id: object) -> Call[ConversationDetail]:
    """``GET /v1/conversations/{id}``."""
    return Call("GET", _path(conversation_id), parse_detail)


def patch(
    conversation_id: object,
    *,
    name: object = None,
    metadata: object = None,
    is_marked: object = None,
) -> Call[Conversation]:
    """``PATCH /v1/conversations/{id}``: rename, merge metadata, mark; at least one of them."""
    path = _path(conversation_id)
    body: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"name: expected a non-blank str, got {name!r}")
        body["name"] = name
    if metadata is not None:
        body["metadata"] = check.metadata("metadata", metadata)
    if is_marked is not None:
        if not isinstance(is_marked, bool):
            raise ValidationError(f"is_marked: expected True or False, got {is_marked!r}")
        body["is_marked"] = is_marked
    if not body:
        raise ValidationError("name, metadata, is_marked: expected at least one, got none")
    return Call("PATCH", path, parse_conversation, body=body)


def delete(conversation_id: object) -> Call[None]:
    """``DELETE /v1/conversations/{id}``."""
    return Call("DELETE", _path(conversation_id), lambda answer: None)


def feedback(
    conversation_id: object, sentiment: object, comment: object, metadata: object
) -> Call[Feedback]:
    """``POST /v1/conversations/{id}/feedback``."""
    path = _path(conversation_id, "/feedback")
    body: dict[str, Any] = {"sentiment": _filter("sentiment", sentiment)}
    if comment is not None:
        if not isinstance(comment, str):
            raise ValidationError(f"comment: expected a str or None, got {comment!r}")
        body["comment"] = comment
    if metadata is not None:
        body["metadata"] = check.metadata("metadata", metadata)
    return Call("POST", path, parse_feedback, body=body)


def health() -> Call[dict[str, Any]]:
    """``GET /v1/health`` (no key needed)."""
    return Call("GET", "/v1/health", dict, auth=False)
