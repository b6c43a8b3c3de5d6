"""Databases as an older AgentSight left them: built from the package's own migration files.

``create_at(db, version)`` applies the migrations up to *version* only, as
the release that shipped them did, so an upgrade test starts from the real
old schema.  ``UNDO_ACCESS`` takes a database back from the access schema
(issue 17: SQLite 5, PostgreSQL 4) to the one before, for tests that
replay older migrations.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from agentsight.server.storage.postgres import _schema as _postgres_schema
from agentsight.server.storage.sqlite import _schema as _sqlite_schema
from tests.server import pg_helpers

#: The access schema's version on each backend.
ACCESS_VERSION = {"sqlite": 5, "postgres": 4}
#: The newest schema version of each backend.
LATEST = {"sqlite": _sqlite_schema.SCHEMA_VERSION, "postgres": _postgres_schema.SCHEMA_VERSION}
#: What the migrations after the access schema made, undone (newest first).
#: The indexes after the event rollups (SQLite 10-11, PostgreSQL 9-10), undone.
_UNDO_INDEXES = [
    "DROP INDEX IF EXISTS events_actions_by_conversation",
    "DROP INDEX IF EXISTS events_waits_by_conversation",
    "DROP INDEX IF EXISTS conversations_by_customer",
    "CREATE INDEX conversations_by_customer ON conversations (project_id, customer_id)",
]
_ROLLUP_TABLES = (
    "rollup_tools",
    "rollup_buttons",
    "rollup_scores",
    "rollup_score_values",
    "rollup_wait_days",
    "rollup_duration_days",
)
#: The list's sort indexes (SQLite 13, PostgreSQL 12), undone.  The sweep of files left
#: without their event after them (SQLite 14, PostgreSQL 13) created nothing: only its
#: schema_version row goes, with theirs.
_UNDO_SORT_INDEXES = [
    "DROP INDEX IF EXISTS conversations_by_duration",
    "DROP INDEX IF EXISTS conversations_by_messages",
]
_COUNTS = ("feedback_positive", "feedback_neutral", "feedback_negative")
_FEEDBACK_COLUMNS = {
    "conversations": _COUNTS,
    "rollup_quarters": (*_COUNTS, "with_feedback"),
    "rollup_days": (*_COUNTS, "with_feedback"),
}
#: The list's mark and sentiment lookups (SQLite 18, PostgreSQL 19), undone.
UNDO_LIST_FILTER_LOOKUPS = [
    "DROP INDEX IF EXISTS feedback_by_sentiment",
    "DROP INDEX IF EXISTS conversations_marked",
]
_COMBO_KINDS = ("messages", "models", "tools", "buttons", "scores", "score_values")
_COMBO_HISTOGRAMS = ("wait_days", "duration_days")
#: The histograms per combination of attributes (SQLite 20, PostgreSQL 21), undone.  On
#: PostgreSQL only with schema 20's undoing after it (UNDO_COMBO_ROLLUPS): schema 21 also
#: keys schema 20's rollups by the MD5 of their combination.
UNDO_COMBO_HISTOGRAMS = {
    "sqlite": [
        *(
            f"DROP TRIGGER IF EXISTS rollup_combo_{kind}_{change}"
            for kind, changes in (
                ("waits", ("add", "remove", "change")),
                ("durations", ("add", "remove")),
                ("histograms", ("add", "remove", "move")),
            )
            for change in changes
        ),
        *(f"DROP TABLE IF EXISTS rollup_combo_{kind}" for kind in _COMBO_HISTOGRAMS),
        "DELETE FROM schema_version WHERE version >= 20",
    ],
    "postgres": [
        *(  # their triggers go with them
            f"DROP FUNCTION IF EXISTS agentsight_{name}() CASCADE"
            for name in ("combo_histograms", "conversation_combo_histograms")
        ),
        *(f"DROP TABLE IF EXISTS rollup_combo_{kind}" for kind in _COMBO_HISTOGRAMS),
        "DELETE FROM schema_version WHERE version >= 21",
    ],
}
#: The event rollups per combination of attributes (SQLite 19, PostgreSQL 20) and the
#: histograms after them, undone.
UNDO_COMBO_ROLLUPS = {
    "sqlite": [
        *UNDO_COMBO_HISTOGRAMS["sqlite"],
        *(
            f"DROP TRIGGER IF EXISTS rollup_combo_{kind}_{change}"
            for kind in (*_COMBO_KINDS, "events", "actions")
            for change in ("add", "remove", "move")
        ),
        *(f"DROP TABLE IF EXISTS rollup_combo_{kind}" for kind in _COMBO_KINDS),
        "DELETE FROM schema_version WHERE version >= 19",
    ],
    "postgres": [
        *UNDO_COMBO_HISTOGRAMS["postgres"],
        *(  # their triggers go with them
            f"DROP FUNCTION IF EXISTS agentsight_{name}() CASCADE"
            for name in (
                "combo_event_rollups",
                "combo_action_rollups",
                "conversation_combo_event_rollups",
                "conversation_combo_action_rollups",
            )
        ),
        *(f"DROP TABLE IF EXISTS rollup_combo_{kind}" for kind in _COMBO_KINDS),
        "DELETE FROM schema_version WHERE version >= 20",
    ],
}
#: The bounded keys of presses and scores (PostgreSQL 17) and the category lookups and
#: list filter lookups after them (PostgreSQL 18 and 19), undone.
UNDO_BOUNDED_KEYS = [
    *UNDO_COMBO_ROLLUPS["postgres"],
    *UNDO_LIST_FILTER_LOOKUPS,
    "DROP INDEX IF EXISTS events_score_labels",
    "DROP INDEX IF EXISTS rollup_score_labels",
    "ALTER TABLE rollup_buttons DROP CONSTRAINT rollup_buttons_pkey",
    "ALTER TABLE rollup_buttons DROP COLUMN payload_key",
    "ALTER TABLE rollup_buttons ADD PRIMARY KEY (project_id, quarter, payload)",
    """DO $$
