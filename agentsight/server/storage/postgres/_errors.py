"""Which errors of asyncpg mean "the database is unavailable" (a 503 the callers retry)
rather than a fault of ours (a 500)."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["check_lost", "is_unavailable"]


def is_unavailable(asyncpg: Any, error: BaseException) -> bool:
    """Errors of the server or the network rather than of our SQL."""
    exceptions = asyncpg.exceptions
    return isinstance(
        error,
        OSError
        | asyncio.TimeoutError
        | asyncpg.InterfaceError
        | exceptions.PostgresConnectionError
        | exceptions.InsufficientResourcesError
        | exceptions.OperatorInterventionError
        | exceptions.TransactionRollbackError
        | exceptions.ConnectionDoesNotExistError,
    )


def check_lost(connection: Any, error: BaseException) -> None:
    """Raise ``ConnectionDoesNotExistError`` (unavailable) for an ``InternalClientError``
    over which asyncpg closed *connection*: one the server ended while it was idle,
    whose next operation asyncpg refuses ("another operation (2) is in progress") and
    aborts.  Any other ``InternalClientError`` is a fault of the client: a 500."""
    import asyncpg  # the backend has it loaded; only an error's path comes here

    if not isinstance(error, asyncpg.exceptions.InternalClientError):
        return
    try:
        closed = connection.is_closed()
    except asyncpg.InterfaceError:  # a proxy its pool took back: that connection ended
        closed = True
    if closed:
        raise asyncpg.exceptions.ConnectionDoesNotExistError(str(error)) from error
