"""The OpenAPI schemas of the query API's answers: conversations, costs, the reports,
changes, users and the dashboard's session (the metrics' in ``_openapi_metrics``).

Each schema names the fields the storage code and the views write
(``storage/_columns.py``, ``_listing.py``, ``_reports.py``, ``_views/``),
marks required the ones they always write and closes the object
(``additionalProperties: false``) where the answer has no other field, so a
client generated from the document gets typed models.  Free-form metadata
stays open on purpose.
"""

from __future__ import annotations

from typing import Any

from .. import _wire as wire
from ._openapi_metrics import metrics_schemas
from ._openapi_parts import COST_FIELDS, COUNT, NULL_TEXT, SENTIMENTS, TIME, array, closed, ref
from .storage._base import ROLES
from .storage._reports import CUSTOMER_SORTS, VALUE_FIELDS

__all__ = ["STORED_EVENT_FIELDS", "answer_schemas"]

_METADATA = {
    "type": ["object", "null"],
    "additionalProperties": True,
    "description": "Free-form JSON object, as sent.",
}
_SENTIMENT = {"enum": list(SENTIMENTS)}
_OF = {"enum": ["conversations", "messages"], "description": "What the counts count."}
#: Fields the collector adds to the events of a kind when it answers them, never read
#: from a batch: ``readOnly`` in the Event schemas, so that a generated client's request
#: models leave them out.
STORED_EVENT_FIELDS: dict[str, dict[str, Any]] = {
    "token_usage": {
        "cost_usd": {
            "type": ["number", "null"],
            "minimum": 0,
            "readOnly": True,
            "description": "In answers: the call's price in US dollars when it was stored;"
            " null when unpriced.",
        }
    }
}


def _conversation_fields() -> dict[str, Any]:
    """The fields of a stored conversation, listed or in detail (``storage/*/_read.py``)."""
    text_fields = (*(f.name for f in wire.CONVERSATION_ATTRIBUTES if f.kind == "string"), "country")
    return {
        "conversation_id": {"type": "string"},
        **{name: NULL_TEXT for name in text_fields},
        "metadata": _METADATA,
        "is_used": {"type": "boolean"},
        "is_marked": {"type": "boolean"},
        "started_at": TIME,
        "ended_at": TIME,
        "event_count": COUNT,
        "message_count": COUNT,
        "end_user_message_count": COUNT,
        "agent_message_count": COUNT,
        "action_count": COUNT,
        "token_usage": ref("TokenCounts"),
        "cost": ref("Cost"),
    }


def _conversation_schemas() -> dict[str, Any]:
    """``Conversation`` (a listed row), ``ConversationWithFeedback`` (in detail), the page,
    the detail with its events, a change's answer, token counts, cost and feedback."""
    stored = _conversation_fields()
    return {
        "Cost": closed(COST_FIELDS, "The model calls' cost, priced at ingest (docs/metrics.md)."),
        "TokenCounts": closed({name: COUNT for name in wire.TOKEN_FIELDS}),
        "FeedbackEntry": closed(
            {
                "sentiment": _SENTIMENT,
                "comment": NULL_TEXT,
                "metadata": _METADATA,
                "created_at": TIME,
            }
        ),
        "Conversation": closed(
            {
                **stored,
                "duration_ms": {"type": "number", "description": "First to last event."},
                "last_feedback": {
                    "type": ["string", "null"],
                    "enum": [*SENTIMENTS, None],
                    "description": "The sentiment of its latest feedback.",
                },
                "escalated": {
                    "type": "boolean",
                    "description": "It has an action of the escalation names.",
                },
            },
            "A row of the list.",
        ),
        "ConversationWithFeedback": closed(
            {**stored, "feedback": array(ref("FeedbackEntry"), "Oldest first.")},
            "One conversation in detail.",
        ),
        "ConversationDetail": closed(
            {
                "conversation": ref("ConversationWithFeedback"),
                "events": array(ref("Event"), "In (timestamp, seq) order."),
            }
        ),
        "ConversationChanged": closed(
            {"conversation": ref("ConversationWithFeedback")}, "The conversation as changed."
        ),
        "ConversationPage": closed(
            {
                "conversations": array(ref("Conversation")),
                "next_cursor": NULL_TEXT,
                "total": {
                    "type": ["integer", "null"],
                    "description": "Conversations matching, on the first page unless total=false.",
                },
            }
        ),
    }


