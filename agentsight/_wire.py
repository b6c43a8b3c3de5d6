"""The wire schema, version 2: one description for the SDK and the collector.

Everything both halves must agree on is written here once: the event kinds,
the fields of each kind in wire order with their types, defaults and limits,
the batch envelope and the answer.  The SDK's encoder and argument checks,
the collector's validator, its OpenAPI document, storage's column lists,
export and the PostgreSQL import all read it, and a test checks
``docs/wire-schema.md`` against it.  No dependencies: ``import agentsight``
loads it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "ACTION_FIELDS",
    "ANSWER_COUNTS",
    "BATCH_FIELDS",
    "BUTTON_FIELDS",
    "COMMON",
    "CONTENT",
    "CONVERSATION_ATTRIBUTES",
    "CONVERSATION_FIELDS",
    "DEVICES",
    "ENVIRONMENTS",
    "EVENT_ID_PATTERN",
    "EVENT_YEARS",
    "FIELDS",
    "JSON",
    "KINDS",
    "LONG",
    "MAX_DURATION_MS",
    "MAX_INT",
    "MAX_TIMESTAMP_CHARS",
    "MAX_TOKENS",
    "MESSAGE_FIELDS",
    "REQUIRED",
    "SCHEMA_VERSION",
    "NEW_IN_2",
    "SCHEMA_VERSIONS",
    "SCORE_FIELDS",
    "SCORE_SOURCES",
    "SENDERS",
    "SHORT",
    "SPECS",
    "TOKEN_FIELDS",
    "Field",
    "json_schema",
]

SCHEMA_VERSION = 2
#: The versions the collector accepts (see docs/wire-schema.md, "Versions").
SCHEMA_VERSIONS = (1, 2)

#: Longest id, customer id, source, language, action name (characters).
SHORT = 256
#: Longest conversation name, button event, label and value (characters).
LONG = 4096
#: Largest ``seq`` (and any other integer a database column holds).
MAX_INT = 2**63 - 1
#: Largest token count of one ``token_usage`` event: sums over billions of events
#: still fit 64 bits.
MAX_TOKENS = 10**9
#: Longest ``duration_ms`` (about 31 years): sums and averages stay finite.
MAX_DURATION_MS = 10**12
#: The years an event's own times (``timestamp``, ``started_at``, ``ended_at``) may
#: fall in: every local day and hour of the analytics, in any time zone, stays
#: within what dates can represent.
EVENT_YEARS = (1970, 2199)
#: Longest timestamp string the collector parses.
MAX_TIMESTAMP_CHARS = 64
#: An event id: 32 lowercase hex digits (the SDK writes UUIDv7s).
EVENT_ID_PATTERN = "[0-9a-f]{32}"

SENDERS = ("end_user", "agent")
SCORE_SOURCES = ("sdk", "api", "human")
DEVICES = ("desktop", "mobile")
ENVIRONMENTS = ("production", "development")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a field that every event of its kind must carry.
REQUIRED: Any = _Required()
#: Limit of ``content``, ``response`` and ``error_msg``: the collector's ``max_content_chars``.
CONTENT = -1
#: Limit of JSON values (``metadata``...): the collector's ``max_json_chars`` and ``max_depth``.
JSON = -2


class Field(NamedTuple):
    """One field of an event kind, as it travels.

    ``kind`` is the JSON type: ``string``, ``integer``, ``number``,
    ``boolean``, ``object``, ``array``, ``any`` (any JSON value) or
    ``timestamp`` (an RFC 3339 string).  ``limit`` is the longest string
    (``CONTENT``: the collector's content limit), the largest integer, or
    ``JSON`` for values bounded by the collector's JSON limits.
    """

    name: str
    kind: str  # "scalar": a number, a boolean, or a string of up to SHORT characters
    default: Any = None
    nullable: bool = True
    limit: int | None = None
    choices: tuple[str, ...] = ()
    min_chars: int = 0
    doc: str = ""


#: The conversation attributes of ``get_or_create_conversation``, in its parameters' order.
CONVERSATION_ATTRIBUTES = (
    Field("customer_id", "string", limit=SHORT),
    Field("customer_ip_address", "string", limit=SHORT),
    Field("device", "string", choices=DEVICES),
    Field("source", "string", limit=SHORT),
    Field("language", "string", limit=SHORT),
    Field("name", "string", limit=LONG),
    Field("environment", "string", REQUIRED, False, choices=ENVIRONMENTS),
    Field("metadata", "object", limit=JSON),
)

#: A step's own id and its parent step's (version 2): a turn's steps form a tree.
_STEP = (
    Field("step_id", "string", limit=SHORT, doc="this step's id (version 2)"),
    Field("parent_id", "string", limit=SHORT, doc="the enclosing step's id (version 2)"),
)

SPECS: dict[str, tuple[Field, ...]] = {
    # is_used: what a missing one means, and the only value accepted for the kind.
    "conversation": (*CONVERSATION_ATTRIBUTES, Field("is_used", "boolean", True, False)),
    "interaction": (*CONVERSATION_ATTRIBUTES, Field("is_used", "boolean", False, False)),
    "message": (
        Field("sender", "string", REQUIRED, False, choices=SENDERS),
        Field("content", "string", REQUIRED, False, CONTENT),
        Field("metadata", "object", limit=JSON),
        Field("attachments", "array", limit=JSON),
        Field("truncated", "boolean", False, False, doc="the SDK cut the content"),
    ),
    "action": (
        Field("action_name", "string", REQUIRED, False, SHORT, min_chars=1),
        Field("started_at", "timestamp"),
        Field("ended_at", "timestamp"),
        Field("duration_ms", "number", limit=MAX_DURATION_MS),
        Field("tools_used", "any", limit=JSON),
        Field("response", "string", limit=CONTENT),
        Field("error_msg", "string", limit=CONTENT),
        Field("metadata", "object", limit=JSON),
        *_STEP,
    ),
    "button": (
        Field("button_event", "string", REQUIRED, False, LONG),
        Field("label", "string", REQUIRED, False, LONG),
        Field("value", "string", REQUIRED, False, LONG),
        Field("metadata", "object", limit=JSON),
    ),
    "token_usage": (
        *(
            Field(name, "integer", 0, False, MAX_TOKENS)
            for name in ("prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens")
        ),
        Field("model", "string", limit=SHORT, doc="the model that answered (version 2)"),
        Field("provider", "string", limit=SHORT, doc="openai, anthropic... (version 2)"),
        Field(
            "cached_input_tokens",
            "integer",
            0,
            False,
            MAX_TOKENS,
            doc="of prompt_tokens, read from the provider's cache (version 2)",
        ),
        Field(
            "reasoning_tokens",
            "integer",
            0,
            False,
            MAX_TOKENS,
            doc="of completion_tokens, spent reasoning (version 2)",
        ),
        Field("started_at", "timestamp", doc="when the call started (version 2)"),
        Field("duration_ms", "number", limit=MAX_DURATION_MS, doc="(version 2)"),
        *_STEP,
    ),
    "score": (
        Field("name", "string", REQUIRED, False, SHORT, min_chars=1),
        Field("value", "scalar", REQUIRED, False, SHORT, doc="number, boolean or category"),
        Field("comment", "string", limit=CONTENT),
        Field("message_id", "string", limit=SHORT, doc="the scored message's event id"),
        Field("source", "string", "sdk", False, choices=SCORE_SOURCES),
        Field("metadata", "object", limit=JSON),
    ),
    # Files sent apart from their message, or on their own (the official SDKs'
    # POST /api/attachments/): descriptors here, the bytes kept by the collector.
    "attachment": (
        Field("sender", "string", choices=SENDERS),
        Field("message_id", "string", limit=SHORT, doc="the id of the message they belong to"),
        Field("files", "array", REQUIRED, False, JSON, doc="[{filename, mime_type, size}]"),
        Field("metadata", "object", limit=JSON),
    ),
}

KINDS = tuple(SPECS)

#: Fields every event has, before its kind's own.
COMMON = (
    Field("id", "string", REQUIRED, False, doc="idempotency key, kept through retries"),
    Field("type", "string", REQUIRED, False, choices=KINDS),
    Field("conversation_id", "string", REQUIRED, False, SHORT, min_chars=1),
    Field("seq", "integer", REQUIRED, False, MAX_INT, doc="per-conversation counter"),
    Field("timestamp", "timestamp", REQUIRED, False, doc="when the call was made"),
)

#: Each kind's own field names, in wire order (an SDK event tuple's items from index 4).
FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(field.name for field in fields) for kind, fields in SPECS.items()
}
CONVERSATION_FIELDS = tuple(field.name for field in CONVERSATION_ATTRIBUTES)
MESSAGE_FIELDS = FIELDS["message"]
ACTION_FIELDS = FIELDS["action"]
BUTTON_FIELDS = FIELDS["button"]
TOKEN_FIELDS = FIELDS["token_usage"][:4]
SCORE_FIELDS = FIELDS["score"]
#: The fields version 1 did not have, per kind (an old collector ignores them).
NEW_IN_2: dict[str, tuple[str, ...]] = {
    "action": ("step_id", "parent_id"),
    "token_usage": FIELDS["token_usage"][4:],
    "score": FIELDS["score"],
    "attachment": FIELDS["attachment"],
}


#: The keys of a batch; the collector refuses any other.
BATCH_FIELDS = ("schema", "sent_at", "events")
#: The counts of the collector's answer; with ``rejected`` they add up to the batch's events.
ANSWER_COUNTS = ("accepted", "duplicates")


def json_schema(field: Field, *, content: int, json_chars: int) -> dict[str, Any]:
    """*field* as a JSON Schema (for the OpenAPI document), with the collector's limits."""
    schema: dict[str, Any]
    if field.kind == "timestamp":
        schema = {"type": "string", "format": "date-time"}
    elif field.kind == "any":
        schema = {}
    elif field.kind == "scalar":
        schema = {"type": ["number", "boolean", "string"], "maxLength": field.limit}
    else:
        schema = {"type": field.kind}
    if field.kind == "object":  # metadata: any keys the caller chose
        schema["additionalProperties"] = True
    if field.choices:
        schema = {"enum": list(field.choices)}
    if field.kind == "string" and not field.choices:
        if field.min_chars:
            schema["minLength"] = field.min_chars
        if field.limit is not None:
            schema["maxLength"] = content if field.limit == CONTENT else field.limit
    if field.kind == "integer":
        schema["minimum"] = 0
        if field.limit is not None:
            schema["maximum"] = field.limit
    if field.kind == "number":
        schema["minimum"] = 0
        if field.limit is not None:
            schema["maximum"] = field.limit
    if field.limit == JSON:
        schema["description"] = f"at most about {json_chars} characters of JSON"
    if field.nullable and field.kind != "any":
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        else:
            schema["type"] = [schema["type"], "null"]
    if field.default is not REQUIRED and field.default is not None:
        schema["default"] = field.default
    if field.doc:
        schema.setdefault("description", field.doc)
    return schema
