"""The OpenAPI schemas of the query API's answers: conversations, costs and the reports.

Each schema names the fields the storage code writes (``storage/_columns.py``,
``_listing.py``, ``_reports.py``, ``_metrics_sql.py``), marks required the
ones it always writes and closes the object (``additionalProperties: false``)
where the answer has no other field, so a client generated from the document
gets typed models.  Free-form metadata stays open on purpose.
"""

from __future__ import annotations

from typing import Any

from .. import _wire as wire
from .storage._reports import CUSTOMER_SORTS, VALUE_FIELDS

__all__ = ["answer_schemas", "ref"]

_COUNT = {"type": "integer", "minimum": 0}
_TIME = {"type": "string", "format": "date-time"}
_DATE = {"type": "string", "format": "date"}
_NULL_TEXT = {"type": ["string", "null"]}
_METADATA = {
    "type": ["object", "null"],
    "additionalProperties": True,
    "description": "Free-form JSON object, as sent.",
}
_SENTIMENT = {"enum": ["positive", "neutral", "negative"]}
_OF = {"enum": ["conversations", "messages"], "description": "What the counts count."}
#: The figures of a cost, shared by ``Cost`` and the metrics' entries that carry them flat.
_COST_FIELDS: dict[str, Any] = {
    "usd": {
        "type": ["number", "null"],
        "minimum": 0,
        "description": "US dollars of the priced calls; null when every model call was"
        " unpriced (an unknown price is never shown as zero).",
    },
    "priced_calls": _COUNT,
    "unpriced_calls": _COUNT,
}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema *name*."""
    return {"$ref": f"#/components/schemas/{name}"}


def _closed(
    properties: dict[str, Any], description: str = "", optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An object with exactly *properties*, each required but the *optional* ones."""
    schema: dict[str, Any] = {"type": "object"}
    if description:
        schema["description"] = description
    return schema | {
        "required": [name for name in properties if name not in optional],
        "properties": properties,
        "additionalProperties": False,
    }


def _list(items: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items}
    return schema | ({"description": description} if description else {})


