"""PostgreSQL storage: a pool of asyncpg connections, for several collectors.

Every collector process keeps its own small pool; the database does the
coordination (see ``_write`` for how batches stay correct when
several collectors store events of one conversation at once).  Migrations run
at open under an advisory lock (``_schema``).

Needs the ``postgres`` extra: ``pip install 'agentsight[postgres]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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
from . import _metrics as metrics_queries
from . import _read as read
from . import _search as search
from . import _users as users
from . import _write as write
from ._errors import check_lost, is_unavailable
from ._schema import migrate

if TYPE_CHECKING:
    from ..._metrics import MetricsQuery
    from .._reports import Report

__all__ = ["PostgresStorage", "redact_url"]

T = TypeVar("T")
log = logging.getLogger("agentsight.server.storage")
_EXTRA_HINT = "PostgreSQL storage needs the postgres extra: pip install 'agentsight[postgres]'"
#: Deadlocks and serialization failures are retried this many times in all.
_ATTEMPTS = 5
_SPARE_WAIT = 0.5  # seconds a metrics request waits for a second connection before going alone


def redact_url(url: str) -> str:
    """*url* with its password replaced by ``***``, for logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def _asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError as exc:
        raise RuntimeError(_EXTRA_HINT) from exc
    return asyncpg


