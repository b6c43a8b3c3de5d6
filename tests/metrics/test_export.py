"""``agentsight export``: JSON Lines and CSV, its filters, progress on a tty only, a closed pipe."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentsight import _wire as wire
from agentsight.server import ServerOptions
from agentsight.server._export import CSV_COLUMNS
from tests.metrics import dataset
from tests.server.collector_helpers import run_collector
from tests.server.pg_helpers import run_sync

CLI = [sys.executable, "-m", "agentsight._cli", "export"]
EVENTS = {"c1": 9, "c2": 7, "c3": 1, "c4": 9}  # counted in dataset.py


@pytest.fixture
def loaded(database_url: Path | str) -> str:
    """The hand-built data set of both projects, with c2's feedback, in a database."""

    async def fill() -> None:
        async with run_collector(database_url) as collector:
            await collector.send(*dataset.project_a())
            await collector.send(*dataset.project_b(), project="B")
            status, _ = await collector.call(
                "POST", "/v1/conversations/c2/feedback", json={"sentiment": "positive"}
            )
            assert status == 201

    run_sync(fill)
    return str(database_url)


def _export(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--db", db, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_jsonl_has_every_conversation_with_its_events(loaded: str) -> None:
    """One line per conversation of the project, events in order, feedback included."""
    done = _export(loaded, "--format", "jsonl", "--project", "A")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {line["conversation"]["conversation_id"] for line in lines} == set(EVENTS)
    for line in lines:
        cid = line["conversation"]["conversation_id"]
        assert line["project"] == "A"
        assert len(line["events"]) == EVENTS[cid]
        stamps = [(e["timestamp"], e["seq"]) for e in line["events"]]
        assert stamps == sorted(stamps)
    c2 = next(line for line in lines if line["conversation"]["conversation_id"] == "c2")
    assert [f["sentiment"] for f in c2["conversation"]["feedback"]] == ["positive"]
    assert "\r" not in done.stderr  # no progress bar without a terminal
    assert done.stderr.strip() == "exported 4 conversations"

    everything = _export(loaded, "--format", "jsonl")
    projects = [json.loads(line)["project"] for line in everything.stdout.splitlines()]
    assert sorted(projects) == ["A", "A", "A", "A", "B"]


def test_since_keeps_later_conversations(loaded: str, tmp_path: Path) -> None:
    """--since (a date or an RFC 3339 time) keeps conversations started from then on."""
    out = tmp_path / "later.jsonl"
    done = _export(loaded, "--project", "A", "--since", "2026-11-03", "--output", str(out))
    assert done.returncode == 0, done.stderr
    ids = {
        json.loads(line)["conversation"]["conversation_id"] for line in out.read_text().splitlines()
    }
    assert ids == {"c3", "c4"}
    done = _export(loaded, "--project", "A", "--since", "2026-11-02T23:00:00Z")
    ids = {json.loads(line)["conversation"]["conversation_id"] for line in done.stdout.splitlines()}
    assert ids == {"c2", "c3", "c4"}


def test_csv_has_one_row_per_event(loaded: str) -> None:
    """CSV: the documented header, then one row per event with its conversation's attributes."""
    done = _export(loaded, "--format", "csv", "--project", "A")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert done.stdout.splitlines()[0].split(",") == list(CSV_COLUMNS)
    assert len(rows) == sum(EVENTS.values())
    tokens = [r for r in rows if r["type"] == "token_usage" and r["conversation_id"] == "c2"]
    assert [(r["prompt_tokens"], r["total_tokens"], r["embedding_tokens"]) for r in tokens] == [
        ("50", "60", "5")
    ]
    search = [r for r in rows if r["action_name"] == "kb_search"]
    assert sorted(r["duration_ms"] for r in search) == ["100", "200", "300"]
    assert {r["source"] for r in rows if r["conversation_id"] == "c1"} == {"web"}
    assert {r["is_used"] for r in rows if r["conversation_id"] == "c3"} == {"false"}


def test_progress_bar_only_on_a_terminal(loaded: str, tmp_path: Path) -> None:
    """With stderr on a terminal the bar is drawn in place and ends at 100%."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [*CLI, "--db", loaded, "--output", str(tmp_path / "all.jsonl")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=120,
            check=False,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 0, shown
    text = shown.decode()
    assert "\r[" in text
    assert "100%  5/5 conversations" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--project", "nobody"], "no project named 'nobody'"),
        (["--since", "last tuesday"], "--since"),
    ],
)
def test_bad_arguments(loaded: str, args: list[str], message: str) -> None:
    """An unknown project or an unreadable --since is a clean error naming it."""
    done = _export(loaded, *args)
    assert done.returncode == 1
    assert message in done.stderr


def test_missing_database(tmp_path: Path) -> None:
    """A --db path that does not exist is not created: it is an error."""
    done = _export(str(tmp_path / "nope.db"))
    assert done.returncode == 1
    assert "no database" in done.stderr
    assert not (tmp_path / "nope.db").exists()


def _ids(stdout: str) -> set[str]:
    return {json.loads(line)["conversation"]["conversation_id"] for line in stdout.splitlines()}


def test_until_and_environment_narrow_the_export(loaded: str) -> None:
    """--until excludes conversations started from then on; --environment keeps one environment."""
    done = _export(loaded, "--project", "A", "--until", "2026-11-03")
    assert done.returncode == 0, done.stderr
    assert _ids(done.stdout) == {"c1", "c2"}
    assert done.stderr.strip() == "exported 2 conversations"

    window = ("--since", "2026-11-02T23:00:00Z", "--until", "2026-11-04T15:00:00Z")
    done = _export(loaded, "--project", "A", *window)
    assert _ids(done.stdout) == {"c2", "c3"}  # c4 started at the --until instant: excluded

    done = _export(loaded, "--project", "A", "--environment", "development", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert {r["conversation_id"] for r in rows} == {"c3"}
    assert done.stderr.strip() == "exported 1 conversations"

    done = _export(loaded, "--project", "A", "--environment", "production", *window)
    assert _ids(done.stdout) == {"c2"}

    done = _export(loaded, "--environment", "staging")
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.strip() == "exported 0 conversations"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "soon"], "--until: expected a date such as 2026-11-01"),
        (["--since", "2026-11-03", "--until", "2026-11-03"], "--until: expected a time after"),
    ],
)
def test_bad_until(loaded: str, args: list[str], message: str) -> None:
    """An unreadable --until, or one not after --since, is an error naming --until."""
    done = _export(loaded, *args)
    assert done.returncode == 1
    assert message in done.stderr


def test_reader_going_away_ends_quietly(loaded: str) -> None:
    """``export | head``: when the reader closes the pipe, no traceback, status 141 like cat."""
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the first line: the first write fails
    try:
        done = subprocess.run(
            [*CLI, "--db", loaded],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert "exported" not in done.stderr


def test_reader_taking_one_line_through_a_shell_pipe(loaded: str) -> None:
    """The shell pipeline users write, ``agentsight export | head -n 1``, prints one line."""
    command = shlex.join([*CLI, "--db", loaded, "--project", "A"]) + " | head -n 1"
    done = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_csv_has_models_costs_steps_and_scores(database_url: Path | str) -> None:
    """A model call's model, cost and step, and a score's name, value and comment, each in
    its own column."""
    from tests.server.collector_helpers import conversation, score, tokens

    async def fill() -> None:
        async with run_collector(database_url) as collector:
            await collector.send(
                conversation("c1", 0, 0.0),
                tokens("c1", 1, 1.0, 1000, 100, model="gpt-4o", provider="openai",
                       step_id="s1", parent_id="p1"),
                score("c1", 2, 2.0, "resolved", True, comment="fixed"),
            )  # fmt: skip

    run_sync(fill)
    done = _export(str(database_url), "--format", "csv", "--project", "A")
    assert done.returncode == 0, done.stderr
    rows = {r["type"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    call = rows["token_usage"]
    assert (call["model"], call["provider"], call["step_id"], call["parent_id"]) == (
        "gpt-4o",
        "openai",
        "s1",
        "p1",
    )
    assert float(call["cost_usd"]) > 0
    scored = rows["score"]
    assert (scored["score_name"], scored["score_value"], scored["comment"]) == (
        "resolved",
        "true",
        "fixed",
    )
    assert scored["value"] == "" and scored["name"] == ""


#: The columns before wire schema 2's fields were added, in their places: users'
#: spreadsheets read them by position.
FIRST_COLUMNS = (
    "project", "conversation_id", "name", "customer_id", "source", "device", "language",
    "country", "environment", "is_used", "is_marked", "started_at", "ended_at",
    "event_id", "type", "seq", "timestamp", "sender", "content", "action_name",
    "duration_ms", "response", "error_msg", "tools_used", "button_event", "label", "value",
    "prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens",
    "model", "provider", "cost_usd", "step_id", "parent_id",
    "score_name", "score_value", "comment", "metadata",
)  # fmt: skip


def test_csv_columns_keep_their_places() -> None:
    """New columns come after the old ones, each name once, as docs/collector.md lists them."""
    assert CSV_COLUMNS[: len(FIRST_COLUMNS)] == FIRST_COLUMNS
    assert len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)
    text = (Path(__file__).parents[2] / "docs" / "collector.md").read_text()
    table = text.split("<!-- csv-columns -->")[1].split("<!-- /csv-columns -->")[0]
    rows = [row.split(" | ")[0] for row in table.splitlines()[3:]]
    assert re.findall(r"`(\w+)`", "".join(rows)) == list(CSV_COLUMNS)


#: The cells holding JSON text (empty for null).
JSON_COLUMNS = frozenset(
    {"metadata", "tools_used", "attachments", "files", "attributes"}
    | {"conversation_metadata", "feedback"}
)
#: A field's column where the field's own name is another kind's or the conversation's.
RENAMED = {
    ("score", "name"): "score_name",
    ("score", "value"): "score_value",
    ("score", "source"): "score_source",
    ("action", "started_at"): "event_started_at",
    ("action", "ended_at"): "event_ended_at",
    ("token_usage", "started_at"): "event_started_at",
}
NOTES = b"hello"
FEEDBACK = {"sentiment": "negative", "comment": "slow", "metadata": {"ticket": 7}}


def _every_kind() -> list[dict[str, Any]]:
    """One event of every kind, every field of the wire set, none to its default."""
    from tests.server import collector_helpers as h

    def attributes(n: int) -> dict[str, Any]:
        return {
            "customer_id": f"cust-{n}",
            "customer_ip_address": f"203.0.113.{n}",
            "device": ("mobile", "desktop")[n % 2],
            "source": f"web{n}",
            "language": ("pt", "en")[n % 2],
            "name": f"Refund {n}",
            "environment": ("development", "production")[n % 2],
            "metadata": {"plan": n},
        }

    said = h.message("c1", 2, 2.0, "Where is my refund?")
    said.update(
        metadata={"lang": "en"},
        attachments=[{"filename": "receipt.png", "mime_type": "image/png", "size": 2048}],
        truncated=True,
    )
    pressed = h.button("c1", 4, 4.0)
    pressed["metadata"] = {"where": "footer"}
    return [
        h.conversation("c1", 0, 0.0, used=False, **attributes(0)),
        h.conversation("c1", 1, 1.0, **attributes(1)),  # the conversation keeps 0's
        said,
        h.action("c1", 3, 3.0, "kb_search", duration_ms=250.5, tools_used="search_api",
                 error_msg="one source timed out", step_id="a1b2", parent_id="root"),
        pressed,
        h.tokens("c1", 5, 5.0, 1000, 200, embedding_tokens=7, model="gpt-4o",
                 provider="openai", cached_input_tokens=400, reasoning_tokens=50,
                 started_at=h.ts(4.5), duration_ms=812.5, step_id="c3d4", parent_id="a1b2"),
        h.score("c1", 6, 6.0, "helpful", 0.75, comment="clear", message_id=said["id"],
                source="human", metadata={"by": "qa"}),
        h.attachment("c1", 7, 7.0,
                     {"filename": "notes.txt", "mime_type": "text/plain",
                      "data": base64.b64encode(NOTES).decode()},
                     sender="agent", message_id=said["id"], metadata={"via": "upload"}),
    ]  # fmt: skip


def _stored(event: dict[str, Any]) -> dict[str, Any]:
    """*event* as the collector keeps it: an attachment's bytes become their size and hash."""
    if event["type"] != "attachment":
        return event
    files = [
        {"filename": "notes.txt", "mime_type": "text/plain", "size": len(NOTES),
         "sha256": hashlib.sha256(NOTES).hexdigest()}
    ]  # fmt: skip
    return {**event, "files": files}


@pytest.fixture
def every_kind(database_url: Path | str) -> tuple[str, list[dict[str, Any]]]:
    """A conversation with one event of every kind and a feedback, in a database."""
    events = _every_kind()
    assert sorted(e["type"] for e in events) == sorted(wire.KINDS)
    for event in events:  # a field added to the wire schema must be added here
        assert set(wire.FIELDS[event["type"]]) <= set(event), event["type"]

    async def fill() -> None:
        async with run_collector(database_url, ServerOptions(store_raw_ip=True)) as collector:
            await collector.send(*events)
            status, answer = await collector.call(
                "POST", "/v1/conversations/c1/feedback", json=FEEDBACK
            )
            assert status == 201, answer

    run_sync(fill)
    return str(database_url), [_stored(e) for e in events]


def _cell(column: str, text: str) -> Any:
    """A CSV cell read back: JSON columns decoded, others as text."""
    if column in JSON_COLUMNS:
        return None if text == "" else json.loads(text)
    return text


def _as_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_carries_every_field_of_every_kind(
    every_kind: tuple[str, list[dict[str, Any]]],
) -> None:
    """Each field the wire carries, of each kind, is in its event's row with its value;
    a conversation or interaction's own attributes too, beside the conversation's."""
    db, events = every_kind
    done = _export(db, "--format", "csv", "--project", "A")
    assert done.returncode == 0, done.stderr
    rows = {r["event_id"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert sorted(rows) == sorted(e["id"] for e in events)
    for event in events:
        kind, row = event["type"], rows[event["id"]]
        for field in (f.name for f in wire.COMMON):
            column = RENAMED.get((kind, field), "event_id" if field == "id" else field)
            assert row[column] == _as_text(event[field]), (kind, field)
        attributes = _cell("attributes", row["attributes"])
        for field in wire.FIELDS[kind]:
            sent = event[field]
            if kind in ("conversation", "interaction") and field != "metadata":
                assert attributes[field] == sent, (kind, field)
                continue
            column = RENAMED.get((kind, field), field)
            expected = sent if column in JSON_COLUMNS else _as_text(sent)
            assert _cell(column, row[column]) == expected, (kind, field)
    first = rows[events[0]["id"]]  # the conversation's own columns: the first call's
    assert (first["name"], first["customer_ip_address"]) == ("Refund 0", "203.0.113.0")
    assert _cell("conversation_metadata", first["conversation_metadata"]) == {"plan": 0}
    feedback = _cell("feedback", first["feedback"])
    assert [{k: f[k] for k in FEEDBACK} for f in feedback] == [FEEDBACK]
    assert {r["feedback"] for r in rows.values()} == {first["feedback"]}


def test_jsonl_carries_every_field_of_every_kind(
    every_kind: tuple[str, list[dict[str, Any]]],
) -> None:
    """JSON Lines keeps each event as the collector stored it, every wire field included."""
    db, events = every_kind
    done = _export(db, "--format", "jsonl", "--project", "A")
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(text) for text in done.stdout.splitlines()]
    stored = {e["id"]: e for e in line["events"]}
    for event in events:
        for field in (*(f.name for f in wire.COMMON), *wire.FIELDS[event["type"]]):
            assert stored[event["id"]][field] == event[field], (event["type"], field)
    conversation = line["conversation"]
    assert conversation["customer_ip_address"] == "203.0.113.0"
    assert [{k: f[k] for k in FEEDBACK} for f in conversation["feedback"]] == [FEEDBACK]
