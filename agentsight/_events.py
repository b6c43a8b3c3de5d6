"""Events as the SDK keeps them in memory: plain tuples in the wire order of ``_wire``.

    (type, conversation_id, seq, timestamp, *the kind's own fields in wire order)

``timestamp`` is ``time.time_ns()`` as taken at the call (the batcher cuts it
to the wire's microseconds), and a ``metadata`` mapping is kept as one flat
tuple, its keys then its values: a copy taken at the call, so the caller
changing its dict later changes nothing.

Why tuples and not a class per kind: CPython's garbage collector tracks
every class instance and dict for good, so a full buffer of them makes every
full collection walk it, on the application's loop.  A tuple holding only
strings, numbers and tuples of those is untracked after its first young
pass, and it is immutable and the cheapest value to build.  (Metadata is
flat rather than a tuple of pairs for the same reason: nested pairs stay
tracked longer.)

The idempotency ``id`` is not on the event: the batcher assigns it once, when
the event first goes into a batch, and it travels with the encoded batch
through retries and the spool (see ``_encode.py``).  The exception: a message
that an ``attachment`` event links to (0.0.44's files on a message call) gets
its id at the call, kept aside (``give_id``) for the batcher to use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._wire import MESSAGE_FIELDS

__all__ = [
    "CONTENT_INDEX",
    "OWN_IDS",
    "Event",
    "conversation",
    "give_id",
    "items",
    "mapping",
    "message",
    "take_own_ids",
]

#: ``(type, conversation_id, seq, timestamp, *fields)``; see the module docstring.
Event = tuple[Any, ...]
#: A metadata mapping as its keys followed by its values.
Items = tuple[Any, ...]

#: Index of a message's ``content``.
CONTENT_INDEX = 4 + MESSAGE_FIELDS.index("content")


#: Events given their id at the call, by ``id(event)``: ``(event, event id)``.  Holding
#: the event keeps its ``id()`` from being reused.  Rare (a message that files link
#: to), so the batcher checks this dict once per chunk, not each event.
OWN_IDS: dict[int, tuple[Event, str]] = {}
#: Most ids kept aside: events dropped before they were encoded leave theirs here,
#: and the oldest are forgotten (their files then link to no stored message).
_MAX_OWN_IDS = 1024


def give_id(event: Event, event_id: str) -> None:
    """Have *event* sent with *event_id* instead of an id of the batcher's."""
    OWN_IDS[id(event)] = (event, event_id)
    while len(OWN_IDS) > _MAX_OWN_IDS:
        try:  # another thread may take one meanwhile: then there is room
            del OWN_IDS[next(iter(OWN_IDS))]
        except (KeyError, RuntimeError, StopIteration):
            break


def take_own_ids(events: list[Event], ids: list[str]) -> None:
    """Put in *ids* the ids given at the call to any of *events* (see ``give_id``)."""
    for index, event in enumerate(events):
        own = OWN_IDS.pop(id(event), None)
        if own is not None and own[0] is event:
            ids[index] = own[1]


def items(metadata: Mapping[str, Any] | None) -> Items | None:
    """A metadata mapping as the flat tuple events keep (a copy): keys, then values."""
    return None if metadata is None else (*metadata, *metadata.values())


def mapping(flat: Items) -> dict[str, Any]:
    """The metadata dict back from its flat tuple."""
    half = len(flat) >> 1
    return {flat[i]: flat[i + half] for i in range(half)}


# Builders for tests and cold paths; the tracker's hot calls write the tuple literal
# themselves (a call costs as much as building the tuple).


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
