"""``agentsight serve --redact pii``: an SDK that redacts nothing, a collector that stores
nothing personal; read back through the API, on asyncio and trio."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agentsight import ConversationTracker
from agentsight.api import AsyncClient
from tests.e2e.collector import CollectorProcess

pytestmark = pytest.mark.anyio

EMAIL = "ana.garcia@example.com"
CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def redacting(tmp_path: Path) -> Iterator[CollectorProcess]:
    process = CollectorProcess(tmp_path / "redacting.db", args=["--redact", "pii"])
    try:
        yield process
    finally:
        assert process.stop() == 0, "".join(process.log)


async def _send_personal_data(collector: CollectorProcess, cid: str) -> None:
    """Every kind of event, full of personal data, from an SDK with redact= unset."""
    tracker = ConversationTracker(
        api_key=collector.keys["A"], endpoint=collector.url, flush_interval=0.05
    )
    assert tracker.config.redact is None
    async with tracker:
        await tracker.get_or_create_conversation(
            cid, customer_id="user-7", name=f"Refund {EMAIL}", metadata={"contact": PHONE}
        )
        await tracker.track_human_message(
            f"card {CARD}, IBAN {IBAN}, mail {EMAIL}",
            attachments=[{"name": f"id card {PHONE}.png"}],
            metadata={"reply_to": EMAIL, "nested": {"card": CARD}, "turn": 1},
        )
        await tracker.track_action(
            "lookup", response={"email": EMAIL}, error_msg=f"no account for {EMAIL}"
        )
        await tracker.track_button("call_me", f"Call {PHONE}", PHONE, metadata={"m": EMAIL})
        report = await tracker.send_tracked_data()
    assert report.complete and report.accepted == 4


async def test_the_collector_redacts_what_an_unchanged_sdk_sends(
    redacting: CollectorProcess,
) -> None:
    """Stored and read back through the API: every covered field holds markers where
    the SDK sent addresses, numbers, a card and an IBAN; ids and counts are intact."""
    await _send_personal_data(redacting, "chat-pii")
    async with AsyncClient(redacting.keys["A"], redacting.url) as client:
        detail = await client.get_conversation("chat-pii")
    conversation = detail.conversation
    assert (conversation.name, conversation.customer_id) == ("Refund [email]", "user-7")
    assert conversation.metadata == {"contact": "[phone]"}
    kinds = {event.type: dict(event.data) for event in detail.events}
    message = kinds["message"]
    assert message["content"] == "card [card], IBAN [iban], mail [email]"
    assert message["attachments"] == [{"name": "id card [phone].png"}]
    assert message["metadata"] == {"reply_to": "[email]", "nested": {"card": "[card]"}, "turn": 1}
    assert kinds["action"]["response"] == '{"email": "[email]"}'
    assert kinds["action"]["error_msg"] == "no account for [email]"
    button = kinds["button"]
    assert (button["label"], button["value"], button["metadata"]) == (
        "Call [phone]",
        "[phone]",
        {"m": "[email]"},
    )
    # What was written, without timestamps and ids: a microsecond such as 241119 or a hex
    # id can hold "4111" by chance.
    text = json.dumps(
        [conversation.name, conversation.metadata, [event.data for event in detail.events]]
    )
    for secret in (EMAIL, CARD, PHONE, IBAN, "4111", "7946"):
        assert secret not in text
    assert any("redacting what arrives with pii" in line for line in redacting.log)


async def test_names_metadata_and_feedback_sent_to_the_api_are_redacted(
    redacting: CollectorProcess,
) -> None:
    """PATCH (name, metadata) and feedback (comment, metadata) are stored redacted too."""
    await _send_personal_data(redacting, "chat-api")
    async with AsyncClient(redacting.keys["A"], redacting.url) as client:
        renamed = await client.update_conversation(
            "chat-api", name=f"Call back {PHONE}", metadata={"email": EMAIL}
        )
        feedback = await client.submit_feedback(
            "chat-api", "negative", comment=f"write to {EMAIL}", metadata={"card": CARD}
        )
        detail = await client.get_conversation("chat-api")
    assert renamed.name == "Call back [phone]"
    assert renamed.metadata is not None and renamed.metadata["email"] == "[email]"
    assert (feedback.comment, feedback.metadata) == ("write to [email]", {"card": "[card]"})
    assert [(f.comment, f.metadata) for f in detail.conversation.feedback] == [
        ("write to [email]", {"card": "[card]"})
    ]


async def test_the_variable_turns_it_on_and_the_flag_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AGENTSIGHT_REDACT=pii redacts without a flag; --redact off stores as sent."""
    monkeypatch.setenv("AGENTSIGHT_REDACT", "pii")
    cases: list[tuple[list[str], str]] = [
        ([], "mail [email]"),
        (["--redact", "off"], f"mail {EMAIL}"),
    ]
    for args, expected in cases:
        collector = await anyio.to_thread.run_sync(
            functools.partial(CollectorProcess, tmp_path / f"env{len(args)}.db", args=args)
        )
        try:
            async with ConversationTracker(
                api_key=collector.keys["A"],
                endpoint=collector.url,
                redact="off",  # the SDK reads the variable too: here only the collector acts
            ) as tracker:
                await tracker.track_human_message(f"mail {EMAIL}", conversation_id="c")
                assert (await tracker.send_tracked_data()).accepted == 1
            async with AsyncClient(collector.keys["A"], collector.url) as client:
                detail = await client.get_conversation("c")
            assert detail.events[0].data["content"] == expected
        finally:
            assert await anyio.to_thread.run_sync(collector.stop) == 0


async def test_a_bad_value_stops_serve_with_a_message(tmp_path: Path) -> None:
    """--redact with anything but pii or off exits at once, naming the flag."""
    done = await anyio.to_thread.run_sync(
        lambda: subprocess.run(
            [sys.executable, "-m", "agentsight._cli", "serve", "--db", str(tmp_path / "x.db"),
             "--port", "0", "--redact", "emails"],
            capture_output=True, text=True, timeout=60,
        )
    )  # fmt: skip
    assert done.returncode != 0
    assert "--redact" in done.stderr and "expected pii or off" in done.stderr
    assert not (tmp_path / "x.db").exists()
