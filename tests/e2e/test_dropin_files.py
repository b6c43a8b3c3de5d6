"""0.0.44's files on a message call, against a real `agentsight serve`, on asyncio and trio:
kept by the collector as downloadable files linked to their message, not inside it."""

from __future__ import annotations

import base64
import io
import urllib.request
from typing import Any

import anyio
import pytest

from agentsight import ConversationTracker
from tests.e2e.collector import CollectorProcess

pytestmark = pytest.mark.anyio

_INVOICE = b"invoice #7: 42 EUR"
_PHOTO = b"\x89PNG\r\n\x1a\n not really a photo"


def _download(collector: CollectorProcess, url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        collector.url + url, headers={"Authorization": f"Bearer {collector.keys['A']}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.read()


def _check(collector: CollectorProcess, cid: str) -> None:
    """The two messages carry no bytes; their files download, are listed and linked."""
    events = collector.conversation(cid)["events"]
    messages = [e for e in events if e["type"] == "message"]
    files = [e for e in events if e["type"] == "attachment"]
    assert [(m["sender"], m["content"]) for m in messages] == [
        ("end_user", "here is my invoice"),
        ("agent", "and a photo"),
    ]
    assert all(not m.get("attachments") for m in messages), messages
    assert base64.b64encode(_INVOICE).decode() not in str(events)
    assert [(f["sender"], f["message_id"]) for f in files] == [
        ("end_user", messages[0]["id"]),
        ("agent", messages[1]["id"]),
    ]
    (invoice,), (photo,) = files[0]["files"], files[1]["files"]
    assert (invoice["filename"], invoice["mime_type"], invoice["size"]) == (
        "inv.txt",
        "text/plain",
        len(_INVOICE),
    )
    assert (photo["filename"], photo["mime_type"]) == ("p.png", "image/png")
    for event, content in ((files[0], _INVOICE), (files[1], _PHOTO)):
        url = f"/v1/conversations/{cid}/attachments/{event['id']}/0"
        assert _download(collector, url) == (200, content)

    status, listed = collector.request("GET", "/api/conversations/", conversation_id=cid)
    assert status == 200, listed
    number = listed["results"][0]["id"]
    status, official = collector.request("GET", f"/api/conversations/{number}/attachments/")
    assert status == 200, official
    assert official["count"] == 2
    assert [f["filename"] for f in official["results"]] == ["inv.txt", "p.png"]
    status, detail = collector.request("GET", f"/api/conversations/{number}/")
    assert status == 200, detail
    assert [[f["filename"] for f in m["attachments"]] for m in detail["messages"]] == [
        ["inv.txt"],
        ["p.png"],
    ]


async def test_0044_files_on_awaited_message_calls_are_stored_as_files(
    collector: CollectorProcess,
) -> None:
    """Awaited, in 0.0.44's order (mode third) and with form_data bytes: files, not message data."""
    async with ConversationTracker(
        api_key=collector.keys["A"], endpoint=collector.url, flush_interval=0.05
    ) as tracker:
        await tracker.get_or_create_conversation("dropin-async")
        await tracker.track_human_message(
            "here is my invoice",
            [{"filename": "inv.txt", "data": base64.b64encode(_INVOICE).decode()}],
            "base64",  # type: ignore[arg-type]
        )
        await tracker.track_agent_message(
            "and a photo",
            [{"filename": "p.png", "data": _PHOTO}],
            attachment_mode="form_data",
        )
        report = await tracker.send_tracked_data()
    assert report.complete and tracker.stats().accepted == 5
    await anyio.to_thread.run_sync(_check, collector, "dropin-async")


def _plain_calls(collector: CollectorProcess) -> Any:
    tracker = ConversationTracker(api_key=collector.keys["A"], endpoint=collector.url)
    try:
        tracker.get_or_create_conversation(conversation_id="dropin-sync")
        tracker.track_human_message(
            "here is my invoice",
            [{"filename": "inv.txt", "data": base64.b64encode(_INVOICE).decode()}],
            "base64",  # type: ignore[arg-type]
            {"channel": "mail"},  # type: ignore[arg-type]
        )
        tracker.track_agent_message(
            "and a photo",
            [{"filename": "p.png", "mime_type": "image/png", "data": io.BytesIO(_PHOTO)}],
            attachment_mode="form_data",
        )
        return tracker.send_tracked_data()
    finally:
        tracker.close()


async def test_0044_files_on_plain_message_calls_are_stored_as_files(
    collector: CollectorProcess,
) -> None:
    """Called plainly from a worker thread (thread mode), as 0.0.44 code does: the same."""
    with anyio.fail_after(60):
        report = await anyio.to_thread.run_sync(_plain_calls, collector)
    assert report["summary"]["errors"] == 0 and report["summary"]["accepted"] == 5
    await anyio.to_thread.run_sync(_check, collector, "dropin-sync")
    events = collector.conversation("dropin-sync")["events"]
    assert [e["metadata"] for e in events if e["type"] == "message"] == [
        {"channel": "mail"},
        None,
    ]
