"""The dashboard in headless Chromium against a real collector with demo data."""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from tests.dashboard.conftest import (
    DEMO_CONVERSATIONS,
    ROOT,
    USERS,
    XSS,
    Served,
    sign_in,
)

# The README's screenshots are refreshed with AGENTSIGHT_UPDATE_SCREENSHOTS=1; an
# ordinary run writes them to a temporary folder, so it leaves the tree clean.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("AGENTSIGHT_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "agentsight-screenshots"
)


def _tile(page: Any, name: str) -> str:
    text: str = page.text_content(f'[data-value="{name}"]')
    return text


def _metrics(served: Served, project: str) -> dict[str, Any]:
    status, answer = served.collector.request("GET", "/v1/metrics", project)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


def _shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path))
    return path


def test_overview_shows_the_right_totals(page: Any, served: Served, browser: Any) -> None:
    """The tiles show what /v1/metrics says and what was put in: history + 3 specials in A."""
    metrics = _metrics(served, "A")
    conversations = served.history.conversations + len(served.special)
    assert metrics["totals"]["conversations"] == conversations
    # Four messages in each special conversation, one in the one with a file.
    specials = 4 * (len(served.special) - 1) + 1
    assert metrics["totals"]["messages"] == served.history.messages + specials
    assert _tile(page, "conversations") == f"{conversations:,}"
    assert _tile(page, "messages") == f"{metrics['totals']['messages']:,}"
    assert _tile(page, "unique_users") == f"{metrics['totals']['unique_users']:,}"
    assert page.locator("svg.heatmap rect.cell").count() == 7 * 24
    assert page.locator("#country-table tbody tr").count() >= 5
    page.wait_for_load_state("networkidle")
    _shot(page, "overview.png")

    # Project B: the demo bot's conversations, tracked with the real SDK.
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = other.new_page()
        sign_in(tab, served, "B")
        assert _tile(tab, "conversations") == f"{DEMO_CONVERSATIONS:,}"
        totals = _metrics(served, "B")["totals"]
        assert totals["conversations"] == DEMO_CONVERSATIONS
        assert _tile(tab, "messages") == f"{totals['messages']:,}"
    finally:
        other.close()


