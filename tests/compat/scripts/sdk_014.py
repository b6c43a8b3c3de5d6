"""Every tracking call of the official SDK 0.1.4, and its upload pair and reads, run by its
own Python against the collector named by AGENTSIGHT_API_ENDPOINT; prints what they returned."""

import contextlib
import json
import sys

from agentsight.sdk.instrumentation.base import record_llm_call

import agentsight
from agentsight.api import AgentSight

out = {}
out["init"] = agentsight.init(export_interval_ms=200, auto_instrument=False)


@agentsight.tool
def lookup_order(order_id):
    return {"order": order_id, "status": "shipped"}


@agentsight.tool
def fallback_to_human():
    raise RuntimeError("no agent")


@agentsight.task
def summarise(text):
    return text[:5]


with agentsight.conversation(
    "f-support-123",
    customer_id="user-456",
    customer_ip_address="203.0.113.45",
    device="mobile",
    source="whatsapp",
    language="en",
    name="Password Reset",
    metadata={"user_tier": "premium", "previous_tickets": 2},
):
    with agentsight.turn("support"):
        agentsight.user_message("Hello", metadata={"channel": "web"})
        lookup_order("A-1")
        with contextlib.suppress(RuntimeError):
            fallback_to_human()
        summarise("a long text")
        record_llm_call(
            "openai", "gpt-4o-mini", input_tokens=10, output_tokens=5, cache_read_tokens=3
        )
        agentsight.agent_message("Hi! Your order shipped.")
    agentsight.button("confirm", "Yes", "yes", metadata={"pos": 1})
    agentsight.record_attachments(
        [{"filename": "elsewhere.pdf", "size": 10, "mime_type": "application/pdf"}]
    )
    agentsight.update_metadata({"escalated": True}, remove=["previous_tickets"])
    agentsight.user_message("A message outside any turn")

agentsight.open_conversation("widget-1", source="web")
out["upload"] = str(
    agentsight.upload_attachments(
        [{"filename": "b.txt", "mime_type": "text/plain", "data": b"hello"}],
        conversation_id="f-support-123",
        metadata={"m": 1},
    )
)
out["flush"] = agentsight.flush()
agentsight.shutdown()

api = AgentSight()
listing = list(api.conversations.list(customer_id="user-456"))
out["listing"] = [
    c["conversation_id"] if isinstance(c, dict) else c.conversation_id for c in listing
]
detail = api.conversations.get("f-support-123")
out["detail_messages"] = [m["content"] for m in detail["messages"]]
out["rename"] = api.conversations.rename("f-support-123", "Renamed by 0.1.4")["name"]
api.conversations.update_metadata("f-support-123", {"plan": "pro"}, remove=["user_tier"])
out["feedback"] = api.feedbacks.create_for_conversation("f-support-123", "negative", "slow")
out["files"] = [f["filename"] for f in api.conversations.attachments("f-support-123")["results"]]
json.dump(out, sys.stdout, default=str)
