"""The OpenAPI 3.1 document of the collector's API.

The routes are declared here; the batch, its events and the answer are
generated from the wire schema (``agentsight._wire``), with the collector's
default limits, so the document cannot drift from what the validator checks.
The schemas of the query API's answers are in ``_openapi_answers``.
"""

from __future__ import annotations

import functools
from typing import Any

from .. import _wire as wire
from ._http._passwords import MAX_PASSWORD
from ._openapi_answers import STORED_EVENT_FIELDS, answer_schemas
from ._openapi_parts import array, closed
from ._openapi_parts import ref as _ref
from ._options import ServerOptions
from .storage._reports import CUSTOMER_SORTS

__all__ = ["openapi_document"]

_ERROR = {"$ref": "#/components/responses/Error"}
_RETRY_LATER = {"$ref": "#/components/responses/RetryLater"}
_AUTH_ERRORS = {
    "400": _ERROR,
    "401": _ERROR,
    "403": _ERROR,
    "429": _RETRY_LATER,
    "503": _RETRY_LATER,
}
# Routes with a request body: it must arrive within the collector's body_timeout.
_BODY_ERRORS = {**_AUTH_ERRORS, "408": _ERROR, "413": _ERROR, "415": _ERROR}
_CID = {"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "string"}}
_NULL_TEXT = {"type": ["string", "null"]}
_OBJECT_OR_NULL = {"type": ["object", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_LIST_PARAMS = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "Page size."),
    _query("cursor", {"type": "string"}, "The next_cursor of the previous page."),
    _query(
        "sort",
        {"type": "string", "enum": ["created", "last_activity", "started", "duration", "messages"]},
        "The order (default created: newest first); ties by creation.",
    ),
    _query("order", {"type": "string", "enum": ["desc", "asc"]}, "Default desc."),
    _query(
        "total",
        {"type": "boolean"},
        "Count the matches on the first page (default true; false saves a scan).",
    ),
    *(
        _query(name, {"type": "string"}, f"Only conversations with this {name}.")
        for name in ("customer_id", "source", "language", "country")
    ),
    _query("device", {"enum": ["desktop", "mobile"]}, "Only this device."),
    _query("environment", {"enum": ["production", "development"]}, "Only this environment."),
    _query("is_used", {"type": "boolean"}, "Used (get_or_create) or only initialised."),
    _query("is_marked", {"type": "boolean"}, "Marked or not."),
    _query("sentiment", {"enum": ["positive", "neutral", "negative"]}, "Has feedback with it."),
    _query("since", {"type": "string", "format": "date-time"}, "Started at or after."),
    _query("until", {"type": "string", "format": "date-time"}, "Started before."),
    _query(
        "q",
        {"type": "string"},
        "Text in a message (case-insensitive for ASCII); read through the search index"
        " when the database has one (`agentsight search-index`).",
    ),
    _query("score", {"type": "string"}, "Has a score of this name."),
    _query("score_min", {"type": "number"}, "With score: of at least this value."),
    _query("score_max", {"type": "number"}, "With score: of at most this value."),
    _query("score_value", {"type": "string"}, "With score: this category (or true/false)."),
]


_METRICS_PARAMS = [
    p
    for p in _LIST_PARAMS
    if p["name"]
    in ("customer_id", "source", "language", "country", "device", "environment", "since", "until")
] + [
    _query("tz", {"type": "string", "default": "UTC"}, "IANA time zone of days and hours."),
    _query(
        "escalation_actions",
        {"type": "string"},
        "Comma-separated action names that count as a hand-over to a human"
        " (default fallback_to_human,open_ticket,ticket,contact_human).",
    ),
    _query(
        "rating_events",
        {"type": "string"},
        "Comma-separated button events whose values are ratings; a trailing * matches"
        " a prefix (default rate,rating,rate_*,rating_*).",
    ),
]


def _report_paths(secured: list[dict[str, list[str]]]) -> dict[str, Any]:
    """Customers, unhandled messages, metadata values and the pick-lists' values."""

    def get(summary: str, params: list[dict[str, Any]], schema: str) -> dict[str, Any]:
        answer = {"200": _json(_ref(schema)), **_AUTH_ERRORS}
        return {
            "get": {
                "summary": summary,
                "security": secured,
                "parameters": params,
                "responses": answer,
            }
        }

    limit = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    return {
        "/v1/customers": get(
            "Per customer of the selected conversations: conversations, messages, first and"
            " last seen, feedback, escalations, tokens, cost; sorted, paged by limit and offset.",
            [
                *_METRICS_PARAMS,
                _query(
                    "sort", {"type": "string", "enum": list(CUSTOMER_SORTS)}, "Default last_seen."
                ),
                _query("limit", limit, "Customers listed."),
                _query(
                    "offset",
                    {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
                    "Customers skipped.",
                ),
            ],
            "CustomerPage",
        ),
        "/v1/metrics/unhandled": get(
            "The user messages right before an escalation action or negative feedback,"
            " grouped by normalised text, most frequent first.",
            [*_METRICS_PARAMS, _query("limit", limit, "Groups listed.")],
            "Unhandled",
        ),
        "/v1/metrics/metadata": get(
            "The top values of one metadata key of the selected conversations, or of their"
            " messages, with counts.",
            [
                *_METRICS_PARAMS,
                _query(
                    "key", {"type": "string"}, "The metadata key; without it, the keys present."
                ),
                _query(
                    "of",
                    {"type": "string", "enum": ["conversations", "messages"]},
                    "Default conversations.",
                ),
            ],
            "MetadataReport",
        ),
        "/v1/filter-values": get(
            "The sources, languages, countries, environments and devices present in the"
            " project, most frequent first.",
            [],
            "FilterValues",
        ),
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _admin_paths() -> dict[str, Any]:
    """Retention, erasure, the audit log, users, and the dashboard's session."""
    keyed: list[dict[str, list[str]]] = [{"apiKey": []}, {"session": []}]
    users_only: list[dict[str, list[str]]] = [{"session": []}]
    retention = {
        "type": "object",
        "required": ["retention_days"],
        "properties": {"retention_days": _INT_OR_NULL},
        "additionalProperties": False,
    }
    user_id = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/v1/retention": {
            "get": {
                "summary": "The project's retention period in days (null: kept for ever)."
                " Scope read or admin.",
                "security": keyed,
                "responses": {"200": _json(_ref("Retention")), **_AUTH_ERRORS},
            },
            "put": {
                "summary": "Set it: conversations whose last event is older are deleted in the"
                " background, in small transactions.  Scope admin.",
                "security": keyed,
                "requestBody": _body(retention),
                "responses": {"200": _json(_ref("Retention")), **_BODY_ERRORS},
            },
        },
        "/v1/erasure": {
            "post": {
                "summary": "Delete every conversation, event and feedback of one customer_id"
                " in the project; answers the counts (GDPR article 17).  Scope admin.",
                "security": keyed,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["customer_id"],
                        "properties": {"customer_id": {"type": "string"}},
                        "additionalProperties": False,
                    }
                ),
                "responses": {"200": _json(_ref("Erased")), **_BODY_ERRORS},
            }
        },
        "/v1/audit": {
            "get": {
                "summary": "The audit log, newest first: key, user, retention changes,"
                " deletions and erasures, with who, when and from where.  Scope admin.",
                "security": keyed,
                "parameters": [
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Size."),
                    _query("before", {"type": "integer"}, "The next_before of the last page."),
                ],
                "responses": {"200": _json(_ref("AuditPage")), **_AUTH_ERRORS},
            }
        },
        "/v1/users": {
            "get": {
                "summary": "Dashboard users, their roles and projects.  Admin users only.",
                "security": users_only,
                "responses": {"200": _json(_ref("Users")), **_AUTH_ERRORS},
            }
        },
        "/v1/users/{user_id}/projects": {
            "parameters": [user_id],
            "put": {
                "summary": "The projects a viewer may open.  Admin users only.",
                "security": users_only,
                "requestBody": _body(
                    closed(
                        {
                            "projects": array(
                                {"type": "string"},
                                "Every project the viewer may open, by name: the grants"
                                " are replaced; each must exist.",
                                most=10_000,
                            )
                        }
                    )
                ),
                "responses": {"200": _json(_ref("UserChanged")), **_BODY_ERRORS, "404": _ERROR},
            },
        },
        "/v1/session": {
            "post": {
                "summary": "Sign in to the dashboard with an e-mail address and password; sets"
                " an HttpOnly, SameSite=Strict session cookie.",
                "security": [],
                "requestBody": _body(
                    closed(
                        {
                            "email": {
                                "type": "string",
                                "description": "An address such as ops@example.com; surrounding"
                                " spaces and case do not matter.",
                            },
                            "password": {"type": "string", "maxLength": MAX_PASSWORD},
                        }
                    )
                ),
                "responses": {"200": _json(_ref("Session")), **_BODY_ERRORS},
            },
            "get": {
                "summary": "The signed-in user, its projects and the session's CSRF token.",
                "security": users_only,
                "responses": {"200": _json(_ref("Session")), **_AUTH_ERRORS},
            },
            "delete": {
                "summary": "Sign out.",
                "security": users_only,
                "responses": {"200": _json(_ref("SignedOut")), **_AUTH_ERRORS},
            },
        },
    }


