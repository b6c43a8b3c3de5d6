"""A simulated support bot: many concurrent conversations, tracked with AgentSight.

    AGENTSIGHT_API_KEY=ags_... python examples/demo_bot.py [--conversations 1200]

Each conversation comes from a channel (web, WhatsApp, Telegram, a voice line,
an iOS app), a device, a language and a country (a public IP address the
collector resolves offline).  Its turns are a user message, a tool call
(some fail, some escalate to a human), the agent's answer with the model's
token usage, and now and then a button press.  A share of the widgets is
only shown (initialize_conversation) and never used, so engagement is not
100%.  Everything runs concurrently in one asyncio loop, with the tracker
under ``async with``: the calls never wait for the network.
"""

from __future__ import annotations

import argparse
import random
import time

import anyio

from agentsight import ConversationTracker

CHANNELS = [
    # source, device, share
    ("web", "desktop", 0.35),
    ("whatsapp", "mobile", 0.25),
    ("telegram", "mobile", 0.15),
    ("voice_call", None, 0.10),
    ("ios_app", "mobile", 0.15),
]
LANGUAGES = ["en", "en", "en", "es", "de", "pt-BR", "fr"]
COUNTRY_IPS = {  # public addresses and the country the offline database gives them
    "US": "8.8.8.8",
    "GB": "81.2.69.142",
    "DE": "5.9.0.1",
    "BR": "177.0.0.1",
    "IN": "31.13.64.1",
    "ZA": "41.0.0.1",
    "AU": "1.0.0.1",
    "NL": "80.80.80.80",
}
QUESTIONS = [
    "Where is my order?",
    "I forgot my password",
    "Can I change my delivery address?",
    "How do I cancel my subscription?",
    "The app crashes when I pay",
    "Do you ship to my country?",
]
TOOLS = ["order_lookup", "reset_password", "update_address", "kb_search", "payment_status"]


async def conversation(tracker: ConversationTracker, n: int, rng: random.Random) -> None:
    source, device, _ = rng.choices(CHANNELS, weights=[c[2] for c in CHANNELS])[0]
    country, ip = rng.choice(list(COUNTRY_IPS.items()))
    cid = f"demo-{source}-{n:05d}"
    attributes = {
        "customer_id": f"user-{rng.randrange(800):04d}",  # some users come back
        "customer_ip_address": ip,
        "device": device,
        "source": source,
        "language": rng.choice(LANGUAGES),
        "name": None,
        "environment": "production",
        "metadata": {"demo": True, "expected_country": country},
    }
    if rng.random() < 0.25:  # the widget was shown...
        await tracker.initialize_conversation(cid, **attributes)
        if rng.random() < 0.4:  # ...and nobody wrote
            return
    await anyio.sleep(rng.uniform(0, 0.5))
    attributes["name"] = rng.choice(QUESTIONS)
    await tracker.get_or_create_conversation(cid, **attributes)
    for turn in range(rng.randint(1, 4)):
        await tracker.track_human_message(rng.choice(QUESTIONS) if turn == 0 else "thanks, and?")
        tool = rng.choice(TOOLS)
        started = time.time()
        await anyio.sleep(rng.uniform(0.001, 0.02))  # the tool runs
        failed = rng.random() < 0.08
        await tracker.track_action(
            tool,
            duration_ms=round((time.time() - started) * 1000, 1),
            tools_used={"name": tool, "version": 2},
            response=None if failed else f"{tool} ok",
            error_msg=TimeoutError("upstream timed out") if failed else None,
        )
        if failed and rng.random() < 0.5:
            await tracker.track_action("fallback_to_human", metadata={"reason": "tool failed"})
        await anyio.sleep(rng.uniform(0.001, 0.03))  # the model answers
        prompt = rng.randint(200, 1500)
        completion = rng.randint(20, 300)
        await tracker.track_agent_message(
            f"Here is what I found ({tool}).", metadata={"model": "gpt-4o-mini", "turn": turn}
        )
        await tracker.track_token_usage(prompt_tokens=prompt, completion_tokens=completion)
        if rng.random() < 0.3:
            good = rng.random() < 0.8
            await tracker.track_button(
                "rate_answer", "👍" if good else "👎", "up" if good else "down"
            )


async def main(conversations: int, seed: int) -> None:
    rng = random.Random(seed)
    started = time.perf_counter()
    async with ConversationTracker() as tracker:  # settings from AGENTSIGHT_* variables
        async with anyio.create_task_group() as tg:
            for n in range(conversations):
                tg.start_soon(conversation, tracker, n, random.Random(rng.random()))
        report = await tracker.send_tracked_data()
    stats = tracker.stats()
    print(
        f"demo bot: {conversations} conversations in {time.perf_counter() - started:.1f}s; "
        f"{stats.sent} events sent, {stats.accepted} accepted, {stats.duplicates} duplicates, "
        f"{stats.rejected} rejected, {stats.retried} retried, {stats.dropped} dropped; "
        f"last flush complete: {report.complete}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Simulate a support bot with AgentSight.")
    parser.add_argument("--conversations", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    anyio.run(main, args.conversations, args.seed)
