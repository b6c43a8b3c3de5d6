"""SQLite's search index of the messages' text (``agentsight search-index``).

An FTS5 table of trigrams whose content is ``events.content`` (an external
content table: the text is stored once), kept by triggers on ``events``, so
every path that adds, changes or deletes a message keeps it (a batch,
deletion, retention, erasure).  ``detail=none``: rows only, no positions,
about half the size and a sixth less work per message; a search asks for
each trigram of its text and the list's ``LIKE`` tests the candidates.
``columnsize=0``: no size per row, which only ranking reads, and which would
be missing for the events without text (the triggers leave them out).
The trigram tokenizer folds case, so the candidates hold every message
whose text holds the search's in SQLite's ``LIKE`` (ASCII case folded).
"""

from __future__ import annotations

import sqlite3

from .._listing import SEARCH_INDEX
from ._write import transaction

__all__ = ["has_search_index", "set_search_index"]

_CREATE = (
    f"CREATE VIRTUAL TABLE {SEARCH_INDEX} USING fts5(content, content='events',"
    " content_rowid='rowid', tokenize='trigram', detail='none', columnsize=0)",
    f"CREATE TRIGGER {SEARCH_INDEX}_added AFTER INSERT ON events"
    f" WHEN new.content IS NOT NULL BEGIN"
    f" INSERT INTO {SEARCH_INDEX} (rowid, content) VALUES (new.rowid, new.content); END",
    f"CREATE TRIGGER {SEARCH_INDEX}_removed AFTER DELETE ON events"
    f" WHEN old.content IS NOT NULL BEGIN"
    f" INSERT INTO {SEARCH_INDEX} ({SEARCH_INDEX}, rowid, content)"
    " VALUES ('delete', old.rowid, old.content); END",
    f"CREATE TRIGGER {SEARCH_INDEX}_changed AFTER UPDATE OF content ON events BEGIN"
    f" INSERT INTO {SEARCH_INDEX} ({SEARCH_INDEX}, rowid, content)"
    " SELECT 'delete', old.rowid, old.content WHERE old.content IS NOT NULL;"
    f" INSERT INTO {SEARCH_INDEX} (rowid, content)"
    " SELECT new.rowid, new.content WHERE new.content IS NOT NULL; END",
    # Every stored message, read from events (rows without text are left out).
    f"INSERT INTO {SEARCH_INDEX} ({SEARCH_INDEX}) VALUES ('rebuild')",
)
_DROP = (
    f"DROP TRIGGER {SEARCH_INDEX}_added",
    f"DROP TRIGGER {SEARCH_INDEX}_removed",
    f"DROP TRIGGER {SEARCH_INDEX}_changed",
    f"DROP TABLE {SEARCH_INDEX}",
)


def has_search_index(connection: sqlite3.Connection) -> bool:
    """Whether the database has the search index (read in the caller's transaction)."""
    found = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SEARCH_INDEX,)
    ).fetchone()
    return found is not None


def set_search_index(connection: sqlite3.Connection, enabled: bool) -> bool:
    """Build (*enabled*) or drop the search index in one transaction; whether it changed.

    Raises:
        RuntimeError: this SQLite has no FTS5 or no trigram tokenizer (3.34 or later).
    """
    with transaction(connection):
        if has_search_index(connection) == enabled:
            return False
        try:
            for statement in _CREATE if enabled else _DROP:
                connection.execute(statement)
        except sqlite3.OperationalError as error:
            if enabled and ("fts5" in str(error) or "tokenize" in str(error)):
                raise RuntimeError(
                    f"the search index needs SQLite's FTS5 with its trigram tokenizer"
                    f" (SQLite 3.34 or later); this Python's SQLite is"
                    f" {sqlite3.sqlite_version}: {error}"
                ) from error
            raise
    return True
