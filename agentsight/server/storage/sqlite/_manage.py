"""Keys and management writes of the SQLite storage; each runs on the writer thread."""

from __future__ import annotations

import json
import sqlite3

from ..._ingest._time import now_micros
from .._base import ConversationChanges, Feedback
from ._write import transaction

__all__ = [
    "add_feedback",
    "delete_conversation",
    "revoke_key",
    "update_conversation",
]

_WHERE_CONVERSATION = "WHERE project_id = ? AND conversation_id = ?"


def revoke_key(connection: sqlite3.Connection, key_hash: str) -> bool:
    """Mark a live key revoked."""
    with transaction(connection):
        cursor = connection.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_hash = ? AND revoked_at IS NULL",
            (now_micros(), key_hash),
        )
    return cursor.rowcount > 0


def _exists(connection: sqlite3.Connection, project_id: int, conversation_id: str) -> bool:
    sql = f"SELECT 1 FROM conversations {_WHERE_CONVERSATION}"
    return connection.execute(sql, (project_id, conversation_id)).fetchone() is not None


def update_conversation(
    connection: sqlite3.Connection,
    project_id: int,
    conversation_id: str,
    changes: ConversationChanges,
) -> bool:
    """Rename, mark, or merge-patch the metadata of a conversation."""
    sets: list[str] = []
    params: list[object] = []
    if changes.name is not None:
        sets.append("name = ?")
        params.append(changes.name)
    if changes.is_marked is not None:
        sets.append("is_marked = ?")
        params.append(int(changes.is_marked))
    if changes.metadata is not None and changes.replace_metadata:
        sets.append("metadata = ?")
        params.append(
            json.dumps(changes.metadata, ensure_ascii=False) if changes.metadata else None
        )
    elif changes.metadata is not None:
        sets.append("metadata = json_patch(COALESCE(metadata, '{}'), ?)")
        params.append(json.dumps(changes.metadata, ensure_ascii=False))
    with transaction(connection):
        if not sets:
            return _exists(connection, project_id, conversation_id)
        sql = f"UPDATE conversations SET {', '.join(sets)} {_WHERE_CONVERSATION}"
        cursor = connection.execute(sql, (*params, project_id, conversation_id))
    return cursor.rowcount > 0


def delete_conversation(
    connection: sqlite3.Connection, project_id: int, conversation_id: str
) -> bool:
    """Delete a conversation with its events and feedback."""
    key = (project_id, conversation_id)
    with transaction(connection):
        cursor = connection.execute(f"DELETE FROM conversations {_WHERE_CONVERSATION}", key)
        connection.execute(f"DELETE FROM events {_WHERE_CONVERSATION}", key)
        connection.execute(f"DELETE FROM feedback {_WHERE_CONVERSATION}", key)
    return cursor.rowcount > 0


def add_feedback(
    connection: sqlite3.Connection, project_id: int, conversation_id: str, feedback: Feedback
) -> bool:
    """Add one feedback entry to an existing conversation."""
    metadata = None if feedback.metadata is None else json.dumps(feedback.metadata)
    with transaction(connection):
        if not _exists(connection, project_id, conversation_id):
            return False
        connection.execute(
            "INSERT INTO feedback (project_id, conversation_id, sentiment, comment, metadata,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                project_id,
                conversation_id,
                feedback.sentiment,
                feedback.comment,
                metadata,
                now_micros(),
            ),
        )
    return True
