"""The storage interface the collector talks to, and ``open_storage``.

One small async interface, so that the SQLite file of a single machine and a
PostgreSQL server shared by several collectors can sit behind the same views.
Every method that touches conversations takes the ``project_id`` of the
caller's key: nothing crosses projects.

Conversations and events come back as JSON-ready dicts in the shape the API
answers with, so each implementation owns the mapping from its rows.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .._analytics import MetricsQuery

__all__ = [
    "ConversationChanges",
    "ConversationPage",
    "ConversationQuery",
    "Feedback",
    "KeyInfo",
    "NewEvent",
    "Storage",
    "StorageUnavailable",
    "WriteResult",
    "open_storage",
]


class StorageUnavailable(Exception):
    """The database cannot take the request now (locked, full, unreachable): retry later."""


@attrs.define(slots=True)
class NewEvent:
    """One validated event of a batch, ready to store.

    ``payload`` holds the kind's own wire fields; ``timestamp`` is in
    microseconds.  ``country`` is the server's geo look-up for
    ``conversation``/``interaction`` events.
    """

    id: str
    type: str
    conversation_id: str
    seq: int
    timestamp: int
    payload: dict[str, Any]
    country: str | None = None


@attrs.frozen
class WriteResult:
    """What a committed batch did: events newly stored, and ids already stored."""

    accepted: int
    duplicates: int


@attrs.frozen
class KeyInfo:
    """An API key as listed: never the key itself, only its redacted form."""

    id: int
    project: str
    redacted: str
    created_at: str
    revoked_at: str | None


@attrs.frozen
class ConversationQuery:
    """Filters and page position for listing conversations; ``None`` means no filter."""

    limit: int = 50
    before: int | None = None  # keyset position: only rows created before this one
    customer_id: str | None = None
    source: str | None = None
    device: str | None = None
    language: str | None = None
    environment: str | None = None
    country: str | None = None
    is_used: bool | None = None
    is_marked: bool | None = None
    sentiment: str | None = None
    since: int | None = None
    until: int | None = None
    q: str | None = None


@attrs.frozen
class ConversationPage:
    """One page of conversations, newest first, and where the next page starts."""

    conversations: list[dict[str, Any]]
    next_before: int | None


@attrs.frozen
class ConversationChanges:
    """A management update: only the fields given (not ``None``) change.

    ``metadata`` is a JSON merge patch (RFC 7396): keys set to ``null`` are removed.
    """

    name: str | None = None
    metadata: dict[str, Any] | None = None
    is_marked: bool | None = None


@attrs.frozen
class Feedback:
    """Feedback on a conversation."""

    sentiment: str
    comment: str | None = None
    metadata: dict[str, Any] | None = None


class Storage(abc.ABC):
    """Where the collector keeps projects, keys, conversations and events."""

    @abc.abstractmethod
    async def write_batch(self, project_id: int, events: Sequence[NewEvent]) -> WriteResult:
        """Store *events* in one transaction; ids already stored count as duplicates.

        Raises:
            StorageUnavailable: nothing was stored; the client should retry.
        """

    @abc.abstractmethod
    async def project_for_key(self, key_hash: str) -> int | None:
        """The project of a live (not revoked) key, by its hash."""

    @abc.abstractmethod
    async def live_key_hashes(self) -> frozenset[str]:
        """The hashes of every live (not revoked) key, of every project.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def create_key(self, project: str, key_hash: str, redacted: str) -> KeyInfo:
        """Record a new key for *project*, creating the project if needed."""

    @abc.abstractmethod
    async def list_keys(self) -> list[KeyInfo]:
        """Every key of every project, oldest first."""

    @abc.abstractmethod
    async def revoke_key(self, key_hash: str) -> bool:
        """Revoke a key by its hash; ``False`` when no live key has it."""

    @abc.abstractmethod
    async def list_conversations(
        self, project_id: int, query: ConversationQuery
    ) -> ConversationPage:
        """One page of the project's conversations matching *query*, newest first."""

    @abc.abstractmethod
    async def get_conversation(
        self, project_id: int, conversation_id: str
    ) -> dict[str, Any] | None:
        """A conversation with its feedback, or ``None`` when the project has none by that id."""

    @abc.abstractmethod
    async def list_events(self, project_id: int, conversation_id: str) -> list[dict[str, Any]]:
        """The conversation's events in ``(timestamp, seq)`` order, with every wire field."""

    @abc.abstractmethod
    async def update_conversation(
        self, project_id: int, conversation_id: str, changes: ConversationChanges
    ) -> bool:
        """Apply a management update; ``False`` when there is no such conversation."""

    @abc.abstractmethod
    async def delete_conversation(self, project_id: int, conversation_id: str) -> bool:
        """Delete a conversation, its events and feedback; ``False`` when there is none."""

    @abc.abstractmethod
    async def add_feedback(self, project_id: int, conversation_id: str, feedback: Feedback) -> bool:
        """Add feedback to a conversation; ``False`` when there is no such conversation."""

    @abc.abstractmethod
    async def metrics(self, project_id: int, query: MetricsQuery) -> dict[str, Any]:
        """The analytics of ``GET /v1/metrics``, every figure computed in the database."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Finish queued writes and release connections and threads."""


async def open_storage(url_or_path: str | Path, **options: Any) -> Storage:
    """Open (and create or migrate when needed) the storage at *url_or_path*.

    A plain path or a ``sqlite:///path`` URL opens a SQLite file; a
    ``postgresql://`` (or ``postgres://``) URL opens a PostgreSQL database,
    with the ``postgres`` extra.  *options* go to the implementation (SQLite:
    ``busy_timeout``, seconds; PostgreSQL: ``max_connections`` of the pool).

    Raises:
        ValueError: the URL names a database this version cannot open.
    """
    text = str(url_or_path)
    if text.startswith(("postgres://", "postgresql://")):
        from ._postgres import PostgresStorage

        return await PostgresStorage.open(text, **options)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise ValueError(f"storage URL: expected a path or sqlite:///path, got {text!r}")
    from ._sqlite import SQLiteStorage

    return await SQLiteStorage.open(Path(text), **options)
