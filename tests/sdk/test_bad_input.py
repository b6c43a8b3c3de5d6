"""Mistakes in calling code raise ValidationError naming the argument; end-user values never do."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid
from typing import Any

import pytest

from agentsight import ConfigurationError, ConversationTracker, ValidationError
from agentsight.testing import capture_events


class Color(enum.Enum):
    RED = "red"


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


@pytest.fixture
def tracker() -> ConversationTracker:
    return ConversationTracker(api_key=None)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda t: t.get_or_create_conversation(""), "conversation_id"),
        (lambda t: t.get_or_create_conversation("   "), "conversation_id"),
        (lambda t: t.get_or_create_conversation(None), "conversation_id"),
        (lambda t: t.get_or_create_conversation("x" * 300), "conversation_id"),
        (lambda t: t.get_or_create_conversation("c", environment="staging"), "environment"),
        (lambda t: t.get_or_create_conversation("c", device="tablet"), "device"),
        (lambda t: t.get_or_create_conversation("c", metadata=[1, 2]), "metadata"),
        (lambda t: t.get_or_create_conversation("c", customer_ip_address=42), "customer_ip"),
        (lambda t: t.get_or_create_conversation("c", source=7), "source"),
        (lambda t: t.track_human_message(None, conversation_id="c"), "message"),
        (lambda t: t.track_human_message(b"bytes", conversation_id="c"), "message"),
        (lambda t: t.track_agent_message("hi", metadata="x", conversation_id="c"), "metadata"),
        (lambda t: t.track_agent_message("hi", attachments="f", conversation_id="c"), "attach"),
        (lambda t: t.track_human_message("hi", conversation_id=""), "conversation_id"),
        (lambda t: t.track_token_usage(prompt_tokens=-1, conversation_id="c"), "prompt_tokens"),
        (lambda t: t.track_token_usage(completion_tokens=1.5, conversation_id="c"), "completion"),
        (lambda t: t.track_token_usage(total_tokens=True, conversation_id="c"), "total_tokens"),
        (lambda t: t.track_token_usage(10**9 + 1, conversation_id="c"), "prompt_tokens"),
        (lambda t: t.track_action("", conversation_id="c"), "action_name"),
        (lambda t: t.track_action("a", duration_ms=-3, conversation_id="c"), "duration_ms"),
        (lambda t: t.track_action("a", started_at="yesterday", conversation_id="c"), "started"),
        (lambda t: t.track_action("a", duration_ms=1e13, conversation_id="c"), "duration_ms"),
        (lambda t: t.track_action("a", ended_at="9999-01-01", conversation_id="c"), "ended_at"),
        (lambda t: t.track_action("a", error_msg=3, conversation_id="c"), "error_msg"),
        (lambda t: t.track_button("", "l", "v", conversation_id="c"), "button_event"),
        (lambda t: t.track_button("rate", "", "v", conversation_id="c"), "label"),
        (lambda t: t.track_button("rate", "l", None, conversation_id="c"), "value"),
    ],
)
def test_mistakes_raise_validation_error_naming_the_argument(
    tracker: ConversationTracker, call: Any, argument: str
) -> None:
    """Each wrong type or value raises ValidationError (a ValueError) that names the argument."""
    with pytest.raises(ValidationError, match=argument) as caught:
        call(tracker)
    assert isinstance(caught.value, ValueError)
    assert "expected" in str(caught.value)


def test_bad_configuration_is_rejected_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad settings raise ConfigurationError naming the setting or the variable."""
    with pytest.raises(ConfigurationError, match="max_buffer"):
        ConversationTracker(max_buffer=0)
    with pytest.raises(ConfigurationError, match="endpoint"):
        ConversationTracker(endpoint="ftp://example")
    monkeypatch.setenv("AGENTSIGHT_FLUSH_INTERVAL", "often")
    with pytest.raises(ConfigurationError, match="AGENTSIGHT_FLUSH_INTERVAL"):
        ConversationTracker()
    monkeypatch.setenv("AGENTSIGHT_FLUSH_INTERVAL", "0.2")
    monkeypatch.setenv("AGENTSIGHT_ENVIRONMENT", "production")
    assert ConversationTracker().config.flush_interval == 0.2
    assert ConversationTracker(flush_interval=0.7).config.flush_interval == 0.7  # kwarg wins