DECLARE f TEXT;
BEGIN
    FOREACH f IN ARRAY ARRAY['agentsight_action_rollups',
                             'agentsight_conversation_action_rollups'] LOOP
        EXECUTE replace(pg_get_functiondef(f::regproc),
                        'ON CONFLICT (project_id, quarter, payload_key) ',
                        'ON CONFLICT (project_id, quarter, payload) ');
    END LOOP;
END $$""",
    "DROP INDEX events_scores",
    "CREATE INDEX events_scores ON events (project_id, score_name, conversation_id, score_value,"
    " score_label, ts) WHERE score_name IS NOT NULL",
    "DELETE FROM schema_version WHERE version >= 17",
]
#: The feedback in the rollups (SQLite 16, PostgreSQL 15) and what came after it, undone.
UNDO_FEEDBACK_ROLLUPS = {
    "sqlite": [
        # The combinations' rollups, the list filters' and the histograms' indexes
        # (SQLite 19, 18 and 17) first.
        *UNDO_COMBO_ROLLUPS["sqlite"],
        *UNDO_LIST_FILTER_LOOKUPS,
        "DROP INDEX IF EXISTS rollup_durations_by_bucket",
        "DROP INDEX IF EXISTS rollup_score_values_by_value",
        *(f"DROP TRIGGER IF EXISTS feedback_counts_{kind}" for kind in ("add", "remove", "change")),
        *(f"DROP TRIGGER IF EXISTS rollup_feedback_{kind}" for kind in ("add", "remove", "move")),
        *(
            f"ALTER TABLE {table} DROP COLUMN {column}"
            for table, columns in _FEEDBACK_COLUMNS.items()
            for column in columns
        ),
        "DELETE FROM schema_version WHERE version >= 16",
    ],
    "postgres": [
        *UNDO_BOUNDED_KEYS,
        "DROP TRIGGER IF EXISTS feedback_counts ON feedback",
        *(
            f"DROP TRIGGER IF EXISTS rollup_feedback_{change} ON conversations"
            for change in ("add", "remove", "move")
        ),
        "DROP FUNCTION IF EXISTS agentsight_feedback_counts()",
        "DROP FUNCTION IF EXISTS agentsight_feedback_rollups()",
        *(
            f"ALTER TABLE {table} DROP COLUMN IF EXISTS {column}"
            for table, columns in _FEEDBACK_COLUMNS.items()
            for column in columns
        ),
        "DELETE FROM schema_version WHERE version >= 15",
    ],
}
#: The rollups of actions, buttons and scores (SQLite 12, PostgreSQL 11) and what came
#: after them, undone.
UNDO_ACTION_ROLLUPS = {
    "sqlite": [
        *UNDO_FEEDBACK_ROLLUPS["sqlite"],
        *_UNDO_SORT_INDEXES,
        *(
            f"DROP TRIGGER IF EXISTS rollup_{kind}_{change}"
            for kind in ("tools", "buttons", "scores", "waits", "durations", "actions")
            for change in ("add", "remove", "move", "change")
        ),
        *(f"DROP TABLE IF EXISTS {table}" for table in _ROLLUP_TABLES),
        "DROP INDEX IF EXISTS conversations_by_start",
        "CREATE INDEX conversations_by_start ON conversations (project_id, started_at)",
        "DELETE FROM schema_version WHERE version >= 12",
    ],
    "postgres": [
        *UNDO_FEEDBACK_ROLLUPS["postgres"],
        *_UNDO_SORT_INDEXES,
        *(
            f"DROP TRIGGER IF EXISTS rollup_actions_{change} ON {table}"
            for change in ("add", "remove", "move")
            for table in ("events", "conversations")
        ),
        "DROP TRIGGER IF EXISTS rollup_waits_change ON events",
        "DROP FUNCTION IF EXISTS agentsight_wait_rollups()",
        "DROP FUNCTION IF EXISTS agentsight_action_rollups()",
        "DROP FUNCTION IF EXISTS agentsight_conversation_action_rollups()",
        *(f"DROP TABLE IF EXISTS {table}" for table in _ROLLUP_TABLES),
        "DELETE FROM schema_version WHERE version >= 11",
    ],
}
#: The event rollups (SQLite 9, PostgreSQL 8) and what came after them, undone.
UNDO_EVENT_ROLLUPS = {
    "sqlite": [
        *UNDO_ACTION_ROLLUPS["sqlite"],
        *_UNDO_INDEXES,
        *(
            f"DROP TRIGGER IF EXISTS rollup_{table}_{change}"
            for table in ("messages", "models")
            for change in ("add", "remove")
        ),
        *(f"DROP TRIGGER IF EXISTS rollup_events_{change}" for change in ("add", "remove", "move")),
        "DROP TABLE IF EXISTS rollup_messages",
        "DROP TABLE IF EXISTS rollup_models",
        "DELETE FROM schema_version WHERE version >= 9",
    ],
    "postgres": [
        *UNDO_ACTION_ROLLUPS["postgres"],
        *_UNDO_INDEXES,
        "DROP TRIGGER IF EXISTS rollup_events_add ON events",
        "DROP TRIGGER IF EXISTS rollup_events_remove ON events",
        *(
            f"DROP TRIGGER IF EXISTS rollup_events_{change} ON conversations"
            for change in ("add", "remove", "move")
        ),
        "DROP FUNCTION IF EXISTS agentsight_event_rollups()",
        "DROP FUNCTION IF EXISTS agentsight_conversation_event_rollups()",
        "DROP TABLE IF EXISTS rollup_messages",
        "DROP TABLE IF EXISTS rollup_models",
        "DELETE FROM schema_version WHERE version >= 8",
    ],
}
_UNDO_LATER = {
    "sqlite": [
        *UNDO_EVENT_ROLLUPS["sqlite"],
        "DROP TRIGGER IF EXISTS rollups_add",
        "DROP TRIGGER IF EXISTS rollups_remove",
        *(
            f"DROP TRIGGER IF EXISTS rollups_{change}_{bucket}"
            for change in ("change", "move")
            for bucket in ("quarter", "day")
        ),
        "DROP TABLE IF EXISTS rollup_quarters",
        "DROP TABLE IF EXISTS rollup_days",
        "DROP INDEX IF EXISTS conversations_by_start",
        "DROP TRIGGER IF EXISTS attachment_files_follow_events",
        "DROP TABLE IF EXISTS attachment_files",
    ],
    "postgres": [
        *UNDO_EVENT_ROLLUPS["postgres"],
        "DROP TRIGGER IF EXISTS rollups_add ON conversations",
        "DROP TRIGGER IF EXISTS rollups_remove ON conversations",
        "DROP TRIGGER IF EXISTS rollups_move ON conversations",
        "DROP FUNCTION IF EXISTS agentsight_rollups()",
        "DROP TABLE IF EXISTS rollup_quarters",
        "DROP TABLE IF EXISTS rollup_days",
        "DROP INDEX IF EXISTS conversations_by_start",
        "DROP TRIGGER IF EXISTS attachment_files_follow_events ON events",
        "DROP FUNCTION IF EXISTS agentsight_drop_attachment_files()",
        "DROP TABLE IF EXISTS attachment_files",
    ],
}
#: Models and scores (issue 18: SQLite 6, PostgreSQL 5), undone first.
_UNDO_MODELS = [
    "DROP INDEX events_models",
    "DROP INDEX events_scores",
    *(
        f"ALTER TABLE events DROP COLUMN {column}"
        for column in (
            "model",
            "provider",
            "cost_nanos",
            "score_name",
            "score_value",
            "score_label",
        )
    ),
    *(
        f"ALTER TABLE conversations DROP COLUMN {column}"
        for column in ("cost_nanos", "priced_calls", "unpriced_calls")
    ),
]
#: events_tokens, which schema 6 (SQLite) and 5 (PostgreSQL) replaced by events_models.
_TOKENS_INDEX = {
    "sqlite": "CREATE INDEX events_tokens ON events (project_id, ts, prompt_tokens,"
    " completion_tokens, total_tokens, embedding_tokens) WHERE total_tokens IS NOT NULL",
    "postgres": "CREATE INDEX events_tokens ON events (project_id, ts) INCLUDE (prompt_tokens,"
    " completion_tokens, total_tokens, embedding_tokens) WHERE total_tokens IS NOT NULL",
}
_UNDO_TABLES = [
    "DROP TABLE audit_log",
    "DROP TABLE sessions",
    "DROP TABLE user_projects",
    "DROP TABLE users",
    "DROP INDEX conversations_by_age",
    "DROP INDEX conversations_by_customer",
    "ALTER TABLE api_keys DROP COLUMN scope",
    "ALTER TABLE api_keys DROP COLUMN last_used_at",
    "ALTER TABLE projects DROP COLUMN retention_days",
]
UNDO_ACCESS = {
    backend: [
        *_UNDO_LATER[backend],
        *_UNDO_MODELS,
        _TOKENS_INDEX[backend],
        *_UNDO_TABLES,
        f"DELETE FROM schema_version WHERE version >= {version}",
    ]
    for backend, version in ACCESS_VERSION.items()
}


def _sqlite_at(db: Path, version: int) -> None:
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, script in _sqlite_schema._migrations():
            if number <= version:
                for statement in _sqlite_schema._statements(script):
                    connection.execute(statement)
                connection.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
    finally:
        connection.close()


async def _postgres_at(url: str, version: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for number, script in _postgres_schema._migrations():
            if number <= version:
                await connection.execute(script)
                await connection.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
    finally:
        await connection.close()


async def create_at(db: Path | str, version: int) -> None:
    """Create the database *db* (a SQLite path or a PostgreSQL URL) at schema *version*."""
    if isinstance(db, Path):
        _sqlite_at(db, version)
    else:
        await _postgres_at(db, version)


async def rows(db: Path | str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of *sql* on *db* (a SQLite path or a PostgreSQL URL), as tuples."""
    if isinstance(db, Path):
        connection = sqlite3.connect(db)
        try:
            return [tuple(row) for row in connection.execute(sql)]
        finally:
            connection.close()
    return [tuple(row) for row in await pg_helpers.fetch(db, sql)]


async def execute(db: Path | str, statements: list[str]) -> None:
    """Run *statements* on *db*, each on its own (autocommit)."""
    if isinstance(db, Path):
        connection = sqlite3.connect(db, isolation_level=None)
        try:
            for statement in statements:
                connection.execute(statement)
        finally:
            connection.close()
        return
    for statement in statements:
        await pg_helpers.fetch(db, statement)
