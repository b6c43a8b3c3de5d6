"""``agentsight export``: JSON Lines and CSV, its filters, progress on a tty only, a closed pipe."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

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
