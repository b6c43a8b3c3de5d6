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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .._metrics import MetricsQuery
    from ._reports import Report

__all__ = [
    "ROLES",
    "SCOPES",
    "AuditEntry",
    "ConversationChanges",
    "ConversationPage",
    "ConversationQuery",
    "Deleted",
    "Feedback",
    "KeyInfo",
    "LiveKey",
    "LoginRecord",
    "NewEvent",
    "ProjectInfo",
    "SessionRecord",
    "Storage",
    "StorageUnavailable",
    "UserInfo",
    "WriteResult",
    "open_storage",
]

#: What an API key may do: ``ingest`` only ``POST /v1/batch``; ``read`` the GET
#: routes; ``admin`` everything of its project.
SCOPES = ("ingest", "read", "admin")
#: What a dashboard user may do: ``viewer`` read the projects granted to it;
#: ``admin`` everything, in every project, and manage users.
ROLES = ("viewer", "admin")


class StorageUnavailable(Exception):
    """The database cannot take the request now (locked, full, unreachable): retry later."""


@attrs.define(slots=True)
class NewEvent:
    """One validated event of a batch, ready to store.

    ``payload`` holds the kind's own wire fields; ``timestamp`` is in
    microseconds.  ``country`` is the server's geo look-up for
    ``conversation``/``interaction`` events; ``cost_nanos`` the price of a
    ``token_usage`` event in nano-dollars (``None``: unpriced).
    """

    id: str
    type: str
    conversation_id: str
    seq: int
    timestamp: int
    payload: dict[str, Any]
    country: str | None = None
    cost_nanos: int | None = None


@attrs.frozen
class WriteResult:
    """What a committed batch did: events newly stored, and ids already stored."""

    accepted: int
    duplicates: int


@attrs.frozen
class KeyInfo:
    """An API key as listed: never the key itself, only its redacted form.

    .. versionchanged:: 0.2
       ``scope`` and ``last_used_at``.
    """

    id: int
    project: str
    redacted: str
    created_at: str
    revoked_at: str | None
    scope: str
    last_used_at: str | None


@attrs.frozen
class LiveKey:
    """A live key found by its hash: what a request made with it may do.

    .. versionadded:: 0.2
    """

    id: int
    project_id: int
    scope: str
    redacted: str


@attrs.frozen
class ProjectInfo:
    """A project and its retention period (``None``: kept for ever).

    .. versionadded:: 0.2
    """

    id: int
    name: str
    retention_days: int | None


@attrs.frozen
class UserInfo:
    """A dashboard user as listed (never the password hash).

    ``projects`` are the names granted to it (an admin sees every project
    whatever it was granted).

    .. versionadded:: 0.2
    """

    id: int
    email: str
    role: str
    created_at: str
    projects: tuple[str, ...]


@attrs.frozen
class LoginRecord:
    """What a login checks: the user and its password hash.

    .. versionadded:: 0.2
    """

    id: int
    email: str
    role: str
    password_hash: str


@attrs.frozen
class SessionRecord:
    """A dashboard session found by its token's hash, with its user.

    ``projects`` maps the names of the projects the user may open to their
    ids: those granted to a viewer, every project for an admin.  Times are
    microseconds.

    .. versionadded:: 0.2
    """

    user_id: int
    email: str
    role: str
    projects: dict[str, int]
    created_at: int
    expires_at: int
    last_seen_at: int


@attrs.frozen
class AuditEntry:
    """One line of the audit log: who did what, to what, from where.

    ``actor`` names a key (``key 3 ags_…_abc123``), a user (its e-mail), the
    command line (``cli``) or the collector itself (``collector``, for
    retention); ``project_id`` is ``None`` for what concerns the whole
    collector (users).

    .. versionadded:: 0.2
    """

    actor: str
    action: str
    project_id: int | None = None
    target: str | None = None
    details: dict[str, Any] | None = None
    address: str | None = None


@attrs.frozen
class Deleted:
    """What a deletion removed.

    .. versionadded:: 0.2
    """

    conversations: int = 0
    events: int = 0
    feedback: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(
            self.conversations + other.conversations,
            self.events + other.events,
            self.feedback + other.feedback,
        )

    def as_dict(self) -> dict[str, int]:
        """The counts as a JSON object answers them."""
        return attrs.asdict(self)


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
    score: str | None = None  # has a score of this name...
    score_min: float | None = None  # ...of at least this value
    score_max: float | None = None  # ...of at most this value
    score_value: str | None = None  # ...with this category (or "true"/"false")
    #: The order (a key of ``_listing.SORTS``) and its direction.
    sort: str = "created"
    ascending: bool = False
    #: Keyset position under a sort other than ``created``: the sort value of
    #: the row ``before`` names (rows after it in the order come next).
    after: int | None = None
    #: The API's listing: per row ``duration_ms``, ``last_feedback`` and ``escalated``.
    annotate: bool = False
    #: Count the matching conversations on the first page (no ``before``).
    count: bool = False


