"""A WhatsApp bot's webhook worker: a thread pool, the phone number as conversation id.

    AGENTSIGHT_API_KEY=ags_... python examples/whatsapp_bot.py

As in the documentation's "WhatsApp Bot" example.  Incoming webhook messages
are handled by a pool of worker threads, as a sync web framework would (one
sender's messages in order): each handler first makes the sender's
conversation current in its thread, so the conversation a worker handled
before never leaks into the next message.
Quick-reply buttons are tracked as button presses.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from agentsight import conversation_tracker

INBOX = [  # (phone number, kind, payload) as a WhatsApp webhook delivers them
    ("+14155550101", "text", "Hi, is my table for 4 booked?"),
    ("+442071838750", "text", "Hola, ¿abren el domingo?"),
    ("+14155550101", "button", "confirm"),
    ("+5511987654321", "text", "Quero cancelar minha reserva"),
    ("+442071838750", "text", "¿Y a qué hora?"),
    ("+5511987654321", "button", "cancel"),
]
LANGUAGES = {"+14155550101": "en", "+442071838750": "es", "+5511987654321": "pt-BR"}
BUTTONS = {"confirm": "Yes, confirm", "cancel": "Cancel booking"}


def on_webhook(phone_number: str, kind: str, payload: str) -> str:
    """Handle one incoming WhatsApp message on a worker thread; return the reply."""
    conversation_tracker.get_or_create_conversation(
        conversation_id=phone_number,  # use the phone number as the id
        customer_id=phone_number,
        device="mobile",
        source="whatsapp",
        language=LANGUAGES[phone_number],
    )
    if kind == "button":
        conversation_tracker.track_button("quick_reply", label=BUTTONS[payload], value=payload)
        reply = "Done: your booking is confirmed." if payload == "confirm" else "Cancelled."
    else:
        conversation_tracker.track_human_message(payload)
        reply = "Let me check that for you."
    conversation_tracker.track_agent_message(reply)
    return reply


def handle_sender(phone_number: str) -> list[str]:
    """A sender's messages in order (a real queue would be keyed by the sender too)."""
    mine = [(kind, payload) for phone, kind, payload in INBOX if phone == phone_number]
    return [
        f"{phone_number}: {payload!r} -> {on_webhook(phone_number, kind, payload)!r}"
        for kind, payload in mine
    ]


def main() -> None:
    senders = list(dict.fromkeys(phone for phone, _, _ in INBOX))
    # Fewer workers than senders: a thread handles several conversations, one after another.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhook") as pool:
        for lines in pool.map(handle_sender, senders):
            print("\n".join(lines))
    conversation_tracker.send_tracked_data()  # flush now and wait for the collector
    stats = conversation_tracker.stats()
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


if __name__ == "__main__":
    main()
