"""The official SDK 0.0.44, installed from PyPI into its own environment, against a real
collector: the page's examples and every other call store everything, once, and its
read and management calls work (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.compat.official import official_python
from tests.server.collector_helpers import Collector

pytestmark = pytest.mark.anyio
SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture(scope="session")
def python_0044() -> Path:
    """agentsight==0.0.44 in a cached virtual environment of its own."""
    return official_python("0.0.44")


async def run_script(
    python: Path, script: str, collector: Collector, tmp_path: Path, *, slash: str = ""
) -> dict[str, Any]:
    """Run *script* with the official SDK, its key and endpoint from the environment."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AGENTSIGHT_API_KEY": collector.keys["A"],
        "AGENTSIGHT_API_ENDPOINT": collector.url + slash,
        "AGENTSIGHT_LOG_LEVEL": "WARNING",
    }
    with anyio.fail_after(120):
        done = await anyio.run_process(
            [str(python), str(SCRIPTS / script)], env=env, cwd=tmp_path, check=False
        )
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 0, stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout)
    answer["stderr"] = stderr
    return answer


async def test_every_call_of_0044_is_stored_once(
    python_0044: Path, collector: Collector, tmp_path: Path
) -> None:
    """Every conversation, message, action, button, token count, attachment and feedback
    the page's examples and the other calls send is read back through /v1, once; the
    SDK counts no error; its reads and management calls get what they expect."""
    out = await run_script(python_0044, "sdk_0044.py", collector, tmp_path, slash="/")
    assert all(s["errors"] == 0 for s in out["summaries"]), (out["failed"], out["stderr"])
    assert out["tracked"]  # get_tracked_data_summary ran

    main = await collector.conversation("support-ticket-789")
    conv = main["conversation"]
    assert (conv["customer_id"], conv["device"], conv["source"]) == (
        "customer-abc",
        "mobile",
        "whatsapp",
    )
    assert (conv["language"], conv["environment"], conv["is_used"]) == ("en-US", "production", True)
    assert conv["name"] == "Renamed" and conv["is_marked"] is True
    assert conv["metadata"] == {"x": 1}  # update_conversation replaces it, as theirs did
    assert conv["country"] is not None or conv["customer_ip_address"] is None
    kinds = Counter(e["type"] for e in main["events"])
    assert kinds == Counter(
        conversation=1, message=3, action=2, button=1, attachment=4, token_usage=1
    ), kinds
    messages = [(e["sender"], e["content"]) for e in main["events"] if e["type"] == "message"]
    assert messages == [
        ("end_user", "I forgot my password"),
        ("agent", "Here is the reset link"),
        ("end_user", "Thanks"),
    ]
    actions = {e["action_name"]: e for e in main["events"] if e["type"] == "action"}
    assert actions["lookup_account"]["started_at"] == "2024-01-15T10:30:00Z"  # naive: UTC
    assert actions["lookup_account"]["tools_used"] == {"db": "accounts"}
    assert actions["send_reset_mail"]["error_msg"] == "smtp down"
    # The running totals were sent twice: the sums are the totals, not twice them.
    assert conv["token_usage"]["total_tokens"] == 15
    assert conv["token_usage"]["prompt_tokens"] == 10
    assert [f["sentiment"] for f in conv["feedback"]] == ["positive"]

    files = {}
    message_ids = {e["id"]: e["content"] for e in main["events"] if e["type"] == "message"}
    for event in main["events"]:
        if event["type"] == "attachment":
            for index, described in enumerate(event["files"]):
                path = f"/v1/conversations/support-ticket-789/attachments/{event['id']}/{index}"
                async with collector.session.get(path, headers=collector.auth()) as response:
                    assert response.status == 200
                    data = await response.read()
                assert len(data) == described["size"]
                owner = message_ids.get(event["message_id"] or "")
                files[described["filename"]] = (data, owner)
    assert files["screen.png"] == (b"\x89PNG\r\n\x1a\nfake", "I forgot my password")
    assert files["steps.txt"] == (b"1. click\n2. type", "Here is the reset link")
    assert files["log.txt"] == (b"hello", None)
    assert [v for k, v in files.items() if k.startswith("attachment_")] == [(b"raw bytes", None)]

    for cid, source in [
        ("web-session-101", "web"),
        ("+15550001111", "whatsapp"),
        ("app-u1-s1", "ios_app"),
        (out["voice_id"], "voice_call"),
    ]:
        answer = await collector.conversation(cid)
        assert answer["conversation"]["source"] == source
        # 0.0.44's token counts are the process's running totals, sent with every later
        # conversation too (documented: nothing tells processes apart).
        assert [e["type"] for e in answer["events"]] == ["conversation", "message", "token_usage"]
        assert answer["conversation"]["token_usage"]["total_tokens"] == 15
    initialized = await collector.conversation("support-123")
    assert initialized["conversation"]["is_used"] is False
    assert [e["type"] for e in initialized["events"]] == ["interaction"]

    assert out["listing"] == {"count": 1, "ids": ["support-ticket-789"]}
    assert out["detail_messages"] == [m for _, m in messages]
    assert out["detail_by_pk"] == "support-ticket-789"
    assert out["attachments"] == sorted(files)
    status, _ = await collector.call("GET", "/v1/conversations/chat-123")
    assert status == 404  # deleted by conversation_manager
