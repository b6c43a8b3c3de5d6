"""What the official SDKs' routes need of the SQLite storage (see ``server/_compat``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ._write import transaction

__all__ = ["find_conversation", "find_event", "get_file", "put_files"]


def find_conversation(
    connection: sqlite3.Connection, project_id: int, pk: int | None, conversation_id: str | None
) -> tuple[int, str] | None:
    """A conversation's ``pk`` and id, by either."""
    column = "pk" if pk is not None else "conversation_id"
    row = connection.execute(
        f"SELECT pk, conversation_id FROM conversations WHERE project_id = ? AND {column} = ?",
        (project_id, pk if pk is not None else conversation_id),
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def find_event(
    connection: sqlite3.Connection, project_id: int, kind: str, prefix: str
) -> tuple[str, str] | None:
    """The first event of *kind* whose id starts with the hex *prefix*: a range seek."""
    row = connection.execute(
        "SELECT id, conversation_id FROM events WHERE project_id = ? AND id >= ? AND id < ?"
        " AND type = ? ORDER BY id LIMIT 1",
        (project_id, prefix, prefix + "g", kind),  # ids are lowercase hex: "g" sorts after
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


#: The attachment event that files belong to (a seek in the events' primary key).
_ATTACHMENT = (
    "SELECT 1 FROM events WHERE project_id = ? AND id = ?"
    " AND type = 'attachment' AND conversation_id = ?"
)


def put_files(
    connection: sqlite3.Connection,
    project_id: int,
    conversation_id: str,
    event_id: str,
    files: Sequence[bytes],
) -> bool:
    """Keep an attachment event's files, in order; those already kept stay.

    Only while the event is stored, as an attachment of that conversation: the
    check and the insert share one ``BEGIN IMMEDIATE`` transaction, so a
    deletion comes either before both (nothing is kept) or after both (the
    trigger on ``events`` takes the files along).

    Returns:
        Whether the event was there and its files are kept.
    """
    rows = [(project_id, event_id, i, conversation_id, data) for i, data in enumerate(files)]
    with transaction(connection):
        found = connection.execute(_ATTACHMENT, (project_id, event_id, conversation_id))
        stored = found.fetchone() is not None
        if stored:
            connection.executemany(
                "INSERT INTO attachment_files (project_id, event_id, idx, conversation_id, data)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
    return stored


def get_file(
    connection: sqlite3.Connection, project_id: int, conversation_id: str, event_id: str, index: int
) -> bytes | None:
    """The bytes of one file of an attachment event."""
    row = connection.execute(
        "SELECT data FROM attachment_files WHERE project_id = ? AND event_id = ? AND idx = ?"
        " AND conversation_id = ?",
        (project_id, event_id, index, conversation_id),
    ).fetchone()
    return None if row is None else bytes(row[0])
