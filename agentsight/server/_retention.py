"""Retention: deleting conversations past their project's retention period, in the background.

Every ``retention_interval`` seconds (and a second after start) the
collector deletes, project by project, the conversations whose last event
is older than the project's period, with their events and feedback.  It
deletes in small steps, each its own transaction of about ``STEP_EVENTS``
events, and yields to the event loop between them: on SQLite a batch queued
for the writer waits for one step at most, on PostgreSQL the steps lock only
the conversations they delete (``benchmarks/retention.py`` measures what
ingest pays meanwhile).  Several collectors over one PostgreSQL share the
work (``SKIP LOCKED``).  Each project's deletions of a sweep make one entry
of the audit log.  The same sweep ends dashboard sessions past their time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from ._ingest._time import now_micros
from ._state import OPTIONS
from .storage import AuditEntry, Deleted, Storage, StorageUnavailable

__all__ = [
    "DAY_MICROS",
    "MAX_RETENTION_DAYS",
    "RETENTION",
    "STEP_EVENTS",
    "Retention",
    "erase_customer",
    "run_retention",
]

log = logging.getLogger("agentsight.server")
DAY_MICROS = 86_400_000_000
#: The longest retention period one may set (a hundred years).
MAX_RETENTION_DAYS = 36_500
#: Events deleted per transaction, about.
STEP_EVENTS = 2_000
_FIRST_SWEEP = 1.0  # seconds after start: let start-up finish first


class Retention:
    """The retention sweep of one collector.

    Args:
        storage: where to delete.
        session_idle: seconds after which an unused session is deleted.
    """

    def __init__(self, storage: Storage, session_idle: float) -> None:
        self._storage = storage
        self._session_idle = round(session_idle * 1_000_000)
        #: Sweeps finished so far.
        self.sweeps = 0
        self._next = asyncio.Event()

    async def wait_for_sweep(self) -> None:
        """Return when the next sweep (from now) has finished."""
        await self._next.wait()

    async def sweep(self) -> dict[str, Deleted]:
        """Delete what is past its time, in every project; what went, by project name."""
        deleted: dict[str, Deleted] = {}
        for project in await self._storage.list_projects():
            if project.retention_days is None:
                continue
            before = now_micros() - project.retention_days * DAY_MICROS
            done = await _in_steps(
                functools.partial(self._storage.delete_expired, project.id, before, STEP_EVENTS)
            )
            if done != Deleted():
                deleted[project.name] = done
                log.info(
                    "retention: deleted %d conversations (%d events) of project %r,"
                    " older than %d days",
                    done.conversations,
                    done.events,
                    project.name,
                    project.retention_days,
                )
                await self._storage.add_audit(
                    AuditEntry(
                        "collector",
                        "retention.delete",
                        project.id,
                        details={**done.as_dict(), "days": project.retention_days},
                    )
                )
        await self._storage.delete_stale_sessions(now_micros(), self._session_idle)
        self.sweeps += 1
        finished, self._next = self._next, asyncio.Event()
        finished.set()
        return deleted


async def _in_steps(step: Callable[[], Awaitable[Deleted]]) -> Deleted:
    """Call *step* until it deletes nothing, yielding to the event loop in between."""
    total = Deleted()
    while True:
        done = await step()
        if done == Deleted():
            return total
        total += done
        await asyncio.sleep(0)  # requests waiting on the loop go first


async def erase_customer(storage: Storage, project_id: int, customer_id: str) -> Deleted:
    """Delete every conversation of *customer_id* in the project, in small steps; the counts."""
    return await _in_steps(
        functools.partial(storage.erase_customer, project_id, customer_id, STEP_EVENTS)
    )


async def _sweep_every(retention: Retention, interval: float) -> None:
    await asyncio.sleep(min(_FIRST_SWEEP, interval))
    while True:
        try:
            await retention.sweep()
        except StorageUnavailable as exc:
            log.warning("retention sweep postponed, storage unavailable: %s", exc)
        except Exception:  # the sweep must outlive a bug of one run; it is logged
            log.exception("retention sweep failed")
        await asyncio.sleep(interval)


async def run_retention(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the retention sweep, every ``retention_interval`` seconds."""
    task = asyncio.create_task(_sweep_every(app[RETENTION], app[OPTIONS].retention_interval))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


#: Where ``create_app`` keeps the sweep.
RETENTION = web.AppKey("agentsight.retention", Retention)