@pytest.fixture(params=["orjson", "stdlib"])
def encoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both encoders: orjson (the `fast` extra) and the standard library."""
    import agentsight._encode

    if request.param == "stdlib":
        monkeypatch.setattr(agentsight._encode, "_orjson", None)
    else:
        pytest.importorskip("orjson")
    name: str = request.param
    return name


def test_both_encoders_write_the_same_json(encoder: str) -> None:
    """orjson and the standard library produce equal events for ordinary values."""
    import json

    from agentsight._encode import encode_events
    from agentsight._events import conversation, message

    events = [
        conversation("c", 0, 1_700_000_000_123_456_789, "u", None, "mobile", "web", "en",
                          "n", "production", {"k": [1, 2.5, None, "é"]}, True),
        message("c", 1, 1_700_000_000_999_999_999, "agent", "hi 😀", {"a": {"b": True}},
                     [{"url": "x"}], False),
    ]  # fmt: skip
    decoded = json.loads("[" + encode_events(events, ["a" * 32, "b" * 32]) + "]")
    # Events keep time.time_ns(); the wire has microseconds, cut (never rounded up).
    assert decoded[0]["timestamp"] == "2023-11-14T22:13:20.123456Z"
    assert decoded[1]["timestamp"] == "2023-11-14T22:13:20.999999Z"
    assert decoded[0]["metadata"] == {"k": [1, 2.5, None, "é"]}
    assert decoded[1]["content"] == "hi 😀"
    assert decoded[1]["attachments"] == [{"url": "x"}]
    assert [e["type"] for e in decoded] == ["conversation", "message"]


def test_end_user_values_never_raise(encoder: str) -> None:
    """Bad IP, a 5 MB message, odd metadata values: stored, cleaned, truncated, never raised."""
    tracker = ConversationTracker(max_message_length=100_000)
    huge = "é" * 5_000_000
    odd: dict[Any, Any] = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "day": dt.date(2026, 1, 2),
        "id": uuid.UUID(int=7),
        "tags": {"b", "a"},
        "thing": Opaque(),
        "price": decimal.Decimal("1.10"),
        "color": Color.RED,
        "raw": b"\xff\x00",
        "nan": float("nan"),
        (1, 2): "tuple key",
    }
    odd["self"] = odd  # a cycle
    with capture_events(tracker) as captured:
        tracker.get_or_create_conversation("c", customer_ip_address="999.1.1.1", metadata=odd)
        tracker.track_human_message(huge)
        tracker.track_agent_message("ok", metadata={"thing": Opaque(), "id": uuid.UUID(int=1)})
        tracker.track_action("lookup", response={"rows": [1, 2]}, error_msg=KeyError("k"))
        events = captured.wait_for(4)
    conversation, message, reply, action = events
    assert conversation["customer_ip_address"] is None
    assert message["truncated"] is True
    assert message["content"] == "é" * 100_000
    meta = conversation["metadata"]
    assert meta["when"] == "2026-01-02T03:04:05+00:00"
    assert meta["day"] == "2026-01-02"
    assert meta["id"] == "00000000-0000-0000-0000-000000000007"
    assert meta["tags"] == ["a", "b"]
    assert meta["thing"] == "<Opaque thing>"
    assert (meta["price"], meta["color"], meta["nan"]) == ("1.10", "red", None)
    assert meta["raw"].startswith("base64:")
    assert meta["(1, 2)"] == "tuple key"
    assert reply["metadata"] == {"thing": "<Opaque thing>", "id": str(uuid.UUID(int=1))}
    assert action["response"] == '{"rows": [1, 2]}'
    assert action["error_msg"] == "KeyError: 'k'"


def test_max_message_length_cuts_past_the_limit_even_after_configure() -> None:
    """A text of exactly max_message_length is kept whole; a longer one is cut and flagged,
    with the limit of the settings in force when tracking starts."""
    from agentsight.testing import Captured
    from agentsight.transports import InMemoryTransport

    transport = InMemoryTransport()
    tracker = ConversationTracker(max_message_length=10, transport=transport, flush_interval=0.01)
    assert tracker.config.max_message_length == 10  # resolved once...
    tracker.configure(max_message_length=5)  # ...and changed before the first call
    try:
        tracker.track_human_message("123456", conversation_id="c")  # the first call
        tracker.track_human_message("12345", conversation_id="c")
        tracker.track_agent_message("é" * 9, conversation_id="c")
        events = Captured(tracker, transport).wait_for(3)
    finally:
        tracker.close()
    assert [(e["content"], e["truncated"]) for e in events] == [
        ("12345", True),
        ("12345", False),
        ("ééééé", True),
    ]


def test_lone_surrogate_becomes_replacement_character(encoder: str) -> None:
    """Half an emoji from a broken client is delivered as U+FFFD, not lost."""
    tracker = ConversationTracker()
    with capture_events(tracker) as captured:
        tracker.track_human_message("half \ud83d whole 😀", conversation_id="s")
        (event,) = captured.wait_for(1)
    assert event["content"] == "half \ufffd whole 😀"


def test_metadata_is_copied_at_the_call() -> None:
    """Changing a metadata dict after the call does not change what was tracked."""
    tracker = ConversationTracker()
    with capture_events(tracker) as captured:
        meta = {"step": 1}
        tracker.track_human_message("hi", metadata=meta, conversation_id="c")
        meta["step"] = 2
        (event,) = captured.wait_for(1)
    assert event["metadata"] == {"step": 1}


def test_ids_and_integers_are_accepted_where_natural() -> None:
    """A Telegram-style int chat id works as conversation_id and customer_id."""
    tracker = ConversationTracker()
    with capture_events(tracker) as captured:
        tracker.get_or_create_conversation(123456789, customer_id=42)  # type: ignore[arg-type]
        tracker.track_button("rate", "Good", 5)  # type: ignore[arg-type]
        conversation, button = captured.wait_for(2)
    assert (conversation["conversation_id"], conversation["customer_id"]) == ("123456789", "42")
    assert (button["conversation_id"], button["value"]) == ("123456789", "5")


@pytest.mark.parametrize("chunks", [0, 1, 3])
def test_batch_body_from_chunks_plain_and_gzipped(chunks: int, encoder: str) -> None:
    """A body built from encoded chunks is one JSON document with every event, in order,
    the same whether joined or gzipped piece by piece; an empty batch is valid too."""
    import gzip

    from agentsight import _events
    from agentsight._encode import batch_pieces, encode_chunk, gzip_pieces, new_ids

    parts, expected = [], []
    for c in range(chunks):
        events = [
            _events.message("c", n, 1_764_000_000_000_000_000 + n, "end_user", f"m{c}.{n}", None)
            for n in range(3)
        ]
        parts.append(encode_chunk(events, new_ids(3)))
        expected += [f"m{c}.{n}" for n in range(3)]
    pieces = batch_pieces(parts)
    plain = json.loads(b"".join(pieces))
    zipped = json.loads(gzip.decompress(gzip_pieces(pieces)))
    assert plain == zipped
    assert [e["content"] for e in plain["events"]] == expected
    assert plain["sent_at"].endswith("Z")