def test_list_filters_and_pages(page: Any, served: Served) -> None:
    """The list pages through 25 at a time and applies the query API's filters."""
    page.click('[data-nav="conversations"]')
    rows = page.locator("#conversation-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == 25
    first_page = [rows.nth(i).get_attribute("data-cid") for i in range(25)]
    expected = served.collector.all_conversations("A")
    assert first_page == [c["conversation_id"] for c in expected[:25]]
    page.click("#next-page")
    page.wait_for_selector("#page-label:has-text('Page 2')")
    second_page = [rows.nth(i).get_attribute("data-cid") for i in range(rows.count())]
    assert second_page == [c["conversation_id"] for c in expected[25:50]]
    page.click("#prev-page")
    page.wait_for_selector("#page-label:has-text('Page 1')")

    page.select_option('#filters select[name="device"]', "desktop")
    page.wait_for_selector('#filters select[name="source"][data-loaded]', state="attached")
    page.select_option('#filters select[name="source"]', "web")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**source=web**")
    page.wait_for_selector("#page-label:has-text('Page 1')")
    rows.first.wait_for()
    shown = [rows.nth(i).get_attribute("data-cid") for i in range(rows.count())]
    web = served.collector.all_conversations("A", source="web", device="desktop")
    assert web, "the history has web conversations"
    assert shown == [c["conversation_id"] for c in web[:25]]


def test_transcript_shows_messages_in_order(page: Any, served: Served) -> None:
    """A transcript lists the messages as the API orders them, with actions and tokens inline."""
    cid = served.history.ids[5]
    page.goto(f"{served.collector.url}/#/conversation/{urllib.parse.quote(cid)}")
    page.wait_for_selector("#chat .bubble")
    events = served.collector.conversation(cid)["events"]
    contents = [e["content"] for e in events if e["type"] == "message"]
    assert page.locator("#chat .bubble").all_text_contents() == contents
    kinds = page.eval_on_selector_all(
        "#chat [data-event]", "nodes => nodes.map(n => n.dataset.event)"
    )
    assert kinds == [e["type"] for e in events]
    assert "Attributes" in page.text_content("main")
    page.wait_for_load_state("networkidle")
    _shot(page, "transcript.png")


def test_a_file_in_the_transcript_downloads(page: Any, served: Served) -> None:
    """An official SDK's attachment shows in the transcript and downloads with its name."""
    page.goto(f"{served.collector.url}/#/conversation/{served.special['files']}")
    page.wait_for_selector('#chat [data-event="attachment"] button')
    assert page.text_content('#chat [data-event="attachment"] button') == "notes.txt (5 B)"
    with page.expect_download() as info:
        page.click('#chat [data-event="attachment"] button')
    download = info.value
    assert download.suggested_filename == "notes.txt"
    assert Path(download.path()).read_bytes() == b"notes"


def test_message_html_is_shown_as_text(page: Any, served: Served) -> None:
    """``<img src=x onerror=alert(1)>`` and a script show literally and run nothing."""
    dialogs: list[str] = []

    def refuse(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    cid = served.special["xss"]
    page.goto(f"{served.collector.url}/#/conversation/{cid}")
    page.wait_for_selector("#chat .bubble")
    texts = page.locator("#chat .bubble").all_text_contents()
    assert texts == ["hello", XSS, "<script>window.__pwned = 1</script>", "&lt;b&gt; stays literal"]
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("#chat img, #chat script").count() == 0
    page.wait_for_timeout(500)  # bounded: give an injected handler its chance to fire
    assert dialogs == []
    assert page.evaluate("window.__pwned === undefined")


def test_rename_mark_feedback_and_delete_reach_the_api(page: Any, served: Served) -> None:
    """Changes made on the transcript page are what the API then answers."""
    cid = served.special["rename"]
    page.goto(f"{served.collector.url}/#/conversation/{cid}")
    page.wait_for_selector("#rename-input")
    page.fill("#rename-input", "Renamed from the browser <b>")
    page.click("#rename-save")
    page.wait_for_selector("#toast:has-text('Renamed')")
    assert (
        served.collector.conversation(cid)["conversation"]["name"] == "Renamed from the browser <b>"
    )

    page.click("#mark")
    page.wait_for_selector("#mark:has-text('Marked')")
    assert served.collector.conversation(cid)["conversation"]["is_marked"] is True

    page.fill("#feedback-comment", "quick and right")
    page.click('[data-sentiment="positive"]')
    page.wait_for_selector("#feedback-list :text('quick and right')")
    feedback = served.collector.conversation(cid)["conversation"]["feedback"]
    assert [(f["sentiment"], f["comment"]) for f in feedback] == [("positive", "quick and right")]

    doomed = served.special["delete"]
    page.goto(f"{served.collector.url}/#/conversation/{doomed}")
    page.wait_for_selector("#delete")
    page.click("#delete")
    page.click("#delete")  # the second click confirms
    page.wait_for_url("**#/conversations")
    status, _ = served.collector.request("GET", f"/v1/conversations/{doomed}")
    assert status == 404


def test_a_wrong_password_is_refused(browser: Any, served: Served) -> None:
    """A wrong password keeps the sign-in form up with its reason, and sets no cookie."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(served.collector.url + "/")
        tab.fill("#email-input", USERS["admin"])
        tab.fill("#password-input", "not the password")
        tab.click("#login-form button[type=submit]")
        tab.wait_for_selector("#login-error:not([hidden])")
        assert "Wrong e-mail or password" in tab.text_content("#login-error")
        assert context.cookies() == []
        assert tab.evaluate("sessionStorage.length + localStorage.length") == 0
    finally:
        context.close()
