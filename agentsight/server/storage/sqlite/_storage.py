"""SQLite storage: one file, WAL mode, one transaction per batch.

Writes run in order on one writer thread, reads on a small pool of reader
threads (see ``_threads``); the event loop never waits on sqlite3.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._base import (
    AuditEntry,
    ConversationChanges,
    ConversationPage,
    ConversationQuery,
    Deleted,
    Feedback,
    KeyInfo,
    LiveKey,
    LoginRecord,
    NewEvent,
    ProjectInfo,
    SessionRecord,
    Storage,
    StorageUnavailable,
    UserInfo,
    WriteResult,
)
from . import _access as access
from . import _compat as compat
from . import _manage as manage
from . import _metrics as metrics_queries
from . import _read as read
from . import _search as search
from . import _users as users
from ._schema import connect, migrate
from ._threads import ReaderPool, SpareReader, WriterThread
from ._write import write_batch, write_running_totals

if TYPE_CHECKING:
    from ..._metrics import MetricsQuery
    from .._reports import Report

__all__ = ["SQLiteStorage"]
# Seconds the spare reader waits for the write lock it holds for a moment to share a
# snapshot (see _metrics); past that a metrics request reads alone.  About one large
# batch: a longer write (an import, a retention sweep) should not delay the request.
_LOCK_WAIT = 0.2

T = TypeVar("T")


def _unavailable(error: sqlite3.Error) -> bool:
    """Errors of the database rather than of our SQL: locked, full, I/O, corrupt."""
    return isinstance(error, sqlite3.OperationalError) or type(error) is sqlite3.DatabaseError


class SQLiteStorage(Storage):
    """Storage in one SQLite file.

    Args:
        path: the database file, created with its schema when missing.
        busy_timeout: seconds a write waits for a lock held by another
            process before the batch fails with ``StorageUnavailable``.
        readers: reader threads (each with its own connection).
        spare_reader: one more reader thread that a metrics request, when it
            finds it free, shares its statements with.
    """

    def __init__(
        self, path: Path, *, busy_timeout: float = 5.0, readers: int = 2, spare_reader: bool = True
    ) -> None:
        self.path = path
        self._writer = WriterThread(functools.partial(connect, path, busy_timeout, writer=True))
        self._readers = ReaderPool(functools.partial(connect, path, busy_timeout), size=readers)
        self._spare = None
        if spare_reader:
            self._spare = SpareReader(
                functools.partial(connect, path, busy_timeout),
                functools.partial(connect, path, _LOCK_WAIT),
            )

    @classmethod
    async def open(
        cls, path: Path, *, busy_timeout: float = 5.0, readers: int = 2, spare_reader: bool = True
    ) -> SQLiteStorage:
        """Create or migrate the file at *path*, then open it."""
        try:
            await asyncio.to_thread(migrate, path, busy_timeout)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open {path}: {exc}") from exc
        return cls(path, busy_timeout=busy_timeout, readers=readers, spare_reader=spare_reader)

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._writer.run(job)
        except sqlite3.Error as exc:
            if _unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise

    async def _read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._readers.run(job)
        except sqlite3.Error as exc:
            if _unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            raise

    async def write_batch(self, project_id: int, events: Sequence[NewEvent]) -> WriteResult:
        return await self._write(lambda c: write_batch(c, project_id, events))

    async def write_running_totals(
        self,
        project_id: int,
        event: NewEvent,
        price: Callable[[NewEvent], int | None] | None = None,
    ) -> WriteResult:
        return await self._write(lambda c: write_running_totals(c, project_id, event, price))

    async def find_key(self, key_hash: str) -> LiveKey | None:
        return await self._read(lambda c: access.find_key(c, key_hash))

    async def live_key_hashes(self) -> frozenset[str]:
        return await self._read(read.live_key_hashes)

    async def create_key(
        self, project: str, key_hash: str, redacted: str, *, scope: str
    ) -> KeyInfo:
        return await self._write(lambda c: access.create_key(c, project, key_hash, redacted, scope))

    async def list_keys(self) -> list[KeyInfo]:
        return await self._read(access.list_keys)

    async def revoke_key(self, key_hash: str) -> bool:
        return await self._write(lambda c: manage.revoke_key(c, key_hash))

    async def revoke_key_id(self, key_id: int) -> bool:
        return await self._write(lambda c: access.revoke_key_id(c, key_id))

    async def record_use(self, keys: dict[int, int], sessions: dict[str, int]) -> None:
        await self._write(lambda c: access.record_use(c, keys, sessions))

    async def search_index(self) -> bool:
        return await self._read(search.has_search_index)

    async def set_search_index(self, enabled: bool) -> bool:
        return await self._write(lambda c: search.set_search_index(c, enabled))

    async def list_projects(self) -> list[ProjectInfo]:
        return await self._read(access.list_projects)

    async def set_retention(self, project_id: int, days: int | None) -> bool:
        return await self._write(lambda c: access.set_retention(c, project_id, days))

    async def delete_expired(self, project_id: int, before: int, max_events: int) -> Deleted:
        return await self._write(
            lambda c: access.delete_step(c, project_id, "ended_at < ?", (before,), max_events)
        )

    async def erase_customer(self, project_id: int, customer_id: str, max_events: int) -> Deleted:
        return await self._write(
            lambda c: access.delete_step(
                c, project_id, "customer_id = ?", (customer_id,), max_events
            )
        )

    async def create_user(self, email: str, role: str, password_hash: str) -> UserInfo | None:
        return await self._write(lambda c: users.create_user(c, email, role, password_hash))

    async def list_users(self) -> list[UserInfo]:
        return await self._read(users.list_users)

    async def login_record(self, email: str) -> LoginRecord | None:
        return await self._read(lambda c: users.login_record(c, email))

    async def delete_user(self, user_id: int) -> bool:
        return await self._write(lambda c: users.delete_user(c, user_id))

    async def set_password(self, user_id: int, password_hash: str) -> bool:
        return await self._write(lambda c: users.set_password(c, user_id, password_hash))

    async def set_grants(self, user_id: int, project_ids: Sequence[int]) -> bool:
        return await self._write(lambda c: users.set_grants(c, user_id, project_ids))

    async def create_session(
        self, token_hash: str, user_id: int, expires_at: int, address: str | None
    ) -> None:
        await self._write(
            lambda c: users.create_session(c, token_hash, user_id, expires_at, address)
        )

    async def find_session(self, token_hash: str) -> SessionRecord | None:
        return await self._read(lambda c: users.find_session(c, token_hash))

    async def delete_session(self, token_hash: str) -> bool:
        return await self._write(lambda c: users.delete_session(c, token_hash))

    async def delete_stale_sessions(self, now: int, idle: int) -> int:
        return await self._write(lambda c: users.delete_stale_sessions(c, now, idle))

    async def add_audit(self, entry: AuditEntry) -> None:
        await self._write(lambda c: access.add_audit(c, entry))

    async def list_audit(
        self,
        project_id: int | None,
        limit: int,
        before: int | None = None,
        *,
        collector_wide: bool = False,
    ) -> list[dict[str, Any]]:
        return await self._read(
            lambda c: access.list_audit(c, project_id, limit, before, collector_wide)
        )

    async def list_conversations(
        self, project_id: int, query: ConversationQuery
    ) -> ConversationPage:
        return await self._read(lambda c: read.list_conversations(c, project_id, query))

    async def get_conversation(
        self, project_id: int, conversation_id: str
    ) -> dict[str, Any] | None:
        return await self._read(lambda c: read.get_conversation(c, project_id, conversation_id))

    async def list_events(self, project_id: int, conversation_id: str) -> list[dict[str, Any]]:
        return await self._read(lambda c: read.list_events(c, project_id, conversation_id))

    async def update_conversation(
        self, project_id: int, conversation_id: str, changes: ConversationChanges
    ) -> bool:
        return await self._write(
            lambda c: manage.update_conversation(c, project_id, conversation_id, changes)
        )

    async def delete_conversation(self, project_id: int, conversation_id: str) -> bool:
        return await self._write(
            lambda c: manage.delete_conversation(c, project_id, conversation_id)
        )

    async def add_feedback(self, project_id: int, conversation_id: str, feedback: Feedback) -> bool:
        return await self._write(
            lambda c: manage.add_feedback(c, project_id, conversation_id, feedback)
        )

    async def find_conversation(
        self, project_id: int, *, pk: int | None = None, conversation_id: str | None = None
    ) -> tuple[int, str] | None:
        return await self._read(
            lambda c: compat.find_conversation(c, project_id, pk, conversation_id)
        )

    async def find_event(
        self, project_id: int, kind: str, id_prefix: str
    ) -> tuple[str, str] | None:
        return await self._read(lambda c: compat.find_event(c, project_id, kind, id_prefix))

    async def put_files(
        self, project_id: int, conversation_id: str, event_id: str, files: Sequence[bytes]
    ) -> bool:
        return await self._write(
            lambda c: compat.put_files(c, project_id, conversation_id, event_id, files)
        )

    async def get_file(
        self, project_id: int, conversation_id: str, event_id: str, index: int
    ) -> bytes | None:
        return await self._read(
            lambda c: compat.get_file(c, project_id, conversation_id, event_id, index)
        )

    async def metrics(self, project_id: int, query: MetricsQuery) -> dict[str, Any]:
        return await self._read(
            lambda c: metrics_queries.metrics(c, project_id, query, self._spare)
        )

    async def report(self, report: Report) -> dict[str, Any]:
        return await self._read(lambda c: metrics_queries.report(c, report))

    async def aclose(self) -> None:
        await self._writer.aclose()
        await self._readers.aclose()
        if self._spare is not None:
            await self._spare.aclose()
