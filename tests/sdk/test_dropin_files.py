"""0.0.44's files on a message call: the message without them, then an ``attachment``
event linked to it by ``message_id``, whatever path the message takes to the wire."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from agentsight import ConversationTracker, ValidationError
from agentsight._events import OWN_IDS
from agentsight.transports import InMemoryTransport
from tests.sink import KEY, Sink

_FILE = [{"filename": "inv.txt", "data": base64.b64encode(b"42 EUR").decode()}]


def _pairs(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["type"], e.get("content"), e.get("attachments"), e.get("message_id"), e.get("files"))
        for e in events
    ]


@pytest.mark.anyio
async def test_awaited_message_with_files_links_an_attachment_event() -> None:
    """Awaited, mode third: the message has no attachments; the files event names its id."""
    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport) as tracker:
        await tracker.track_human_message("invoice", _FILE, "base64", conversation_id="c")  # type: ignore[arg-type]
        await tracker.track_agent_message("thanks", conversation_id="c")
    message, files, reply = transport.events
    assert _pairs([message, reply]) == [
        ("message", "invoice", None, None, None),
        ("message", "thanks", None, None, None),
    ]
    assert (files["type"], files["sender"], files["message_id"]) == (
        "attachment",
        "end_user",
        message["id"],
    )
    assert files["files"] == [{**_FILE[0], "mime_type": "text/plain"}]
    assert [e["seq"] for e in transport.events] == [0, 1, 2]
    assert not OWN_IDS


def test_a_bad_file_tracks_nothing() -> None:
    """A file that is not what the mode says raises before the message is tracked."""
    transport = InMemoryTransport()
    tracker = ConversationTracker(transport=transport)
    with pytest.raises(ValidationError, match=r"attachments\[0\].data: expected bytes"):
        tracker.track_agent_message(
            "x", [{"data": "text"}], attachment_mode="form_data", conversation_id="c"
        )
    tracker.track_agent_message("y", [], attachment_mode="form_data", conversation_id="c")
    tracker.close()
    assert [(e["seq"], e["content"], e["attachments"]) for e in transport.events] == [
        (0, "y", None)
    ]


def test_spooled_message_keeps_the_id_its_files_link_to(tmp_path: Path) -> None:
    """A full buffer spools plain calls: the spooled message keeps its linked id."""
    sink = Sink()  # not started: the buffer fills up
    tracker = ConversationTracker(
        api_key=KEY, endpoint=sink.url, spool_dir=tmp_path, max_buffer=4, shutdown_timeout=0.5
    )
    for n in range(500):
        tracker.track_human_message(f"m{n}", _FILE, "base64", conversation_id="s")  # type: ignore[arg-type]
    tracker.close()
    assert tracker.stats().spooled > 0 and tracker.stats().dropped == 0
    sink.start()
    try:
        replayer = ConversationTracker(api_key=KEY, endpoint=sink.url, spool_dir=tmp_path)
        replayer.track_human_message("again", conversation_id="s")
        events = sink.wait_for(1001)
        replayer.close()
    finally:
        sink.stop()
    messages = {e["id"]: e["content"] for e in events if e["type"] == "message"}
    linked = sorted(messages[e["message_id"]] for e in events if e["type"] == "attachment")
    assert linked == sorted(f"m{n}" for n in range(500))
    assert not OWN_IDS