@attrs.frozen
class ConversationPage:
    """One page of conversations in the query's order, and where the next page starts.

    .. versionchanged:: 0.2
       ``next_value`` (the sort value of the last row, for sorts other than
       ``created``) and ``total`` (of a first page asked to ``count``).
    """

    conversations: list[dict[str, Any]]
    next_before: int | None
    next_value: int | None = None
    total: int | None = None


@attrs.frozen
class ConversationChanges:
    """A management update: only the fields given (not ``None``) change.

    ``metadata`` is a JSON merge patch (RFC 7396): keys set to ``null`` are removed;
    with ``replace_metadata`` it replaces the stored document instead (an empty
    one removes it): the last write wins, as the official SDK 0.1.4 expects of
    its metadata updates.

    .. versionchanged:: 0.3
       ``replace_metadata``.
    """

    name: str | None = None
    metadata: dict[str, Any] | None = None
    is_marked: bool | None = None
    replace_metadata: bool = False


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
    async def write_running_totals(
        self,
        project_id: int,
        event: NewEvent,
        price: Callable[[NewEvent], int | None] | None = None,
    ) -> WriteResult:
        """Store a ``token_usage`` *event* whose counts are running totals, as what they add.

        Its conversation's token sums are read and the event stored with
        ``max(0, total - sum)`` of each count, in one write transaction that
        other writers of the conversation wait for: reports sent at once (by
        several workers, or a retry while the first try is in flight, through
        any collector of the database) leave the sums at the highest totals
        reported, never above.  A report that adds nothing stores nothing
        (``accepted`` and ``duplicates`` 0), unless the conversation does not
        exist yet: then it is stored and creates it, as any event does.  The
        stored event's cost is *price* of it (``None``: unpriced); the given
        event's ``cost_nanos`` is not used, and the event is left unchanged.

        Raises:
            StorageUnavailable: nothing was stored; the client should retry.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def find_key(self, key_hash: str) -> LiveKey | None:
        """A live (not revoked) key by its hash: its id, project and scope.

        .. versionchanged:: 0.2
           Replaces ``project_for_key``: a key's scope decides what it may do.
        """

    @abc.abstractmethod
    async def live_key_hashes(self) -> frozenset[str]:
        """The hashes of every live (not revoked) key, of every project.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def create_key(
        self, project: str, key_hash: str, redacted: str, *, scope: str
    ) -> KeyInfo:
        """Record a new key of *scope* (one of ``SCOPES``) for *project*, creating the project.

        .. versionchanged:: 0.2
           ``scope``.
        """

    @abc.abstractmethod
    async def list_keys(self) -> list[KeyInfo]:
        """Every key of every project, oldest first."""

    @abc.abstractmethod
    async def revoke_key(self, key_hash: str) -> bool:
        """Revoke a key by its hash; ``False`` when no live key has it."""

    @abc.abstractmethod
    async def revoke_key_id(self, key_id: int) -> bool:
        """Revoke a key by its id; ``False`` when no live key has it.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def record_use(self, keys: dict[int, int], sessions: dict[str, int]) -> None:
        """Write when keys (by id) and sessions (by token hash) were last used, in microseconds.

        .. versionadded:: 0.2
        """

    # --- the search index ---------------------------------------------------------------

    @abc.abstractmethod
    async def search_index(self) -> bool:
        """Whether the database has the search index of the messages' text, which serves
        the list's text filter (``q``) without reading every message.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def set_search_index(self, enabled: bool) -> bool:
        """Build (*enabled*) or drop the search index; whether it changed.

        Building it reads every stored message (minutes at millions of them); once
        built, every message stored costs more to write.  Collectors running on the
        same database use it from their next search on.

        Raises:
            RuntimeError: the database cannot have it (SQLite without FTS5's trigram
                tokenizer; PostgreSQL without the pg_trgm extension, which this
                role may not create), said in the message.

        .. versionadded:: 0.2
        """

    # --- projects, retention and erasure ---------------------------------------------

    @abc.abstractmethod
    async def list_projects(self) -> list[ProjectInfo]:
        """Every project, oldest first.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def set_retention(self, project_id: int, days: int | None) -> bool:
        """Keep the project's conversations *days* after their last event (``None``: for ever).

        Returns ``False`` when there is no such project.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def delete_expired(self, project_id: int, before: int, max_events: int) -> Deleted:
        """One small transaction of retention: conversations whose last event is before *before*.

        Deletes the oldest such conversations with their events and feedback,
        about *max_events* events at most (a conversation with more is
        emptied over several calls, then deleted).  Call it again until it
        deletes nothing.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def erase_customer(self, project_id: int, customer_id: str, max_events: int) -> Deleted:
        """One small transaction of erasure: conversations of *customer_id* in the project.

        As ``delete_expired``: call it again until it deletes nothing.

        .. versionadded:: 0.2
        """

    # --- users and sessions ------------------------------------------------------------

    @abc.abstractmethod
    async def create_user(self, email: str, role: str, password_hash: str) -> UserInfo | None:
        """A new dashboard user; ``None`` when the e-mail address is taken.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def list_users(self) -> list[UserInfo]:
        """Every user, oldest first, with the projects granted to each.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def login_record(self, email: str) -> LoginRecord | None:
        """The user with this (lower-case) e-mail address and its password hash.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def delete_user(self, user_id: int) -> bool:
        """Delete a user with its grants and sessions; ``False`` when there is none.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def set_password(self, user_id: int, password_hash: str) -> bool:
        """Replace a user's password and end every session of it.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def set_grants(self, user_id: int, project_ids: Sequence[int]) -> bool:
        """Replace the projects granted to a user; ``False`` when there is no such user.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def create_session(
        self, token_hash: str, user_id: int, expires_at: int, address: str | None
    ) -> None:
        """Record a new session of *user_id* ending at *expires_at* (microseconds).

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def find_session(self, token_hash: str) -> SessionRecord | None:
        """A session by its token's hash, with its user and projects, expired or not.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def delete_session(self, token_hash: str) -> bool:
        """End a session; ``False`` when there is none.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def delete_stale_sessions(self, now: int, idle: int) -> int:
        """Delete sessions past their end, or unused for *idle* microseconds; how many.

        .. versionadded:: 0.2
        """

    # --- the audit log --------------------------------------------------------------

    @abc.abstractmethod
    async def add_audit(self, entry: AuditEntry) -> None:
        """Append *entry* to the audit log, stamped with the current time.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def list_audit(
        self,
        project_id: int | None,
        limit: int,
        before: int | None = None,
        *,
        collector_wide: bool = False,
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first: of one project, or (``None``) of everything.

        With *collector_wide*, a project's entries come with those of the
        whole collector (users).  *before* is an entry id: only older
        entries.  Each is a JSON-ready
        dict: ``id``, ``at``, ``actor``, ``action``, ``project``, ``target``,
        ``details``, ``address``.

        .. versionadded:: 0.2
        """

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

    # --- what the official SDKs' routes need (``_compat``) -----------------------------

    @abc.abstractmethod
    async def find_conversation(
        self, project_id: int, *, pk: int | None = None, conversation_id: str | None = None
    ) -> tuple[int, str] | None:
        """A conversation's number and id, found by either; ``None`` when there is none.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def find_event(
        self, project_id: int, kind: str, id_prefix: str
    ) -> tuple[str, str] | None:
        """The first event of *kind* whose id starts with *id_prefix*: its id and conversation.

        A range seek in the events' primary key: message numbers are id prefixes.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def put_files(
        self, project_id: int, conversation_id: str, event_id: str, files: Sequence[bytes]
    ) -> bool:
        """Keep the bytes of an ``attachment`` event's files (again: a no-op).

        The event is written first (``write_batch``), its files after it: a
        deletion in between (of the conversation, by retention or erasure)
        would leave files that nothing reaches or deletes, so they are kept
        only if the event is still stored, as an ``attachment`` of
        *conversation_id*, checked in the transaction that inserts them.  From
        then on they are deleted with the event.

        Returns:
            ``True`` when the files are kept; ``False`` when the event is gone
            (or is not that conversation's attachment) and nothing was stored.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def get_file(
        self, project_id: int, conversation_id: str, event_id: str, index: int
    ) -> bytes | None:
        """The bytes of file *index* of an ``attachment`` event, or ``None``.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def metrics(self, project_id: int, query: MetricsQuery) -> dict[str, Any]:
        """The analytics of ``GET /v1/metrics``, every figure computed in the database."""

    @abc.abstractmethod
    async def report(self, report: Report) -> dict[str, Any]:
        """Run the statements of *report* (see ``_reports``) in one read snapshot; its answer.

        .. versionadded:: 0.2
        """

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Finish queued writes and release connections and threads."""


async def open_storage(url_or_path: str | Path, **options: Any) -> Storage:
    """Open (and create or migrate when needed) the storage at *url_or_path*.

    A plain path or a ``sqlite:///path`` URL opens a SQLite file; a
    ``postgresql://`` (or ``postgres://``) URL opens a PostgreSQL database,
    with the ``postgres`` extra.  *options* go to the implementation (SQLite:
    ``busy_timeout``, seconds, ``readers``, ``spare_reader``; PostgreSQL:
    ``max_connections`` of the pool).

    Raises:
        ValueError: the URL names a database this version cannot open.
    """
    text = str(url_or_path)
    if text.startswith(("postgres://", "postgresql://")):
        from .postgres._storage import PostgresStorage

        return await PostgresStorage.open(text, **options)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise ValueError(f"storage URL: expected a path or sqlite:///path, got {text!r}")
    from .sqlite._storage import SQLiteStorage

    return await SQLiteStorage.open(Path(text), **options)
