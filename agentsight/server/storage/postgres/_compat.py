"""What the official SDKs' routes need of the PostgreSQL storage (see ``server/_compat``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._write import clean

__all__ = ["find_conversation", "find_event", "get_file", "put_files"]


async def find_conversation(
    connection: Any, project_id: int, pk: int | None, conversation_id: str | None
) -> tuple[int, str] | None:
    """A conversation's ``pk`` and id, by either."""
    if pk is not None:
        row = await connection.fetchrow(
            "SELECT pk, conversation_id FROM conversations WHERE project_id = $1 AND pk = $2",
            project_id,
            pk,
        )
    else:
        row = await connection.fetchrow(
            "SELECT pk, conversation_id FROM conversations"
            " WHERE project_id = $1 AND conversation_id = $2",
            project_id,
            clean(conversation_id),
        )
    return None if row is None else (int(row[0]), str(row[1]))


async def find_event(
    connection: Any, project_id: int, kind: str, prefix: str
) -> tuple[str, str] | None:
    """The first event of *kind* whose id starts with the hex *prefix*: a range seek."""
    row = await connection.fetchrow(
        "SELECT id, conversation_id FROM events WHERE project_id = $1 AND id >= $2 AND id < $3"
        " AND type = $4 ORDER BY id LIMIT 1",
        project_id,
        prefix,
        prefix + "g",  # ids are lowercase hex: "g" sorts after every digit
        kind,
    )
    return None if row is None else (str(row[0]), str(row[1]))


async def put_files(
    connection: Any, project_id: int, conversation_id: str, event_id: str, files: Sequence[bytes]
) -> bool:
    """Keep an attachment event's files, in order; those already kept stay.

    Only while the event is stored, as an attachment of that conversation: in
    one transaction, the event's row is locked ``FOR KEY SHARE`` (a deletion
    under way is waited for, then seen; one that comes later waits for the
    commit, and the trigger on ``events`` then takes the files along), and
    the files are inserted only if it was found.

    Returns:
        Whether the event was there and its files are kept.
    """
    cid = clean(conversation_id)
    rows = [(project_id, event_id, i, cid, data) for i, data in enumerate(files)]
    async with connection.transaction():
        found = await connection.fetchval(
            "SELECT 1 FROM events WHERE project_id = $1 AND id = $2"
            " AND type = 'attachment' AND conversation_id = $3 FOR KEY SHARE",
            project_id,
            event_id,
            cid,
        )
        if found is None:
            return False
        await connection.executemany(
            "INSERT INTO attachment_files (project_id, event_id, idx, conversation_id, data)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            rows,
        )
    return True


async def get_file(
    connection: Any, project_id: int, conversation_id: str, event_id: str, index: int
) -> bytes | None:
    """The bytes of one file of an attachment event."""
    data = await connection.fetchval(
        "SELECT data FROM attachment_files WHERE project_id = $1 AND event_id = $2 AND idx = $3"
        " AND conversation_id = $4",
        project_id,
        event_id,
        index,
        clean(conversation_id),
    )
    return None if data is None else bytes(data)