def _report_schemas() -> dict[str, Any]:
    """The answers of ``/v1/customers``, ``/v1/metrics/unhandled``, ``/v1/metrics/metadata``
    and ``/v1/filter-values``."""
    sentiments = closed(dict.fromkeys(SENTIMENTS, COUNT))
    values_of = {"type": "array", "items": ref("FilterValue")}
    return {
        "Customer": closed(
            {
                "customer_id": {"type": "string"},
                "conversations": COUNT,
                "messages": COUNT,
                "first_seen": TIME,
                "last_seen": TIME,
                "feedback": sentiments,
                "escalations": {
                    **COUNT,
                    "description": "Conversations with an action of the escalation names.",
                },
                "total_tokens": COUNT,
                "cost": ref("Cost"),
            }
        ),
        "CustomerPage": closed(
            {
                "total": {**COUNT, "description": "Customers of the selected conversations."},
                "sort": {"enum": list(CUSTOMER_SORTS)},
                "limit": {"type": "integer", "minimum": 1},
                "offset": COUNT,
                "customers": array(ref("Customer")),
            }
        ),
        "UnhandledGroup": closed(
            {
                "text": {"type": "string", "description": "The normalised text grouped by."},
                "example": {"type": "string", "description": "Its most frequent text as sent."},
                "count": {"type": "integer", "minimum": 1},
                "escalations": COUNT,
                "negative_feedback": COUNT,
                "conversations": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 5,
                    "description": "Some of its conversations' ids, in order.",
                },
            }
        ),
        "Unhandled": closed(
            {
                "messages": {**COUNT, "description": "Messages in every group, listed or not."},
                "groups": array(ref("UnhandledGroup"), "Most frequent first."),
            }
        ),
        "MetadataValues": closed(
            {
                "key": {"type": "string"},
                "of": _OF,
                "total": COUNT,
                "missing": {**COUNT, "description": "Rows without the key."},
                "values": {
                    "type": "array",
                    "maxItems": 50,
                    "description": "The most frequent values; an object or a list is counted"
                    " under its compact JSON text.",
                    "items": closed(
                        {
                            "value": {"type": ["string", "number", "boolean", "null"]},
                            "count": {"type": "integer", "minimum": 1},
                        }
                    ),
                },
                "other": {**COUNT, "description": "Rows with a value not listed."},
            },
            "The values of the key asked for.",
        ),
        "MetadataKeys": closed(
            {
                "key": {"type": "null"},
                "of": _OF,
                "total": COUNT,
                "keys": {
                    "type": "array",
                    "maxItems": 50,
                    "items": closed(
                        {"key": {"type": "string"}, "count": {"type": "integer", "minimum": 1}}
                    ),
                },
            },
            "Without a key asked for: the keys present, most frequent first.",
        ),
        "MetadataReport": {"oneOf": [ref("MetadataValues"), ref("MetadataKeys")]},
        "FilterValue": closed(
            {"value": {"type": "string"}, "conversations": {"type": "integer", "minimum": 1}}
        ),
        "FilterValues": closed(
            dict.fromkeys(VALUE_FIELDS, values_of), "Most frequent first, up to 200 each."
        ),
    }


def _change_schemas() -> dict[str, Any]:
    """The answers of changes (deletion, feedback, scores, retention, erasure), the audit
    log and ``/v1/health``."""
    text = {"type": "string"}
    score = {
        "id": text,
        "conversation_id": text,
        "timestamp": TIME,
        "name": text,
        "value": {"type": ["number", "boolean", "string"]},
        "comment": NULL_TEXT,
        "message_id": NULL_TEXT,
        "source": {"enum": ["api", "human"]},
        "metadata": _METADATA,
    }
    feedback = {
        "conversation_id": text,
        "sentiment": _SENTIMENT,
        "comment": NULL_TEXT,
        "metadata": _METADATA,
    }
    entry = {
        "id": {"type": "integer", "minimum": 1},
        "at": TIME,
        "actor": text,
        "action": text,
        "project": {**NULL_TEXT, "description": "null: the collector's own (users)."},
        "target": NULL_TEXT,
        "details": _METADATA,
        "address": NULL_TEXT,
    }
    return {
        "Deleted": closed({"deleted": {"const": True}, "conversation_id": text}),
        "FeedbackAdded": closed({"feedback": closed(feedback)}),
        "ScoreAdded": closed({"score": closed(score)}),
        "Retention": closed(
            {"project": text, "retention_days": {"type": ["integer", "null"], "minimum": 1}},
            "null retention_days: kept for ever.",
        ),
        "Erased": closed(
            {"customer_id": text, **dict.fromkeys(("conversations", "events", "feedback"), COUNT)}
        ),
        "AuditPage": closed(
            {
                "entries": array(closed(entry), "Newest first."),
                "next_before": {
                    "type": ["integer", "null"],
                    "description": "The before of the next page; null on the last.",
                },
            }
        ),
        "Health": closed({"status": {"const": "ok"}}),
    }


def _account_schemas() -> dict[str, Any]:
    """The dashboard's users and sessions: ``/v1/users`` and ``/v1/session``."""
    text = {"type": "string"}
    role = {"enum": list(ROLES)}
    user = {
        "id": {"type": "integer", "minimum": 1},
        "email": text,
        "role": role,
        "created_at": TIME,
        "projects": array(text, "Granted (an admin opens every project whatever it is granted)."),
    }
    return {
        "User": closed(user),
        "Users": closed({"users": array(ref("User"), "Oldest first.")}),
        "UserChanged": closed({"user": ref("User")}),
        "Session": closed(
            {
                "user": closed({"email": text, "role": role}),
                "projects": array(text, "What it may open: a viewer's granted, an admin's all."),
                "csrf_token": {**text, "description": "Sent back in X-CSRF-Token by a change."},
                "expires_at": TIME,
            }
        ),
        "SignedOut": closed({"signed_out": {"const": True}}),
    }


def answer_schemas() -> dict[str, Any]:
    """The component schemas of the query API's answers."""
    return {
        **_conversation_schemas(),
        **_report_schemas(),
        **metrics_schemas(),
        **_change_schemas(),
        **_account_schemas(),
    }
