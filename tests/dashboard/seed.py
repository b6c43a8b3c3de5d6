"""A month of support conversations, posted as wire batches, with counts known in advance.

The demo bot tracks conversations as they happen, so all of its data falls
in one minute; this history spreads ``conversations`` over the 28 days
before *now* (deterministic for a seed) so that the daily chart and the
peak-hours map have something to show.  ``Seeded`` says exactly what went in.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
import uuid
from typing import Any

import attrs

SOURCES = [
    ("web", "desktop"),
    ("whatsapp", "mobile"),
    ("telegram", "mobile"),
    ("ios_app", "mobile"),
]
IPS = ["8.8.8.8", "81.2.69.142", "5.9.0.1", "177.0.0.1", "31.13.64.1", "1.0.0.1", "80.80.80.80"]
QUESTIONS = [
    "Where is my order?",
    "I forgot my password",
    "Can I change my delivery address?",
    "How do I cancel my subscription?",
    "Do you ship to Norway?",
]
TOOLS = ["order_lookup", "reset_password", "kb_search", "payment_status"]


@attrs.define
class Seeded:
    """What the history holds."""

    conversations: int = 0
    messages: int = 0
    feedback: int = 0
    ids: list[str] = attrs.Factory(list)


def _stamp(seconds: float) -> str:
    whole = int(seconds)
    micros = round((seconds - whole) * 1_000_000) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


def _conversation(rng: random.Random, n: int, start: float, seeded: Seeded) -> list[dict[str, Any]]:
    cid = f"hist-{n:04d}"
    seeded.ids.append(cid)
    seeded.conversations += 1
    source, device = rng.choice(SOURCES)
    events: list[dict[str, Any]] = []
    clock = [start]

    def add(kind: str, step: float, **fields: Any) -> None:
        clock[0] += step
        events.append(
            {
                "id": uuid.uuid4().hex,
                "type": kind,
                "conversation_id": cid,
                "seq": len(events),
                "timestamp": _stamp(clock[0]),
                **fields,
            }
        )

    add(
        "conversation",
        0,
        customer_id=f"cust-{rng.randrange(250):03d}",
        customer_ip_address=rng.choice(IPS),
        device=device,
        source=source,
        language=rng.choice(["en", "en", "de", "es", "pt-BR"]),
        name=rng.choice(QUESTIONS),
        environment="production",
        metadata={"seeded": True},
        is_used=True,
    )
    for turn in range(rng.randint(1, 3)):
        text = rng.choice(QUESTIONS) if turn == 0 else "Thanks! One more thing…"
        add("message", rng.uniform(5, 60), sender="end_user", content=text, metadata=None)
        tool = rng.choice(TOOLS)
        failed = rng.random() < 0.07
        add(
            "action",
            0.2,
            action_name=tool,
            duration_ms=round(rng.lognormvariate(5, 0.6), 1),
            error_msg="upstream timed out" if failed else None,
            response=None if failed else "ok",
        )
        if failed and rng.random() < 0.6:
            add("action", 0.1, action_name="fallback_to_human", duration_ms=None)
        answer = f"Let me check that for you ({tool})."
        add("message", rng.uniform(1, 8), sender="agent", content=answer, metadata=None)
        prompt, completion = rng.randint(300, 1400), rng.randint(40, 260)
        add(
            "token_usage",
            0,
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            embedding_tokens=0,
        )
        seeded.messages += 2
    return events


def _post(url: str, key: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def seed(url: str, key: str, conversations: int, now: float, seed: int = 11) -> Seeded:
    """Post *conversations* over the 28 days before *now* to the collector at *url*."""
    rng = random.Random(seed)
    seeded = Seeded()
    events: list[dict[str, Any]] = []
    for n in range(conversations):
        day = rng.randrange(28)
        # busier in the working day, busiest mid-week
        hour = min(23, max(0, int(rng.gauss(14, 3.5))))
        start = now - (day + 1) * 86_400 + hour * 3600 + rng.uniform(0, 3500)
        events += _conversation(rng, n, start, seeded)
    for first in range(0, len(events), 2000):
        result = _post(url, key, "/v1/batch", {"schema": 1, "events": events[first : first + 2000]})
        assert not result["rejected"], result["rejected"][:3]
    for cid in rng.sample(seeded.ids, len(seeded.ids) // 8):
        sentiment = rng.choices(["positive", "neutral", "negative"], [7, 2, 1])[0]
        _post(url, key, f"/v1/conversations/{cid}/feedback", {"sentiment": sentiment})
        seeded.feedback += 1
    return seeded
