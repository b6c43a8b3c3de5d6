"""Code written for the official SDK 0.0.44, run with ours against a real collector:
its names, arguments and dict-shaped results work (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

import anyio
import pytest

import agentsight
from agentsight import ConversationTracker, ValidationError
from tests.server.collector_helpers import Collector

pytestmark = pytest.mark.anyio


def test_the_top_level_names_and_modules_of_0044_import() -> None:
    """0.0.44's imports work; its enums, config and exception names are ours."""
    from agentsight import (  # noqa: F401
        AgentSightAPI,
        ConversationManager,
        ConversationTracker,
        agentsight_api,
        conversation_manager,
        conversation_tracker,
    )
    from agentsight.api import Sentiment
    from agentsight.config import API_KEY_PATTERN, Config
    from agentsight.enums import AttachmentMode, Environment, Sender
    from agentsight.enums import Sentiment as Alias
    from agentsight.exceptions import (
        InvalidQuestionDataException,
        NoDataToSendException,
        NotFoundException,
    )

    assert agentsight.agentsight_api is agentsight.api.agentsight_api
    assert Alias is Sentiment and Config is agentsight._config.TrackerConfig
    assert API_KEY_PATTERN.match("ags_" + "0" * 32 + "_" + "0" * 6)
    assert NotFoundException is agentsight.NotFoundError
    assert issubclass(InvalidQuestionDataException, ValueError)
    assert issubclass(NoDataToSendException, agentsight.AgentSightError)
    assert (AttachmentMode.FORM_DATA.value, Sender.USER.value) == ("form_data", "end_user")
    assert Environment.PRODUCTION.value == "production"


def test_a_bad_attachment_mode_names_the_argument() -> None:
    """attachment_mode other than base64/form_data, or a str as form_data's data, raises."""
    tracker = ConversationTracker(api_key="ags_" + "0" * 32 + "_" + "0" * 6)
    with pytest.raises(ValidationError, match="attachment_mode: expected 'base64' or 'form_data'"):
        tracker.track_human_message("hi", [], attachment_mode="zip", conversation_id="c")
    with pytest.raises(ValidationError, match=r"attachments\[0\].data: expected bytes"):
        tracker.track_attachments([{"data": "text"}], mode="form_data", conversation_id="c")
    tracker.close()


def _script(collector: Collector) -> dict[str, Any]:
    """0.0.44-style code, blocking, as a worker thread runs it."""
    from agentsight import AgentSightAPI
    from agentsight.enums import AttachmentMode

    tracker = ConversationTracker(api_key=collector.keys["A"], endpoint=collector.url)
    api = AgentSightAPI(collector.keys["A"], collector.url)
    out: dict[str, Any] = {}
    try:
        tracker.get_or_create_conversation(conversation_id="drop-in", customer_id="u1")
        png = base64.b64encode(b"\x89PNG fake").decode()
        # 0.0.44's positional order (the mode third): it runs; type checkers flag it.
        tracker.track_human_message(
            "look",
            [{"filename": "a.png", "mime_type": "image/png", "data": png}],
            "base64",  # type: ignore[arg-type]
            {"m": 1},  # type: ignore[arg-type]
        )
        tracker.track_agent_message(
            "here",
            attachments=[{"filename": "r.txt", "data": io.BytesIO(b"report")}],
            attachment_mode=AttachmentMode.FORM_DATA,
        )
        tracker.track_attachments(
            [{"filename": "log.txt", "data": b"hello"}], mode="form_data", metadata={"k": 2}
        )
        out["tracked"] = tracker.get_tracked_data_summary()
        report = tracker.send_tracked_data()
        out["summary"] = report["summary"]
        detail = api.fetch_conversation("drop-in")
        out["messages"] = [
            (m["sender"], m["content"], m["attachments"]) for m in detail["messages"]
        ]
        out["files"] = detail["attachments"]
        number = api.fetch_conversations(conversation_id="drop-in")["results"]
        out["listed"] = [r["conversation_id"] for r in number]
        files = api.fetch_conversation_attachments("drop-in")
        out["listing"] = files["results"]
        out["by_number"] = api.fetch_conversation(1)["conversation_id"]
        out["update"] = api.update_conversation(
            "drop-in", "Renamed", None, "other", None, "de", {"x": 1}
        )["name"]
        tracker.configure(conversation_id="configured")  # 0.0.44's way to switch
        tracker.track_human_message("in the configured one")
        tracker.send_tracked_data()
        api.configure(collector.keys["A"], collector.url, log_level="DEBUG")
    finally:
        tracker.close()
        api.close()
    return out


async def test_0044_code_runs_with_our_sdk(
    collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    """The calls and results 0.0.44 code relies on: files kept and downloadable, dicts."""
    caplog.set_level(logging.WARNING, "agentsight")
    with anyio.fail_after(60):
        out = await anyio.to_thread.run_sync(_script, collector)
    # The messages' files are attachment events of their own, linked to them.
    assert out["summary"]["errors"] == 0 and out["summary"]["accepted"] == 6, out["summary"]
    assert out["tracked"]["conversation_id"] == "drop-in"
    (user, content, attached), (agent, reply, sent) = out["messages"]
    assert (user, content, agent, reply) == ("end_user", "look", "agent", "here")
    assert [(f["filename"], f["mime_type"], "data" in f) for f in attached + sent] == [
        ("a.png", "image/png", False),
        ("r.txt", "text/plain", False),
    ]
    assert [f["filename"] for f in out["files"]] == ["log.txt"]
    assert out["listed"] == ["drop-in"]
    assert [f["filename"] for f in out["listing"]] == ["a.png", "r.txt", "log.txt"]
    for listed, content in zip(out["listing"], (b"\x89PNG fake", b"report", b"hello"), strict=True):
        async with collector.session.get(listed["url"], headers=collector.auth()) as response:
            assert (response.status, await response.read()) == (200, content)
    assert out["by_number"] == "drop-in"
    assert out["update"] == "Renamed"
    assert "customer_id, language not changed" in caplog.text
    conversation = (await collector.conversation("drop-in"))["conversation"]
    assert (conversation["customer_id"], conversation["language"]) == ("u1", None)
    assert conversation["metadata"] == {"x": 1}
    events = (await collector.conversation("configured"))["events"]
    assert [e["content"] for e in events] == ["in the configured one"]
