"""``redact=``: which fields the function sees, where it runs, and what happens when it fails."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

import anyio
import pytest

from agentsight import ConfigurationError, ConversationTracker, conversation_tracker
from agentsight._redact import FIELDS
from agentsight.redact import pii
from agentsight.testing import capture_events
from agentsight.transports import InMemoryTransport

EMAIL = "ana.garcia@example.com"
CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"


class Profile:
    """An object in metadata: the encoder sends its repr, so redaction sees that."""

    def __repr__(self) -> str:
        return f"Profile({EMAIL})"


def _track_everything(tracker: ConversationTracker) -> None:
    """Every kind of event, with personal data in every field, covered or not."""
    tracker.get_or_create_conversation(
        "chat-1",
        customer_id="user-1",
        source="web",
        name=f"Refund for {EMAIL}",
        metadata={"contact": EMAIL, "nested": [{"phone": PHONE}], "who": Profile()},
    )
    tracker.track_human_message(
        f"my card is {CARD}, mail me at {EMAIL}",
        attachments=[{"name": f"statement {CARD}.pdf", "size": 123}],
        metadata={"phone": PHONE, "card_number": 4111111111111111, "latency_ms": 412},
    )
    tracker.track_agent_message("Thanks! I will call you.", metadata={"model": "gpt-4o"})
    tracker.track_action(
        "crm_lookup",
        tools_used=["crm"],
        response={"email": EMAIL, "orders": [123456]},
        error_msg=KeyError(EMAIL),
        metadata={"query": EMAIL},
    )
    tracker.track_action("send_mail", response=f"sent to {EMAIL}")
    tracker.track_button("contact", f"Call {PHONE}", EMAIL, metadata={"card": CARD})
    tracker.track_token_usage(prompt_tokens=50, completion_tokens=20)


def _check_everything(events: list[dict[str, Any]]) -> None:
    conversation, message, reply, action, mail, button, tokens = events
    assert conversation["name"] == "Refund for [email]"
    assert conversation["metadata"] == {
        "contact": "[email]",
        "nested": [{"phone": "[phone]"}],
        "who": "Profile([email])",
    }
    assert (conversation["customer_id"], conversation["source"]) == ("user-1", "web")
    assert message["content"] == "my card is [card], mail me at [email]"
    assert message["attachments"] == [{"name": "statement [card].pdf", "size": 123}]
    # A number kept as a number is seen as its digits; small numbers are left alone.
    assert message["metadata"] == {"phone": "[phone]", "card_number": "[card]", "latency_ms": 412}
    assert (reply["content"], reply["metadata"]) == (
        "Thanks! I will call you.",
        {"model": "gpt-4o"},
    )
    assert action["response"] == '{"email": "[email]", "orders": [123456]}'
    assert action["error_msg"] == "KeyError: '[email]'"
    assert (action["action_name"], action["tools_used"]) == ("crm_lookup", ["crm"])
    assert action["metadata"] == {"query": "[email]"}
    assert mail["response"] == "sent to [email]"
    assert (button["label"], button["value"]) == ("Call [phone]", "[email]")
    assert button["metadata"] == {"card": "[card]"}
    assert tokens["total_tokens"] == 70
    assert all(e["conversation_id"] == "chat-1" for e in events)


def test_each_covered_field_is_redacted_in_thread_mode() -> None:
    """Plain calls from sync code: every field that carries text a user may have typed
    comes out redacted; ids, names of tools and numbers too short to matter stay."""
    tracker = ConversationTracker(redact=pii)
    with capture_events(tracker) as captured:
        _track_everything(tracker)
        events = captured.wait_for(7)
    _check_everything(events)
    assert tracker.stats().redaction_failures == 0


@pytest.mark.anyio
async def test_each_covered_field_is_redacted_under_async_with() -> None:
    """The same under ``async with``, on asyncio and on trio, plain and awaited calls."""
    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport, redact=pii, flush_interval=0.01) as tracker:
        _track_everything(tracker)
        await tracker.track_human_message(f"again: {EMAIL}")
        await tracker.flush()
    events = list(transport.events)
    _check_everything(events[:7])
    assert events[7]["content"] == "again: [email]"


def test_the_wire_fields_the_docs_list_are_the_ones_covered() -> None:
    """docs/redaction.md's table names, for each event kind, exactly the fields of FIELDS."""
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "redaction.md").read_text()
    table = doc.split("<!-- redacted-fields")[1].split("<!-- /redacted-fields -->")[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = tuple(c.strip("`") for c in cells[1].split(", ") if c)
    assert rows == {kind: fields for kind, fields in FIELDS.items() if fields}


def test_the_function_runs_in_the_calling_thread_before_the_call_returns() -> None:
    """In thread mode the background runs on a thread of its own; the function still runs
    on the caller's thread, during the call: what is queued is already redacted."""
    seen: list[tuple[int, str]] = []

    def redact(text: str) -> str:
        seen.append((threading.get_ident(), text))
        return text.upper()

    tracker = ConversationTracker(redact=redact)
    with capture_events(tracker) as captured:
        tracker.track_human_message("hello", conversation_id="c")
        assert seen == [(threading.get_ident(), "hello")]  # before anything was delivered
        (event,) = captured.wait_for(1)
    assert event["content"] == "HELLO"


@pytest.mark.anyio
async def test_a_failing_function_never_raises_into_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A function that raises (or returns no str): the call returns as usual, each value it
    failed on is replaced by [redaction failed] (fail closed, never the original text), the
    failures are counted, and one error is logged, without the text."""
    calls = 0

    def flaky(text: str) -> str:
        nonlocal calls
        calls += 1
        if "secret" in text:
            raise ValueError(f"cannot handle {text}")
        return None if "weird" in text else text  # type: ignore[return-value]

    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport, redact=flaky, flush_interval=0.01) as t:
        await t.track_human_message("my secret is 1234", conversation_id="c")
        await t.track_human_message("fine", metadata={"a": "secret too"}, conversation_id="c")
        t.track_button("rate", "weird label", "up", conversation_id="c")
        await t.flush()
        assert t.stats().redaction_failures == 3
    contents = [(e.get("content"), e.get("metadata"), e.get("label")) for e in transport.events]
    assert contents == [
        ("[redaction failed]", None, None),
        ("fine", {"a": "[redaction failed]"}, None),
        (None, None, "[redaction failed]"),
    ]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "ValueError" in errors[0].getMessage() and "secret" not in errors[0].getMessage()


def test_a_long_message_is_redacted_before_it_is_cut() -> None:
    """A card number across the max_message_length boundary leaves no digit behind, and
    the function reads at most the limit plus a margin of a very long text."""
    lengths: list[int] = []

    def redact(text: str) -> str:
        lengths.append(len(text))
        return pii(text)

    tracker = ConversationTracker(redact=redact, max_message_length=1000)
    with capture_events(tracker) as captured:
        tracker.track_human_message("x " * 497 + CARD + " end", conversation_id="c")
        tracker.track_human_message("y " * 400 + CARD + " z" * 1_000_000, conversation_id="c")
        short, huge = captured.wait_for(2)
    assert short["content"] == "x " * 497 + "[card]"  # the card ended past 1000
    assert short["truncated"] is True
    assert huge["truncated"] is True
    assert "[card]" in huge["content"] and "4111" not in huge["content"]
    assert len(huge["content"]) <= 1000
    assert max(lengths) <= 1000 + 256


def test_settings_refuse_what_is_not_a_function(monkeypatch: pytest.MonkeyPatch) -> None:
    """redact= takes a function, "pii" or "off"; anything else is refused, naming the
    setting or its variable."""
    assert ConversationTracker(redact="pii").config.redact is pii
    with pytest.raises(ConfigurationError, match="redact: expected a function"):
        ConversationTracker(redact=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="redact: expected pii"):
        ConversationTracker(redact="emails")  # type: ignore[arg-type]
    monkeypatch.setenv("AGENTSIGHT_REDACT", "everything")
    with pytest.raises(ConfigurationError, match="AGENTSIGHT_REDACT"):
        ConversationTracker()


def test_the_environment_turns_it_on_and_code_can_turn_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AGENTSIGHT_REDACT=pii redacts with an unchanged program (the module-level tracker
    too); redact="off" in code wins over it; AGENTSIGHT_REDACT=off is no redaction."""
    monkeypatch.setenv("AGENTSIGHT_REDACT", "PII")
    with capture_events() as captured:  # the module-level conversation_tracker
        conversation_tracker.track_human_message(f"mail {EMAIL}", conversation_id="c")
        (event,) = captured.wait_for(1)
    assert event["content"] == "mail [email]"
    assert ConversationTracker(redact="off").config.redact is None
    monkeypatch.setenv("AGENTSIGHT_REDACT", "off")
    assert ConversationTracker().config.redact is None


def test_a_bad_variable_on_the_module_tracker_redacts_with_pii(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The module-level tracker never raises for a bad variable; for this one it fails
    closed: whoever set AGENTSIGHT_REDACT wanted redaction, so it logs and uses pii."""
    from agentsight.testing import Captured

    monkeypatch.setenv("AGENTSIGHT_REDACT", "yes please")
    transport = InMemoryTransport()
    # Made as the module-level one is: settings read at the first call, leniently.
    tracker = ConversationTracker(transport=transport, flush_interval=0.01, _deferred=True)
    try:
        tracker.track_human_message(f"call {PHONE}", conversation_id="c")
        (event,) = Captured(tracker, transport).wait_for(1)
    finally:
        tracker.close()
    assert event["content"] == "call [phone]"
    assert any("AGENTSIGHT_REDACT" in r.getMessage() for r in caplog.records)


def test_unset_nothing_is_changed_and_configure_can_set_it() -> None:
    """Without redact= text goes out as it came; configure(redact=...) before the first
    call turns it on, and capture_events keeps the setting."""
    tracker = ConversationTracker()
    with capture_events(tracker) as captured:
        tracker.track_human_message(f"mail {EMAIL}", metadata={"m": EMAIL}, conversation_id="c")
        (event,) = captured.wait_for(1)
    assert (event["content"], event["metadata"]) == (f"mail {EMAIL}", {"m": EMAIL})
    tracker.configure(redact=pii)
    with capture_events(tracker) as captured:
        tracker.track_agent_message(f"mail {EMAIL}", conversation_id="c")
        (event,) = captured.wait_for(1)
    assert event["content"] == "mail [email]"


def test_odd_metadata_values_are_redacted_as_they_would_be_sent() -> None:
    """Dates, sets, cycles and deep nesting: what the encoder would send (ISO dates, sorted
    lists, a repr past 32 levels) is what the function sees; nothing raises."""
    deep: dict[str, Any] = {"mail": EMAIL}
    for _ in range(40):
        deep = {"d": deep}
    cyclic: dict[str, Any] = {"mail": EMAIL}
    cyclic["self"] = cyclic
    metadata = {
        "when": dt.date(2024, 1, 15),
        "tags": {EMAIL, "b"},
        "deep": deep,
        "cyclic": cyclic,
        "flag": True,
        "ratio": 0.5,
    }
    tracker = ConversationTracker(redact=pii)
    with capture_events(tracker) as captured:
        tracker.track_human_message("hi", metadata=metadata, conversation_id="c")
        (event,) = captured.wait_for(1)
    sent = event["metadata"]
    assert sent["when"] == "2024-01-15"
    assert sorted(sent["tags"]) == ["[email]", "b"]
    assert EMAIL not in str(sent["deep"]) and "[email]" in str(sent["deep"])
    assert sent["cyclic"]["mail"] == "[email]" and EMAIL not in str(sent["cyclic"])
    assert (sent["flag"], sent["ratio"]) == (True, 0.5)


@pytest.mark.anyio
async def test_many_tasks_redacting_at_once() -> None:
    """100 tasks tracking at once with redaction: every message redacted, none lost."""
    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport, redact=pii, flush_interval=0.01) as t:

        async def chat(n: int) -> None:
            async with t.conversation(f"c{n}"):
                for turn in range(5):
                    await t.track_human_message(f"{turn}: reach me at user{n}@example.com")
                    await anyio.sleep(0)  # noqa: ASYNC115 - interleave the tasks

        async with anyio.create_task_group() as group:
            for n in range(100):
                group.start_soon(chat, n)
        await t.flush()
    contents = [e["content"] for e in transport.events if e["type"] == "message"]
    assert len(contents) == 500
    assert all(c.endswith(": reach me at [email]") for c in contents)
