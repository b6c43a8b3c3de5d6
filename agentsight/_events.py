"""The event kinds of the wire schema, version 1, as plain tuples.

An event is built on every tracking call and may sit in the buffer for a
while, so it is the cheapest value that holds it: a plain ``tuple``

    (type, conversation_id, seq, timestamp, *the kind's own fields in wire order)

with ``timestamp`` in UTC nanoseconds since the epoch (an int, ``time.time_ns()``
as it is: the batcher turns it into microseconds, which saves the call a
division), and a
``metadata`` mapping kept as one flat tuple, its keys then its values
(``(*mapping, *mapping.values())``: a copy taken at the call, so the caller
changing its dict later changes nothing).

Why not one class per kind: CPython's garbage collector tracks every class
instance and every dict for good, and a buffer of tens of thousands of
tracked events made its full passes hold the event loop for 20-30 ms (the
loop-lag row of ``benchmarks/peers``).  A tuple holding only strings,
numbers and tuples of those is untracked after its first young-generation
pass, so a full buffer costs the collector nothing.  (Flat: a tuple of
``(key, value)`` pairs stays tracked through several passes, measured; the
pairs are untracked one pass after their container is examined.)  Tuples are also
immutable and build in a fraction of the time of an attrs instance, and
``import agentsight`` no longer needs ``attrs``.

The idempotency ``id`` is *not* on the event: it is assigned once, in the
background, when the event is first put into a batch, and travels with the
encoded batch through retries and the spool (see ``_encode.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "CONVERSATION_FIELDS",
    "FIELDS",
    "WIRE_SCHEMA_VERSION",
    "Event",
    "action",
    "button",
    "conversation",
    "items",
    "mapping",
    "message",
    "payload",
    "token_usage",
]

WIRE_SCHEMA_VERSION = 1

#: ``(type, conversation_id, seq, timestamp, *fields)``; see the module docstring.
Event = tuple[Any, ...]
#: A metadata mapping as its keys followed by its values.
Items = tuple[Any, ...]

#: Conversation attributes, in the order of the reference page's parameters.
CONVERSATION_FIELDS = (
    "customer_id",
    "customer_ip_address",
    "device",
    "source",
    "language",
    "name",
    "environment",
    "metadata",
)
MESSAGE_FIELDS = ("sender", "content", "metadata", "attachments", "truncated")
ACTION_FIELDS = (
    "action_name",
    "started_at",
    "ended_at",
    "duration_ms",
    "tools_used",
    "response",
    "error_msg",
    "metadata",
)
BUTTON_FIELDS = ("button_event", "label", "value", "metadata")
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens")

#: Wire names of each kind's own fields, in wire order (the tuple's items from index 4).
FIELDS: dict[str, tuple[str, ...]] = {
    "conversation": (*CONVERSATION_FIELDS, "is_used"),
    "interaction": (*CONVERSATION_FIELDS, "is_used"),
    "message": MESSAGE_FIELDS,
    "action": ACTION_FIELDS,
    "button": BUTTON_FIELDS,
    "token_usage": TOKEN_FIELDS,
}
#: Index of a message's ``content``.
CONTENT_INDEX = 4 + MESSAGE_FIELDS.index("content")


def items(metadata: Mapping[str, Any] | None) -> Items | None:
    """A metadata mapping as the flat tuple events keep (a copy): keys, then values."""
    return None if metadata is None else (*metadata, *metadata.values())


def mapping(flat: Items) -> dict[str, Any]:
    """The metadata dict back from its flat tuple."""
    half = len(flat) >> 1
    return {flat[i]: flat[i + half] for i in range(half)}


def payload(event: Event) -> dict[str, Any]:
    """The kind's own fields as a dict (no id, type, conversation, seq, timestamp)."""
    fields = dict(zip(FIELDS[event[0]], event[4:], strict=True))
    if "metadata" in fields and fields["metadata"] is not None:
        fields["metadata"] = mapping(fields["metadata"])
    return fields


# Builders for the colder paths and for tests; the hot calls of the tracker
# write the tuple literal themselves (a call costs as much as the tuple).


def conversation(
    conversation_id: str,
    seq: int,
    timestamp: int,
    customer_id: str | None,
    customer_ip_address: str | None,
    device: str | None,
    source: str | None,
    language: str | None,
    name: str | None,
    environment: str,
    metadata: Mapping[str, Any] | None,
    is_used: bool,
) -> Event:
    """``get_or_create_conversation`` (``is_used``: type ``conversation``) or
    ``initialize_conversation`` (type ``interaction``)."""
    return (
        "conversation" if is_used else "interaction",
        conversation_id,
        seq,
        timestamp,
        customer_id,
        customer_ip_address,
        device,
        source,
        language,
        name,
        environment,
        items(metadata),
        is_used,
    )


def message(
    conversation_id: str,
    seq: int,
    timestamp: int,
    sender: str,
    content: str,
    metadata: Mapping[str, Any] | None = None,
    attachments: list[Any] | None = None,
    truncated: bool = False,
) -> Event:
    """A message from the end user (``sender="end_user"``) or the agent."""
    return (
        "message",
        conversation_id,
        seq,
        timestamp,
        sender,
        content,
        items(metadata),
        attachments,
        truncated,
    )


def action(
    conversation_id: str,
    seq: int,
    timestamp: int,
    action_name: str,
    started_at: str | None,
    ended_at: str | None,
    duration_ms: float | None,
    tools_used: Any,
    response: str | None,
    error_msg: str | None,
    metadata: Mapping[str, Any] | None,
) -> Event:
    """A tool call or other action the agent ran."""
    return (
        "action",
        conversation_id,
        seq,
        timestamp,
        action_name,
        started_at,
        ended_at,
        duration_ms,
        tools_used,
        response,
        error_msg,
        items(metadata),
    )


def button(
    conversation_id: str,
    seq: int,
    timestamp: int,
    button_event: str,
    label: str,
    value: str,
    metadata: Mapping[str, Any] | None,
) -> Event:
    """A button the end user pressed."""
    return ("button", conversation_id, seq, timestamp, button_event, label, value, items(metadata))


def token_usage(
    conversation_id: str,
    seq: int,
    timestamp: int,
    prompt_tokens: int,
    completion_tokens: int,
    total_tokens: int,
    embedding_tokens: int,
) -> Event:
    """Tokens used by one model call; the collector sums them per conversation."""
    return (
        "token_usage",
        conversation_id,
        seq,
        timestamp,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        embedding_tokens,
    )
