"""Fixtures of the browser tests: a real collector with demo data, and headless Chromium.

One ``agentsight serve`` process serves the module: project A holds a month
of seeded history (counts known in advance) and a few hand-made
conversations; project B holds what ``examples/demo_bot.py`` tracked with the
real SDK (with an ingest key).  Two users sign in: an admin (every project)
and a viewer granted A only, both made with ``agentsight users create``.
Chromium is Debian's (``/usr/bin/chromium``, installed by
``.ci/browser.sh``), driven by Playwright's Python API; without either the
tests skip, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.dashboard.seed import Seeded, seed
from tests.e2e.collector import CollectorProcess

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AGENTSIGHT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DEMO_CONVERSATIONS = 200
HISTORY_CONVERSATIONS = 600
XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "dashboard password 1"
USERS = {"admin": "admin@example.com", "viewer": "viewer@example.com"}
_CLI = [sys.executable, "-m", "agentsight._cli"]


@attrs.define
class Served:
    """The collector and what it holds."""

    collector: CollectorProcess
    history: Seeded
    special: dict[str, str]  # role -> conversation id in project A


def _users(db: Path) -> None:
    """The admin and the viewer (granted A), as an operator makes them."""
    for role, email in USERS.items():
        grants = ["--project", "A"] if role == "viewer" else []
        subprocess.run(
            [*_CLI, "users", "create", "--db", str(db), "--email", email, "--role", role, *grants],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
            timeout=60,
        )


def _require_browser() -> Any:
    reason = ""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed: pip install playwright (see .ci/browser.sh)"
    else:
        if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
            reason = f"no Chromium at {CHROMIUM}: run .ci/browser.sh (apt-get install chromium)"
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return sync_playwright


def _special(collector: CollectorProcess) -> dict[str, str]:
    """Three hand-made conversations: hostile text, one to rename, one to delete."""
    now = time.time()
    specials = {
        "xss": "special-xss",
        "rename": "special-rename",
        "delete": "special-delete",
        "forged": "special-forged",
    }
    events: list[dict[str, Any]] = []
    for n, cid in enumerate(specials.values()):
        start = now - 3600 + n * 60
        texts = [XSS, "<script>window.__pwned = 1</script>", "&lt;b&gt; stays literal"]
        for seq, text in enumerate(["hello", *texts]):
            events.append(
                {
                    "id": f"{n:02d}{seq:02d}".ljust(32, "a"),
                    "type": "message",
                    "conversation_id": cid,
                    "seq": seq,
                    "timestamp": time.strftime(
                        "%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(start + seq)
                    ),
                    "sender": "end_user" if seq % 2 == 0 else "agent",
                    "content": text,
                }
            )
    status, answer = collector.request("POST", "/v1/batch", body={"schema": 1, "events": events})
    assert status == 200 and not answer["rejected"], answer
    # A file an official SDK sent with its message (see tests/compat).
    specials["files"] = "special-files"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime(now - 600))
    item = {"conversation_id": "special-files", "timestamp": stamp}
    status, answer = collector.request(
        "POST", "/api/track/", body={**item, "content": "see file", "sender": "end_user"}
    )
    assert status == 201, answer
    attachment = {"filename": "notes.txt", "mime_type": "text/plain", "data": "bm90ZXM="}
    body = {**item, "message": answer["id"], "attachments": [attachment]}
    status, answer = collector.request("POST", "/api/attachments/", body=body)
    assert status == 201, answer
    return {**specials, "llm": _llm_turns(collector, now)}


def _llm_turns(collector: CollectorProcess, now: float) -> str:
    """An agent's two turns (4 messages): nested steps, a priced and an unpriced model call,
    a failed tool call, and two scores."""
    cid = "special-llm"
    events: list[dict[str, Any]] = []

    def add(kind: str, at: float, **fields: Any) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 600 + at))
        micros = f"{round((at % 1) * 1e6):06d}"
        events.append({"id": f"{len(events):04d}".ljust(32, "b"), "type": kind,
                       "conversation_id": cid, "seq": len(events),
                       "timestamp": f"{stamp}.{micros}Z", **fields})  # fmt: skip

    def started(at: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now - 600 + at))

    add("conversation", 0, environment="production", customer_id="llm-customer")
    add("message", 1, sender="end_user", content="Where is order 42?")
    add("token_usage", 3, prompt_tokens=900, completion_tokens=40, model="gpt-4o-mini",
        provider="openai", started_at=started(2), duration_ms=1000, step_id="s-llm-1",
        parent_id="s-answer")  # fmt: skip
    add("token_usage", 4.5, prompt_tokens=300, completion_tokens=20, model="house-model",
        started_at=started(4), duration_ms=500, step_id="s-llm-2",
        parent_id="s-search")  # fmt: skip
    add("action", 5, action_name="kb_search", started_at=started(3), duration_ms=2000,
        error_msg="timeout", step_id="s-search", parent_id="s-answer")  # fmt: skip
    add("action", 6, action_name="answer", started_at=started(2), duration_ms=4000,
        step_id="s-answer")  # fmt: skip
    add("message", 7, sender="agent", content="It shipped yesterday.")
    add("message", 8, sender="end_user", content="Thanks!")
    add("token_usage", 9, prompt_tokens=100, completion_tokens=10, model="gpt-4o-mini",
        provider="openai", step_id="s-llm-3")  # fmt: skip
    add("message", 10, sender="agent", content="You're welcome.")
    add("score", 11, name="resolved", value=True, source="sdk")
    add("score", 12, name="helpfulness", value=0.8, source="sdk", comment="clear")
    status, answer = collector.request("POST", "/v1/batch", body={"schema": 2, "events": events})
    assert status == 200 and not answer["rejected"], answer
    return cid


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A collector process with project A (history + specials) and B (the demo bot)."""
    _require_browser()
    collector = CollectorProcess(tmp_path_factory.mktemp("dashboard") / "collector.db")
    try:
        _users(collector.db)
        history = seed(collector.url, collector.keys["A"], HISTORY_CONVERSATIONS, time.time())
        special = _special(collector)
        env = {
            **os.environ,
            "AGENTSIGHT_API_KEY": collector.ingest_key("B"),
            "DEMO_FEEDBACK_KEY": collector.keys["B"],  # feedback needs an admin key
            "AGENTSIGHT_API_ENDPOINT": collector.url,
        }
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "demo_bot.py"),
                "--conversations",
                str(DEMO_CONVERSATIONS),
                "--seed",
                "3",
            ],
            env=env,
            check=True,
            timeout=180,
            capture_output=True,
        )
        yield Served(collector, history, special)
    finally:
        assert collector.stop() == 0, "".join(collector.log)


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (no browser download)."""
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh browser context (no cookie, empty storage) at 1280x800: the admin, in project A."""
    with signed_in(browser, served, viewport={"width": 1280, "height": 800}) as tab:
        yield tab


@contextlib.contextmanager
def signed_in(browser: Any, served: Served, **options: Any) -> Iterator[Any]:
    """A tab of a fresh browser context made with *options*, the admin signed in to
    project A; a script error on the page fails the test."""
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(tab, served, "A")
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors


def sign_in(tab: Any, served: Served, project: str, role: str = "admin") -> None:
    """Open the dashboard, sign in as the *role* user and open *project*, as a person would."""
    tab.goto(served.collector.url + "/")
    tab.fill("#email-input", USERS[role])
    tab.fill("#password-input", PASSWORD)
    tab.click("#login-form button[type=submit]")
    tab.wait_for_selector("#tiles[data-compared]")
    if tab.input_value("#project") != project:
        tab.select_option("#project", project)
        tab.wait_for_selector("#tiles[data-compared]")
