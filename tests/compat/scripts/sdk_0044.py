"""The page's examples and every other call of the official SDK 0.0.44, run by its own
Python against the collector named by AGENTSIGHT_API_ENDPOINT; prints what they returned."""

import base64
import io
import json
import sys

from agentsight import agentsight_api, conversation_manager, conversation_tracker
from agentsight.helpers import generate_conversation_id

tracker = conversation_tracker
out = {"summaries": []}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


def send():
    report = tracker.send_tracked_data()
    out["summaries"].append(report["summary"])
    out.setdefault("failed", []).extend(i for i in report["items"] if not i["success"])


# Basic usage
tracker.get_or_create_conversation(conversation_id="chat-123", customer_id="user-456")
tracker.track_human_message("Hello")
tracker.track_agent_message("Hi!")
send()
# With full context, and everything else a conversation may carry
tracker.get_or_create_conversation(
    conversation_id="support-ticket-789",
    customer_id="customer-abc",
    customer_ip_address="203.0.113.45",
    device="mobile",
    source="whatsapp",
    language="en-US",
    name="Password Reset Support",
    environment="production",
    metadata={
        "phone_number": "+1234567890",
        "session_start": "2024-01-15T10:30:00Z",
        "user_tier": "premium",
    },
)
tracker.track_human_message(
    "I forgot my password",
    attachments=[{"filename": "screen.png", "mime_type": "image/png", "data": PNG}],
    metadata={"channel": "web"},
)
tracker.track_action(
    "lookup_account",
    started_at="2024-01-15T10:30:00",
    ended_at="2024-01-15T10:30:01Z",
    duration_ms=1000,
    tools_used={"db": "accounts"},
    response="found",
    metadata={"k": 1},
)
tracker.track_action("send_reset_mail", error_msg="smtp down")
tracker.track_agent_message(
    "Here is the reset link",
    attachments=[{"filename": "steps.txt", "data": b"1. click\n2. type"}],
    attachment_mode="form_data",
)
tracker.track_button(button_event="confirm", label="Yes", value="yes", metadata={"pos": 1})
tracker.track_attachments(
    [
        {
            "filename": "log.txt",
            "mime_type": "text/plain",
            "data": base64.b64encode(b"hello").decode(),
        }
    ],
    metadata={"m": 1},
)
tracker.track_attachments([{"data": io.BytesIO(b"raw bytes")}], sender="agent", mode="form_data")
tracker.track_token_usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
out["token_usage"] = tracker.get_token_usage()
out["tracked"] = tracker.get_tracked_data_summary()
send()
# A second send for the same conversation: no conversation item, the same running totals.
tracker.track_human_message("Thanks")
send()
# Multi-channel examples
tracker.get_or_create_conversation(
    conversation_id="web-session-101",
    customer_id="user-789",
    device="desktop",
    source="web",
    language="en",
    metadata={"browser": "Chrome", "page_url": "https://example.com/support"},
)
tracker.track_human_message("Web question")
send()
phone_number = "+15550001111"
tracker.get_or_create_conversation(
    conversation_id=phone_number,
    customer_id=phone_number,
    device="mobile",
    source="whatsapp",
    language="en",
)
tracker.track_human_message("WhatsApp question")
send()
user_id, session_id = "u1", "s1"
tracker.get_or_create_conversation(
    conversation_id=f"app-{user_id}-{session_id}",
    customer_id=user_id,
    device="mobile",
    source="ios_app",
    language="en",
    metadata={"app_version": "2.1.0", "os_version": "iOS 17.2"},
)
tracker.track_human_message("App question")
send()
voice_id = generate_conversation_id()
out["voice_id"] = voice_id
tracker.get_or_create_conversation(
    conversation_id=voice_id,
    customer_id="caller-1",
    source="voice_call",
    language="en",
    metadata={"call_duration": 0, "phone_number": "+1234567890"},
)
tracker.track_human_message("Voice question")
send()
# Create immediately
tracker.initialize_conversation(conversation_id="support-123", name="Password Reset")

# The conversation manager and the read API
out["feedback"] = conversation_manager.submit_feedback(
    "support-ticket-789", "positive", comment="good"
)
out["rename"] = conversation_manager.rename_conversation("support-ticket-789", "Renamed")
out["mark"] = conversation_manager.mark_conversation("support-ticket-789", True)
out["update"] = conversation_manager.update_conversation(
    "support-ticket-789", language="de", metadata={"x": 1}
)
listing = agentsight_api.fetch_conversations(customer_id="customer-abc", page_size=5)
out["listing"] = {
    "count": listing["count"],
    "ids": [r["conversation_id"] for r in listing["results"]],
}
detail = agentsight_api.fetch_conversation("support-ticket-789")
out["detail_messages"] = [m["content"] for m in detail["messages"]]
out["detail_by_pk"] = agentsight_api.fetch_conversation(detail["id"])["conversation_id"]
files = agentsight_api.fetch_conversation_attachments(detail["id"])
out["attachments"] = sorted(f["filename"] for f in files["results"])
out["delete"] = conversation_manager.delete_conversation("chat-123")
json.dump(out, sys.stdout, default=str)