class PostgresStorage(Storage):
    """Storage in a PostgreSQL database shared by any number of collectors.

    Use :meth:`open`, which migrates the database first.

    Args:
        pool: an asyncpg pool on the database.
        url: where the pool connects, for messages (the password is never shown).
    """

    def __init__(self, pool: Any, url: str) -> None:
        self._pool = pool
        self.url = url
        #: Statements of metrics requests that a second connection ran (diagnostics).
        self.metrics_shared_statements = 0
        self._asyncpg = _asyncpg()
        #: Per project: events this storage has written, and at how many it next looks
        #: at the statistics (:meth:`_keep_statistics`).
        self._written: dict[int, int] = {}
        self._next_look: dict[int, int] = {}

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: float = 10.0,
    ) -> PostgresStorage:
        """Connect to *url*, create or migrate its schema, and return the storage.

        Raises:
            StorageUnavailable: the server cannot be reached.
            RuntimeError: asyncpg is missing, or the schema is newer than this version.
        """
        asyncpg = _asyncpg()
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=min_connections,
                max_size=max_connections,
                timeout=connect_timeout,
                command_timeout=60,
            )
        except Exception as exc:
            if is_unavailable(asyncpg, exc):
                raise StorageUnavailable(f"cannot connect to {redact_url(url)}: {exc}") from exc
            raise
        try:
            async with pool.acquire() as connection:
                await migrate(connection)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url)

    def acquire(self) -> Any:
        """``async with storage.acquire() as connection``: an asyncpg connection of the pool."""
        return self._pool.acquire()

    @contextlib.asynccontextmanager
    async def _spare(self) -> AsyncIterator[Any]:
        """A second connection for a request that can use one, or ``None``.

        Only an idle connection, or a new one while the pool has room: a request
        holding one connection must never wait for another (requests waiting for
        each other's would hold the whole pool)."""
        pool = self._pool
        if not pool.get_idle_size() and pool.get_size() >= pool.get_max_size():
            yield None
            return
        try:
            connection = await pool.acquire(timeout=_SPARE_WAIT)
        except (asyncio.TimeoutError, OSError, self._asyncpg.PostgresError):
            yield None
            return
        try:
            yield connection
        finally:
            await self._give_back(connection)

    async def _give_back(self, connection: Any) -> None:
        """Return *connection* to the pool.  One the server ended while it was out fails
        asyncpg's reset ("another operation is in progress"); the pool then terminates
        it and opens another later, and what was done on it stands (read, or committed),
        so that failure is logged rather than raised over the work's own outcome."""
        try:
            await self._pool.release(connection)
        except Exception as exc:
            log.info("a connection ended while it was given back to the pool: %s", exc)

    async def _run(self, job: Callable[[Any], Awaitable[T]], *, retry: bool = False) -> T:
        """Run *job* with a pooled connection; server and network errors become unavailable."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                connection = await self._pool.acquire()
                try:
                    return await job(connection)
                except Exception as exc:
                    check_lost(connection, exc)
                    raise
                finally:
                    await self._give_back(connection)
            except Exception as exc:
                if not is_unavailable(self._asyncpg, exc):
                    raise
                rollback = isinstance(exc, self._asyncpg.exceptions.TransactionRollbackError)
                if retry and rollback and attempt < _ATTEMPTS:
                    log.debug("retrying a batch after %s", exc)
                    continue
                raise StorageUnavailable(str(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def write_batch(self, project_id: int, events: Sequence[NewEvent]) -> WriteResult:
        result = await self._run(lambda c: write.write_batch(c, project_id, events), retry=True)
        await self._keep_statistics(project_id, result.accepted)
        return result

    async def _keep_statistics(self, project_id: int, accepted: int) -> None:
        """ANALYZE when the planner's estimate of a project this storage writes to has
        fallen under half of what it wrote (see ``write.statistics_behind``): looked at
        once the project has ``STATISTICS_FIRST_LOOK`` events from here, then each time
        that count has doubled, so a few dozen times in a project's life at most (and
        an ANALYZE only where autovacuum's, every tenth of the table, did not keep up).
        The batch is committed already: a failure here is logged, not raised."""
        written = self._written.get(project_id, 0) + accepted
        self._written[project_id] = written
        if written < self._next_look.get(project_id, write.STATISTICS_FIRST_LOOK):
            return
        self._next_look[project_id] = written * write.STATISTICS_GROWTH
        try:
            if await self._run(lambda c: write.statistics_behind(c, project_id, written)):
                log.info(
                    "ANALYZE: the statistics estimate project %s"
                    " at under half of the %s events written to it from here",
                    project_id,
                    written,
                )
                await self._run(write.refresh_statistics)
        except Exception as exc:
            log.warning("the statistics of project %s were not refreshed: %s", project_id, exc)

    async def write_running_totals(
        self,
        project_id: int,
        event: NewEvent,
        price: Callable[[NewEvent], int | None] | None = None,
    ) -> WriteResult:
        result = await self._run(
            lambda c: write.write_running_totals(c, project_id, event, price), retry=True
        )
        await self._keep_statistics(project_id, result.accepted)
        return result

    async def find_key(self, key_hash: str) -> LiveKey | None:
        return await self._run(lambda c: access.find_key(c, key_hash))

    async def live_key_hashes(self) -> frozenset[str]:
        return await self._run(read.live_key_hashes)

    async def create_key(
        self, project: str, key_hash: str, redacted: str, *, scope: str
    ) -> KeyInfo:
        return await self._run(lambda c: access.create_key(c, project, key_hash, redacted, scope))

    async def list_keys(self) -> list[KeyInfo]:
        return await self._run(access.list_keys)

    async def revoke_key(self, key_hash: str) -> bool:
        return await self._run(lambda c: write.revoke_key(c, key_hash))

    async def revoke_key_id(self, key_id: int) -> bool:
        return await self._run(lambda c: access.revoke_key_id(c, key_id))

    async def record_use(self, keys: dict[int, int], sessions: dict[str, int]) -> None:
        await self._run(lambda c: access.record_use(c, keys, sessions), retry=True)

    async def search_index(self) -> bool:
        return await self._run(search.has_search_index)

    async def set_search_index(self, enabled: bool) -> bool:
        return await self._run(lambda c: search.set_search_index(c, enabled))

    async def list_projects(self) -> list[ProjectInfo]:
        return await self._run(access.list_projects)

    async def set_retention(self, project_id: int, days: int | None) -> bool:
        return await self._run(lambda c: access.set_retention(c, project_id, days))

    async def delete_expired(self, project_id: int, before: int, max_events: int) -> Deleted:
        return await self._run(
            lambda c: access.delete_step(c, project_id, "ended_at < $2", before, max_events),
            retry=True,
        )

    async def erase_customer(self, project_id: int, customer_id: str, max_events: int) -> Deleted:
        return await self._run(
            lambda c: access.delete_step(
                c, project_id, "customer_id = $2", write.clean(customer_id), max_events
            ),
            retry=True,
        )

    async def create_user(self, email: str, role: str, password_hash: str) -> UserInfo | None:
        return await self._run(lambda c: users.create_user(c, email, role, password_hash))

    async def list_users(self) -> list[UserInfo]:
        return await self._run(users.list_users)

    async def login_record(self, email: str) -> LoginRecord | None:
        return await self._run(lambda c: users.login_record(c, email))

    async def delete_user(self, user_id: int) -> bool:
        return await self._run(lambda c: users.delete_user(c, user_id))

    async def set_password(self, user_id: int, password_hash: str) -> bool:
        return await self._run(lambda c: users.set_password(c, user_id, password_hash))

    async def set_grants(self, user_id: int, project_ids: Sequence[int]) -> bool:
        return await self._run(lambda c: users.set_grants(c, user_id, project_ids))

    async def create_session(
        self, token_hash: str, user_id: int, expires_at: int, address: str | None
    ) -> None:
        await self._run(lambda c: users.create_session(c, token_hash, user_id, expires_at, address))

    async def find_session(self, token_hash: str) -> SessionRecord | None:
        return await self._run(lambda c: users.find_session(c, token_hash))

    async def delete_session(self, token_hash: str) -> bool:
        return await self._run(lambda c: users.delete_session(c, token_hash))

    async def delete_stale_sessions(self, now: int, idle: int) -> int:
        return await self._run(lambda c: users.delete_stale_sessions(c, now, idle))

    async def add_audit(self, entry: AuditEntry) -> None:
        await self._run(lambda c: access.add_audit(c, entry))

    async def list_audit(
        self,
        project_id: int | None,
        limit: int,
        before: int | None = None,
        *,
        collector_wide: bool = False,
    ) -> list[dict[str, Any]]:
        return await self._run(
            lambda c: access.list_audit(c, project_id, limit, before, collector_wide)
        )

    async def list_conversations(
        self, project_id: int, query: ConversationQuery
    ) -> ConversationPage:
        return await self._run(lambda c: read.list_conversations(c, project_id, query))

    async def get_conversation(
        self, project_id: int, conversation_id: str
    ) -> dict[str, Any] | None:
        return await self._run(lambda c: read.get_conversation(c, project_id, conversation_id))

    async def list_events(self, project_id: int, conversation_id: str) -> list[dict[str, Any]]:
        return await self._run(lambda c: read.list_events(c, project_id, conversation_id))

    async def update_conversation(
        self, project_id: int, conversation_id: str, changes: ConversationChanges
    ) -> bool:
        return await self._run(
            lambda c: write.update_conversation(c, project_id, conversation_id, changes)
        )

    async def delete_conversation(self, project_id: int, conversation_id: str) -> bool:
        return await self._run(lambda c: write.delete_conversation(c, project_id, conversation_id))

    async def add_feedback(self, project_id: int, conversation_id: str, feedback: Feedback) -> bool:
        return await self._run(
            lambda c: write.add_feedback(c, project_id, conversation_id, feedback)
        )

    async def find_conversation(
        self, project_id: int, *, pk: int | None = None, conversation_id: str | None = None
    ) -> tuple[int, str] | None:
        return await self._run(
            lambda c: compat.find_conversation(c, project_id, pk, conversation_id)
        )

    async def find_event(
        self, project_id: int, kind: str, id_prefix: str
    ) -> tuple[str, str] | None:
        return await self._run(lambda c: compat.find_event(c, project_id, kind, id_prefix))

    async def put_files(
        self, project_id: int, conversation_id: str, event_id: str, files: Sequence[bytes]
    ) -> bool:
        return await self._run(
            lambda c: compat.put_files(c, project_id, conversation_id, event_id, files)
        )

    async def get_file(
        self, project_id: int, conversation_id: str, event_id: str, index: int
    ) -> bytes | None:
        return await self._run(
            lambda c: compat.get_file(c, project_id, conversation_id, event_id, index)
        )

    async def metrics(self, project_id: int, query: MetricsQuery) -> dict[str, Any]:
        return await self._run(
            lambda c: metrics_queries.metrics(c, project_id, query, self._spare, self._shared)
        )

    def _shared(self, statements: int) -> None:
        self.metrics_shared_statements += statements

    async def report(self, report: Report) -> dict[str, Any]:
        return await self._run(lambda c: metrics_queries.report(c, report))

    async def aclose(self) -> None:
        await self._pool.close()
