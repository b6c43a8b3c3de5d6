"""A website's chat widget backend, tracked with the module-level ``conversation_tracker``.

    AGENTSIGHT_API_KEY=ags_... python examples/web_chat.py

Plain sync code, as in the documentation's "Web Chat" example: the tracker
runs on a daemon thread of its own, and ``send_tracked_data()`` waits for the
collector's answer.  Each visitor's session is one conversation.
"""

from __future__ import annotations

import time

from agentsight import conversation_tracker

ANSWERS = {
    "Where is my order?": "Order 1042 left our warehouse yesterday.",
    "Can I change the address?": "Yes, until it ships: I have updated it.",
    "Thanks!": "You're welcome!",
}
VISITORS = [
    ("101", "user-789", ["Where is my order?", "Can I change the address?", "Thanks!"]),
    ("102", "user-790", ["Where is my order?", "Thanks!"]),
]


def handle(session_id: str, user_id: str, question: str) -> str:
    """One message from the widget: track it, answer it, track the answer."""
    conversation_tracker.get_or_create_conversation(
        conversation_id=f"web-session-{session_id}",
        customer_id=user_id,
        device="desktop",
        source="web",
        language="en",
        metadata={"browser": "Chrome", "page_url": "https://example.com/support"},
    )
    conversation_tracker.track_human_message(question)
    started = time.perf_counter()
    answer = ANSWERS.get(question, "Let me find someone who knows.")
    conversation_tracker.track_action(
        "kb_search", duration_ms=(time.perf_counter() - started) * 1000, response=answer
    )
    conversation_tracker.track_agent_message(answer, metadata={"model": "gpt-4o-mini"})
    conversation_tracker.track_token_usage(prompt_tokens=42, completion_tokens=len(answer) // 4)
    return answer


def main() -> None:
    for session_id, user_id, questions in VISITORS:
        for question in questions:
            print(f"[web-session-{session_id}] visitor: {question}")
            print(f"[web-session-{session_id}] bot: {handle(session_id, user_id, question)}")
        conversation_tracker.track_button(button_event="rate", label="Helpful", value="up")
    conversation_tracker.send_tracked_data()  # flush now and wait for the collector
    stats = conversation_tracker.stats()
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


if __name__ == "__main__":
    main()
