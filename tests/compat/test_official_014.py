"""The official SDK 0.1.4, installed from PyPI into its own environment, against a real
collector: its spans are stored as our events, once (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.compat.official import official_python
from tests.compat.test_official_0044 import run_script
from tests.server.collector_helpers import Collector

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="session")
def python_014() -> Path:
    """agentsight==0.1.4 in a cached virtual environment of its own."""
    return official_python("0.1.4")


async def test_every_call_of_014_is_stored_once(
    python_014: Path, collector: Collector, tmp_path: Path
) -> None:
    """Messages, tools, tasks, model calls, buttons, attachments and metadata updates of
    0.1.4 are read back through /v1, once; the upload's file is downloadable."""
    out = await run_script(python_014, "sdk_014.py", collector, tmp_path)
    assert out["init"] is True and out["flush"] is True, out["stderr"]
    main = await collector.conversation("f-support-123")
    conv = main["conversation"]
    assert (conv["customer_id"], conv["device"], conv["source"]) == (
        "user-456",
        "mobile",
        "whatsapp",
    )
    # The script renamed it through 0.1.4's API after tracking.
    assert (conv["environment"], conv["is_used"], conv["name"]) == (
        "development",
        True,
        "Renamed by 0.1.4",
    )
    kinds = Counter(e["type"] for e in main["events"])
    assert kinds["message"] == 3 and kinds["action"] == 3, kinds
    assert kinds["button"] == 1 and kinds["token_usage"] == 1, kinds
    assert kinds["attachment"] == 2, kinds  # recorded descriptors, and the upload
    messages = [(e["sender"], e["content"]) for e in main["events"] if e["type"] == "message"]
    assert ("end_user", "Hello") in messages and ("agent", "Hi! Your order shipped.") in messages
    actions = {e["action_name"]: e for e in main["events"] if e["type"] == "action"}
    assert actions["lookup_order"]["tools_used"] == {"order_id": "A-1"}
    assert actions["fallback_to_human"]["error_msg"] == "no agent"
    assert "Traceback" not in str(actions["fallback_to_human"])
    assert conv["token_usage"] == {
        "prompt_tokens": 13,
        "completion_tokens": 5,
        "total_tokens": 18,
        "embedding_tokens": 0,
    }
    (call,) = [e for e in main["events"] if e["type"] == "token_usage"]
    assert (call["model"], call["provider"], call["cached_input_tokens"]) == (
        "gpt-4o-mini",
        "openai",
        3,
    )
    assert call["cost_usd"] is not None  # priced as /v1/batch prices it
    uploads = [
        e for e in main["events"] if e["type"] == "attachment" and e["files"][0].get("sha256")
    ]
    assert [f["filename"] for f in uploads[0]["files"]] == ["b.txt"]
    path = f"/v1/conversations/f-support-123/attachments/{uploads[0]['id']}/0"
    async with collector.session.get(path, headers=collector.auth()) as response:
        assert (response.status, await response.read()) == (200, b"hello")
    widget = await collector.conversation("widget-1")
    assert widget["conversation"]["is_used"] is False
    assert out["listing"] == ["f-support-123"]
    assert "Hello" in out["detail_messages"]
    assert out["rename"] == "Renamed by 0.1.4"
    assert "b.txt" in out["files"]
    after = (await collector.conversation("f-support-123"))["conversation"]
    # agentsight.update_metadata(remove=["previous_tickets"]) replaced the document as
    # tracked; conversations.update_metadata read, merged and wrote it back without user_tier.
    assert after["metadata"] == {"escalated": True, "plan": "pro"}, after["metadata"]
    assert [f["sentiment"] for f in after["feedback"]] == ["negative"]