def _conversation_schemas() -> dict[str, Any]:
    """``Conversation`` (listed or in detail), its page, token counts, cost and feedback."""
    text_fields = (*(f.name for f in wire.CONVERSATION_ATTRIBUTES if f.kind == "string"), "country")
    listed_only = ("duration_ms", "last_feedback", "escalated")
    return {
        "Cost": _closed(_COST_FIELDS, "The model calls' cost, priced at ingest (docs/metrics.md)."),
        "TokenCounts": _closed({name: _COUNT for name in wire.TOKEN_FIELDS}),
        "FeedbackEntry": _closed(
            {
                "sentiment": _SENTIMENT,
                "comment": _NULL_TEXT,
                "metadata": _METADATA,
                "created_at": _TIME,
            }
        ),
        "Conversation": _closed(
            {
                "conversation_id": {"type": "string"},
                **{name: _NULL_TEXT for name in text_fields},
                "metadata": _METADATA,
                "is_used": {"type": "boolean"},
                "is_marked": {"type": "boolean"},
                "started_at": _TIME,
                "ended_at": _TIME,
                "event_count": _COUNT,
                "message_count": _COUNT,
                "end_user_message_count": _COUNT,
                "agent_message_count": _COUNT,
                "action_count": _COUNT,
                "token_usage": ref("TokenCounts"),
                "cost": ref("Cost"),
                "feedback": _list(ref("FeedbackEntry"), "Oldest first (detail only)."),
                "duration_ms": {
                    "type": "number",
                    "description": "First to last event (listed rows only).",
                },
                "last_feedback": {
                    "type": ["string", "null"],
                    "enum": ["positive", "neutral", "negative", None],
                    "description": "The sentiment of its latest feedback (listed rows only).",
                },
                "escalated": {
                    "type": "boolean",
                    "description": "It has an action of the escalation names (listed rows only).",
                },
            },
            optional=("feedback", *listed_only),
        ),
        "ConversationPage": _closed(
            {
                "conversations": _list(ref("Conversation")),
                "next_cursor": _NULL_TEXT,
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
    sentiments = _closed(dict.fromkeys(("positive", "neutral", "negative"), _COUNT))
    values_of = {"type": "array", "items": ref("FilterValue")}
    return {
        "Customer": _closed(
            {
                "customer_id": {"type": "string"},
                "conversations": _COUNT,
                "messages": _COUNT,
                "first_seen": _TIME,
                "last_seen": _TIME,
                "feedback": sentiments,
                "escalations": {
                    **_COUNT,
                    "description": "Conversations with an action of the escalation names.",
                },
                "total_tokens": _COUNT,
                "cost": ref("Cost"),
            }
        ),
        "CustomerPage": _closed(
            {
                "total": {**_COUNT, "description": "Customers of the selected conversations."},
                "sort": {"enum": list(CUSTOMER_SORTS)},
                "limit": {"type": "integer", "minimum": 1},
                "offset": _COUNT,
                "customers": _list(ref("Customer")),
            }
        ),
        "UnhandledGroup": _closed(
            {
                "text": {"type": "string", "description": "The normalised text grouped by."},
                "example": {"type": "string", "description": "Its most frequent text as sent."},
                "count": {"type": "integer", "minimum": 1},
                "escalations": _COUNT,
                "negative_feedback": _COUNT,
                "conversations": {
                    "type": "array",
                    "items": {"type": "string"},
                    "maxItems": 5,
                    "description": "Some of its conversations' ids, in order.",
                },
            }
        ),
        "Unhandled": _closed(
            {
                "messages": {**_COUNT, "description": "Messages in every group, listed or not."},
                "groups": _list(ref("UnhandledGroup"), "Most frequent first."),
            }
        ),
        "MetadataValues": _closed(
            {
                "key": {"type": "string"},
                "of": _OF,
                "total": _COUNT,
                "missing": {**_COUNT, "description": "Rows without the key."},
                "values": {
                    "type": "array",
                    "maxItems": 50,
                    "description": "The most frequent values; an object or a list is counted"
                    " under its compact JSON text.",
                    "items": _closed(
                        {
                            "value": {"type": ["string", "number", "boolean", "null"]},
                            "count": {"type": "integer", "minimum": 1},
                        }
                    ),
                },
                "other": {**_COUNT, "description": "Rows with a value not listed."},
            },
            "The values of the key asked for.",
        ),
        "MetadataKeys": _closed(
            {
                "key": {"type": "null"},
                "of": _OF,
                "total": _COUNT,
                "keys": {
                    "type": "array",
                    "maxItems": 50,
                    "items": _closed(
                        {"key": {"type": "string"}, "count": {"type": "integer", "minimum": 1}}
                    ),
                },
            },
            "Without a key asked for: the keys present, most frequent first.",
        ),
        "MetadataReport": {"oneOf": [ref("MetadataValues"), ref("MetadataKeys")]},
        "FilterValue": _closed(
            {"value": {"type": "string"}, "conversations": {"type": "integer", "minimum": 1}}
        ),
        "FilterValues": _closed(
            dict.fromkeys(VALUE_FIELDS, values_of), "Most frequent first, up to 200 each."
        ),
    }


def _metrics_schemas() -> dict[str, Any]:
    """``Metrics``: its cost section in full, the other sections as objects (docs/metrics.md)."""
    by_model = _closed(
        {
            "model": _NULL_TEXT,
            "provider": _NULL_TEXT,
            "calls": _COUNT,
            **_COST_FIELDS,
            **{name: _COUNT for name in wire.TOKEN_FIELDS},
        }
    )
    costs = {
        **_COST_FIELDS,
        "per_conversation_usd": {"type": ["number", "null"], "minimum": 0},
        "by_model": _list(by_model, "Most expensive first."),
        "daily": _list(_closed({"date": _DATE, **_COST_FIELDS}), "Per local day."),
        "top_customers": {
            "type": "array",
            "maxItems": 10,
            "items": _closed(
                {"customer_id": {"type": "string"}, "conversations": _COUNT, **_COST_FIELDS}
            ),
        },
    }
    sections = (
        "totals",
        "engagement",
        "response_time_ms",
        "conversation_duration_ms",
        "peak_hours",
        "escalation",
        "feedback",
        "breakdowns",
        "token_usage",
        "buttons",
        "customers",
        "retention",
    )
    return {
        "MetricsCost": _closed(costs),
        "Metrics": {
            "type": "object",
            "description": "See docs/metrics.md for every figure's definition.",
            "properties": {name: {"type": "object"} for name in sections}
            | {
                "tz": {"type": "string"},
                "cost": ref("MetricsCost"),
                "daily": {"type": "array", "items": {"type": "object"}},
                "tools": {"type": "array", "items": {"type": "object"}},
                "scores": {"type": "array", "items": {"type": "object"}},
            },
        },
    }


def _change_schemas() -> dict[str, Any]:
    """The answers of changes (deletion, feedback, scores, retention, erasure), the audit
    log and ``/v1/health``."""
    text = {"type": "string"}
    score = {
        "id": text,
        "conversation_id": text,
        "timestamp": _TIME,
        "name": text,
        "value": {"type": ["number", "boolean", "string"]},
        "comment": _NULL_TEXT,
        "message_id": _NULL_TEXT,
        "source": {"enum": ["api", "human"]},
        "metadata": _METADATA,
    }
    feedback = {
        "conversation_id": text,
        "sentiment": _SENTIMENT,
        "comment": _NULL_TEXT,
        "metadata": _METADATA,
    }
    entry = {
        "id": {"type": "integer", "minimum": 1},
        "at": _TIME,
        "actor": text,
        "action": text,
        "project": {**_NULL_TEXT, "description": "null: the collector's own (users)."},
        "target": _NULL_TEXT,
        "details": _METADATA,
        "address": _NULL_TEXT,
    }
    return {
        "Deleted": _closed({"deleted": {"const": True}, "conversation_id": text}),
        "FeedbackAdded": _closed({"feedback": _closed(feedback)}),
        "ScoreAdded": _closed({"score": _closed(score)}),
        "Retention": _closed(
            {"project": text, "retention_days": {"type": ["integer", "null"], "minimum": 1}},
            "null retention_days: kept for ever.",
        ),
        "Erased": _closed(
            {"customer_id": text, **dict.fromkeys(("conversations", "events", "feedback"), _COUNT)}
        ),
        "AuditPage": _closed(
            {
                "entries": _list(_closed(entry), "Newest first."),
                "next_before": {
                    "type": ["integer", "null"],
                    "description": "The before of the next page; null on the last.",
                },
            }
        ),
        "Health": _closed({"status": {"const": "ok"}}),
    }


def answer_schemas() -> dict[str, Any]:
    """The component schemas of the query API's answers."""
    return {
        **_conversation_schemas(),
        **_report_schemas(),
        **_metrics_schemas(),
        **_change_schemas(),
    }