def _traces(secured: list[dict[str, list[str]]]) -> dict[str, Any]:
    """OTLP/HTTP: its messages are OpenTelemetry's protobuf ones (docs/opentelemetry.md)."""
    otlp = "an OTLP ExportTrace{}, protobuf or OTLP/JSON (the request's Content-Type)"
    status = {
        "description": "A google.rpc.Status (code, message) in the request's encoding",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    return {
        "post": {
            "summary": "Store OpenTelemetry GenAI and OpenInference spans (OTLP/HTTP).",
            "security": secured,
            "requestBody": {
                "required": True,
                "description": otlp.format("ServiceRequest"),
                "content": {
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "200": {
                    "description": otlp.format("ServiceResponse")
                    + "; partialSuccess counts the spans rejected",
                    "content": {
                        "application/x-protobuf": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                        "application/json": {"schema": {"type": "object"}},
                    },
                },
                **dict.fromkeys(("400", "401", "403", "408", "413", "415", "429", "503"), status),
            },
        }
    }


def _paths() -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"apiKey": []}, {"session": []}]
    return _admin_paths() | {
        "/v1/batch": {
            "post": {
                "summary": "Store a batch (wire schema 1 or 2); answers after the commit.",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Batch")}},
                },
                "responses": {"200": _json(_ref("BatchAnswer")), **_BODY_ERRORS},
            }
        },
        "/v1/traces": _traces(secured),
        "/v1/conversations": {
            "get": {
                "summary": "List conversations, newest first, with filters and a cursor.",
                "security": secured,
                "parameters": _LIST_PARAMS,
                "responses": {"200": _json(_ref("ConversationPage")), **_AUTH_ERRORS},
            }
        },
        "/v1/conversations/{conversation_id}": {
            "parameters": [_CID],
            "get": {
                "summary": "One conversation and its events in (timestamp, seq) order.",
                "security": secured,
                "responses": {
                    "200": _json(_ref("ConversationDetail")),
                    **_AUTH_ERRORS,
                    "404": _ERROR,
                },
            },
            "patch": {
                "summary": "Rename, mark, or merge metadata (JSON merge patch).",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ConversationChanges")}},
                },
                "responses": {
                    "200": _json(_ref("ConversationChanged")),
                    **_BODY_ERRORS,
                    "404": _ERROR,
                },
            },
            "delete": {
                "summary": "Delete the conversation, its events and its feedback.",
                "security": secured,
                "responses": {"200": _json(_ref("Deleted")), **_AUTH_ERRORS, "404": _ERROR},
            },
        },
        "/v1/conversations/{conversation_id}/feedback": {
            "parameters": [_CID],
            "post": {
                "summary": "Add feedback to a conversation.",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Feedback")}},
                },
                "responses": {
                    "201": _json(_ref("FeedbackAdded"), "Created"),
                    **_BODY_ERRORS,
                    "404": _ERROR,
                },
            },
        },
        "/v1/conversations/{conversation_id}/scores": {
            "parameters": [_CID],
            "post": {
                "summary": "Score a conversation or one of its messages (people, evaluation jobs).",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Score")}},
                },
                "responses": {
                    "201": _json(_ref("ScoreAdded"), "Created"),
                    **_BODY_ERRORS,
                    "404": _ERROR,
                },
            },
        },
        "/v1/conversations/{conversation_id}/attachments/{event_id}/{index}": {
            "parameters": [
                _CID,
                {"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "index", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "get": {
                "summary": "The bytes of one file of an attachment event, as a download.",
                "security": secured,
                "responses": {
                    "200": {
                        "description": "The file, with Content-Disposition: attachment",
                        "content": {"application/octet-stream": {}},
                    },
                    **_AUTH_ERRORS,
                    "404": _ERROR,
                },
            },
        },
        "/v1/metrics": {
            "get": {
                "summary": "Analytics of the conversations matching the filters, computed in"
                " the database: totals, engagement, response times (nearest-rank p50/p95),"
                " durations, peak hours, daily series, tools, escalation, feedback,"
                " breakdowns, token usage, cost (by model, day, customer) and scores.",
                "security": secured,
                "parameters": _METRICS_PARAMS,
                "responses": {"200": _json(_ref("Metrics")), **_AUTH_ERRORS},
            }
        },
        "/v1/metrics/summary": {
            "get": {
                "summary": "The headline figures of /v1/metrics alone, equal to its own:"
                " totals, engagement, response times, durations, escalation, feedback,"
                " buttons, customers, token and cost totals (what the overview compares"
                " with the previous period), without the work of the series, breakdowns,"
                " cohorts, tool percentiles and scores.",
                "security": secured,
                "parameters": _METRICS_PARAMS,
                "responses": {"200": _json(_ref("MetricsSummary")), **_AUTH_ERRORS},
            }
        },
        **_report_paths(secured),
        "/": {
            "get": {
                "summary": "The dashboard (signs in with an e-mail address and password).",
                "security": [],
                "responses": {"200": {"description": "HTML page"}},
            }
        },
        "/static/{name}": {
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "summary": "A script, style sheet or image of the dashboard.",
                "security": [],
                "responses": {"200": {"description": "The file"}, "404": _ERROR},
            },
        },
        "/v1/health": {
            "get": {
                "summary": "Liveness.",
                "security": [],
                "responses": {"200": _json(_ref("Health"))},
            }
        },
        "/v1/openapi.json": {
            "get": {
                "summary": "This document.",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
    }


def _kind_schema(name: str) -> str:
    return "Event" + "".join(part.title() for part in name.split("_"))


def _wire_schemas(options: ServerOptions) -> dict[str, Any]:
    """``Batch``, ``Event`` (one schema per kind) and ``BatchAnswer``, from ``_wire``."""
    limits = {"content": options.max_content_chars, "json_chars": options.max_json_chars}
    common = {field.name: wire.json_schema(field, **limits) for field in wire.COMMON}
    common["id"]["pattern"] = f"^{wire.EVENT_ID_PATTERN}$"
    rejected = {
        "index": {"type": "integer", "minimum": 0, "description": "Its place in the batch."},
        "id": {**_NULL_TEXT, "description": "Its id, when it had a usable one."},
        "error": {"type": "string", "description": "The first bad field, what was expected."},
    }
    kinds: dict[str, Any] = {}
    for kind, fields in wire.SPECS.items():
        own = {field.name: wire.json_schema(field, **limits) for field in fields}
        kinds[_kind_schema(kind)] = {
            "type": "object",
            "required": [f.name for f in (*wire.COMMON, *fields) if f.default is wire.REQUIRED],
            "properties": {
                **common,
                "type": {"const": kind},
                **own,
                **STORED_EVENT_FIELDS.get(kind, {}),
            },
            "additionalProperties": True,
        }
    return {
        "Batch": {
            "type": "object",
            "required": ["schema", "events"],
            "properties": {
                "schema": {"enum": list(wire.SCHEMA_VERSIONS)},
                "sent_at": {"type": "string", "format": "date-time"},
                "events": {"type": "array", "maxItems": options.max_events, "items": _ref("Event")},
            },
            "additionalProperties": False,
        },
        "Event": {
            "description": "See docs/wire-schema.md.",
            "oneOf": [_ref(name) for name in kinds],
            "discriminator": {
                "propertyName": "type",
                "mapping": {
                    kind: f"#/components/schemas/{_kind_schema(kind)}" for kind in wire.KINDS
                },
            },
        },
        **kinds,
        "BatchAnswer": closed(
            {
                **{name: {"type": "integer", "minimum": 0} for name in wire.ANSWER_COUNTS},
                "rejected": array(closed(rejected), "In the batch's order."),
            },
            "accepted + duplicates + the rejected add up to the batch's events.",
        ),
    }


def _schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        **_wire_schemas(ServerOptions()),
        **answer_schemas(),
        "ConversationChanges": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "metadata": {"type": "object"},
                "is_marked": {"type": "boolean"},
            },
        },
        "Score": {
            "type": "object",
            "required": ["name", "value"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 256},
                "value": {"type": ["number", "boolean", "string"], "maxLength": 256},
                "comment": _NULL_TEXT,
                "message_id": _NULL_TEXT,
                "source": {"enum": ["api", "human"], "default": "api"},
                "metadata": _OBJECT_OR_NULL,
            },
        },
        "Feedback": {
            "type": "object",
            "required": ["sentiment"],
            "additionalProperties": False,
            "properties": {
                "sentiment": {"enum": ["positive", "neutral", "negative"]},
                "comment": _NULL_TEXT,
                "metadata": _OBJECT_OR_NULL,
            },
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document served at ``/v1/openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "AgentSight collector", "version": "1"},
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "responses": {
                "Error": _json(_ref("Error"), "A JSON error naming what was wrong."),
                "RetryLater": {
                    **_json(
                        _ref("Error"),
                        "Rate limit (429) or storage unavailable (503): retry after a while.",
                    ),
                    "headers": {
                        "Retry-After": {
                            "description": "Whole seconds to wait before retrying, at least 1.",
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    },
                },
            },
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Bearer ags_... (or Api-Key ags_...).  A key's scope says"
                    " what it may do: ingest (sending only: POST /v1/batch, /v1/traces and"
                    " the official SDKs' /api/ writes), read (the GET routes), admin"
                    " (everything in its project).  GET /api/me/ answers a key of any scope.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "agentsight_session",
                    "description": "The dashboard's session (POST /v1/session).  The project"
                    " is named in X-AgentSight-Project (percent-encoded); a change also"
                    " carries the session's csrf_token in X-CSRF-Token.",
                },
            },
        },
        "security": [{"apiKey": []}],
    }
