"""``agentsight export``: a project's conversations and events as JSON Lines or CSV.

Reads through the storage interface (pages of the conversation list, then
each conversation's events), so it works on SQLite and PostgreSQL alike and
never holds more than one page in memory.  Only finding the projects by name
and counting what will be written (for the progress bar) asks the database
directly.

JSON Lines: one line per conversation, ``{"project", "conversation",
"events"}``, the conversation as ``GET /v1/conversations/{id}`` answers it
(feedback included) and each event as stored.  CSV: one row per event,
with its conversation's attributes repeated.  Every field of every event
kind has a column; one whose name the conversation or another kind already
uses gets its own (``score_name``, ``score_source``, ``event_started_at``...),
and a ``conversation`` or ``interaction`` event's attributes, as that call
sent them, are one cell (``attributes``), since the conversation's columns
hold what was kept (first write wins).  JSON values (metadata, tools,
attachments, files, feedback) are JSON text, a string too.  Columns added
later come after the others, so a spreadsheet's columns keep their places.
A text cell that a spreadsheet would take for a formula (one that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: OWASP's rule
for CSV injection) gets a single quote in front, so it is shown as text,
never run.  Rows end in CRLF (RFC 4180), so a cell holding a CR or an LF is
quoted and cannot start a row of its own.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TextIO

import attrs

from .. import _wire as wire
from .storage import ConversationQuery, Storage

__all__ = ["CSV_COLUMNS", "ExportError", "ExportFilter", "Progress", "export"]

_PAGE = 200
CONVERSATION_COLUMNS = (
    "conversation_id",
    "name",
    "customer_id",
    "source",
    "device",
    "language",
    "country",
    "environment",
    "is_used",
    "is_marked",
    "started_at",
    "ended_at",
)
EVENT_COLUMNS = (
    "event_id",
    "type",
    "seq",
    "timestamp",
    "sender",
    "content",
    "action_name",
    "duration_ms",
    "response",
    "error_msg",
    "tools_used",
    "button_event",
    "label",
    "value",
    *wire.TOKEN_FIELDS,
    "model",
    "provider",
    "cost_usd",
    "step_id",
    "parent_id",
    "score_name",
    "score_value",
    "comment",
    "metadata",
    # Added with wire schema 2's fields: after the others, so theirs stay put.
    "truncated",
    "attachments",
    "event_started_at",
    "event_ended_at",
    "cached_input_tokens",
    "reasoning_tokens",
    "message_id",
    "score_source",
    "files",
    "attributes",
)
#: The conversation's columns added after the event's (see EVENT_COLUMNS): their keys.
_LATER = {
    "customer_ip_address": "customer_ip_address",
    "conversation_metadata": "metadata",  # "metadata" is the event's
    "feedback": "feedback",
}
LATER_CONVERSATION_COLUMNS = tuple(_LATER)
CSV_COLUMNS = ("project", *CONVERSATION_COLUMNS, *EVENT_COLUMNS, *LATER_CONVERSATION_COLUMNS)
#: Columns whose cells are always JSON text (empty for null), even for a string:
#: ``tools_used`` may be any JSON value.
_JSON_FIELDS = frozenset(
    {"metadata", "tools_used", "attachments", "files", "attributes"}
    | {"conversation_metadata", "feedback"}
)
#: Fields whose own names are the conversation's or another kind's columns.
_RENAMED = {
    "score": {"name": "score_name", "value": "score_value", "source": "score_source"},
    "action": {"started_at": "event_started_at", "ended_at": "event_ended_at"},
    "token_usage": {"started_at": "event_started_at"},
}
#: A conversation or interaction event's attributes, kept whole in ``attributes``.
_ATTRIBUTES = {
    kind: tuple(name for name in wire.FIELDS[kind] if name != "metadata")
    for kind in ("conversation", "interaction")
}


class ExportError(Exception):
    """The export cannot start: no such project, or nothing to read."""


@attrs.frozen
class ExportFilter:
    """Which conversations to write; ``None`` means no filter.

    ``since`` and ``until`` (microseconds) bound when a conversation started,
    ``since`` included and ``until`` excluded, as ``GET /v1/conversations`` does.
    """

    since: int | None = None
    until: int | None = None
    environment: str | None = None

    def query(self, before: int | None) -> ConversationQuery:
        """The page of the conversation list that starts at *before*."""
        return ConversationQuery(
            limit=_PAGE,
            before=before,
            since=self.since,
            until=self.until,
            environment=self.environment,
        )


@attrs.define
class Progress:
    """Counts for a progress display: conversations written of ``total``."""

    total: int
    done: int = 0


def _project_sql(
    mark: Callable[[int], str], name: str | None, only: ExportFilter
) -> tuple[str, list[Any]]:
    """The look-up of projects and their counts, with placeholders in text order."""
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return mark(len(params))

    counted = ""
    if only.since is not None:
        counted += f" AND c.started_at >= {param(only.since)}"
    if only.until is not None:
        counted += f" AND c.started_at < {param(only.until)}"
    if only.environment is not None:
        counted += f" AND c.environment = {param(only.environment)}"
    sql = (
        "SELECT p.id, p.name, (SELECT COUNT(*) FROM conversations c"
        f" WHERE c.project_id = p.id{counted}) FROM projects p"
    )
    if name is not None:
        sql += f" WHERE p.name = {param(name)}"
    return sql + " ORDER BY p.id", params


def _sqlite_rows(path: Any, sql: str, params: list[Any]) -> list[Any]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


async def _projects(
    storage: Storage, name: str | None, only: ExportFilter
) -> list[tuple[int, str, int]]:
    """``(id, name, conversations to export)`` of the project named *name*, or of every project."""
    from .storage.postgres._storage import PostgresStorage
    from .storage.sqlite._storage import SQLiteStorage

    if isinstance(storage, SQLiteStorage):
        sql, params = _project_sql(lambda n: "?", name, only)
        rows = await asyncio.to_thread(_sqlite_rows, storage.path, sql, params)
    elif isinstance(storage, PostgresStorage):
        sql, params = _project_sql(lambda n: f"${n}", name, only)
        async with storage.acquire() as connection:
            rows = await connection.fetch(sql, *params)
    else:  # pragma: no cover - a third backend would add its own look-up
        raise ExportError(f"export does not know the storage {type(storage).__name__}")
    found = [(int(i), str(n), int(c)) for i, n, c in rows]
    if name is not None and not found:
        raise ExportError(f"--project: no project named {name!r} in this database")
    return found


async def _conversations(
    storage: Storage, project_id: int, only: ExportFilter
) -> AsyncIterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    before = None
    while True:
        page = await storage.list_conversations(project_id, only.query(before))
        for listed in page.conversations:
            cid = listed["conversation_id"]
            conversation = await storage.get_conversation(project_id, cid)
            if conversation is not None:  # deleted meanwhile
                yield conversation, await storage.list_events(project_id, cid)
        if page.next_before is None:
            return
        before = page.next_before


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_cell(value: Any) -> str:
    # JSON text starts with {, [, ", a digit, -, t, f or n: a "-" only as a
    # number's sign, which no spreadsheet runs, so no quote is needed.
    return "" if value is None else _json(value)


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return _json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        # defusedcsv does the like but leaves tab and CR out and rewrites "|"
        # inside cells; OWASP's rule is these six, and the text stays as it was.
        return "'" + value
    return "" if value is None else value


def _csv_rows(
    project: str, conversation: dict[str, Any], events: list[dict[str, Any]]
) -> list[list[Any]]:
    head = [_cell(project), *(_cell(conversation.get(c)) for c in CONVERSATION_COLUMNS)]
    tail = _cells({c: conversation.get(key) for c, key in _LATER.items()}, _LATER)
    return [head + _cells(_event_values(e), EVENT_COLUMNS) + tail for e in events]


def _cells(values: dict[str, Any], columns: Iterable[str]) -> list[Any]:
    return [
        _json_cell(values.get(c)) if c in _JSON_FIELDS else _cell(values.get(c)) for c in columns
    ]


def _event_values(event: dict[str, Any]) -> dict[str, Any]:
    """*event*'s fields by their CSV column."""
    kind = event["type"]
    values = {**event, "event_id": event["id"]}
    for name, column in _RENAMED.get(kind, {}).items():
        values[column] = values.pop(name, None)
    if kind in _ATTRIBUTES:
        values["attributes"] = {name: values.pop(name, None) for name in _ATTRIBUTES[kind]}
    return values


async def export(
    storage: Storage,
    out: TextIO,
    *,
    fmt: str,
    project: str | None = None,
    only: ExportFilter = ExportFilter(),
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Write the conversations (newest first) and their events of *project* (or all) to *out*.

    Args:
        fmt: ``"jsonl"`` or ``"csv"``.
        only: which conversations (by default every one).
        on_progress: called after each conversation.

    Returns:
        how many conversations were written.

    Raises:
        ExportError: no project by that name.
    """
    projects = await _projects(storage, project, only)
    progress = Progress(total=sum(count for _, _, count in projects))
    # With "\n" alone, the csv module would leave a lone CR in a cell unquoted.
    writer = csv.writer(out, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
    for project_id, name, _ in projects:
        async for conversation, events in _conversations(storage, project_id, only):
            if writer is not None:
                writer.writerows(_csv_rows(name, conversation, events))
            else:
                line = {"project": name, "conversation": conversation, "events": events}
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            progress.done += 1
            if on_progress is not None:
                on_progress(progress)
    return progress
