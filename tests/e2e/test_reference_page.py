"""The documentation page's examples, run unchanged as a script, deliver everything in order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.sink import KEY, Sink

SCRIPT = Path(__file__).parents[2] / "examples" / "reference_page.py"


def test_reference_examples_deliver_every_event_in_order(sink: Sink) -> None:
    """Every call of the page reaches the collector, in call order, with its attributes."""
    env = {**os.environ, "AGENTSIGHT_API_KEY": KEY, "AGENTSIGHT_API_ENDPOINT": sink.url}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    events = sorted(sink.events, key=lambda e: e["timestamp"])
    kinds = [(e["type"], e["conversation_id"]) for e in events]
    voice, generated = kinds[5][1], kinds[6][1]
    assert voice.startswith("conv_") and generated.startswith("conv_") and voice != generated
    assert kinds == [
        ("conversation", "chat-123"),
        ("conversation", "support-ticket-789"),
        ("conversation", "web-session-101"),
        ("conversation", "+1234567890"),
        ("conversation", "app-user-7-session-3"),
        ("conversation", voice),
        ("conversation", generated),
        ("conversation", "support-123"),
        ("interaction", "support-123"),
        ("conversation", "support-123"),
        ("conversation", "chat-123"),
        ("message", "chat-123"),
        ("message", "chat-123"),
        ("message", "chat-123"),
    ]
    full = events[1]
    assert {k: full[k] for k in ("customer_id", "customer_ip_address", "device", "source")} == {
        "customer_id": "customer-abc",
        "customer_ip_address": "203.0.113.45",
        "device": "mobile",
        "source": "whatsapp",
    }
    assert (full["language"], full["name"], full["environment"]) == (
        "en-US",
        "Password Reset Support",
        "production",
    )
    assert full["metadata"]["user_tier"] == "premium"
    assert events[2]["environment"] == "development"  # the documented default
    assert events[8]["is_used"] is False and events[8]["name"] == "Password Reset"
    assert [e["sender"] for e in events[-3:]] == ["end_user", "agent", "end_user"]
    assert [e["content"] for e in events[-3:]] == ["Hello", "Hi!", "Hello"]
    assert "dropped=0" in done.stdout
    # The last call had no get_or_create of its own but inherits chat-123: no warning.
    assert "had no conversation" not in done.stderr
