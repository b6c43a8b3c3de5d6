"""The past 30 days of the demo shop's support bot, imported through the batch API.

    AGENTSIGHT_API_KEY=ags_... python examples/demo_history.py [--days 30] [--conversations 15000]

The SDK stamps every event with the time of the call, so it cannot record
last month.  This script does what an import of past conversations would
do: it writes the conversations of ``demo_conversations.py`` as events of the
documented wire schema (docs/wire-schema.md), each with the time it happened
(weekdays and weekends, office hours and evenings in the customer's time
zone), and posts them to the collector's ``POST /v1/batch`` with the SDK's
public ``agentsight.transports.HttpTransport``, which answers what was
accepted.  Then it adds the customers' feedback with
``agentsight.api.AsyncClient.submit_feedback`` (``POST
/v1/conversations/{id}/feedback``).  Event ids are derived from the seed, so
running it again against the same collector stores nothing twice (every
event comes back as a duplicate).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from typing import Any

import anyio
import demo_conversations as demo

from agentsight.api import AsyncClient
from agentsight.transports import Batch, HttpTransport, Outcome

BATCH_EVENTS = 5000  # the collector takes up to 10,000 per batch


def stamp(seconds: float) -> str:
    """RFC 3339 in UTC with microseconds, as the SDK writes it."""
    whole = int(seconds)
    micros = round((seconds - whole) * 1_000_000)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}Z"


def wire_events(script: demo.Script, seed: int) -> list[dict[str, Any]]:
    """*script* as wire events: its steps with ids, sequence numbers and times."""
    ids = random.Random(f"{seed}/{script.conversation_id}/ids")
    at, events = script.start, []
    for seq, step in enumerate(script.steps):
        at += step.after
        events.append(
            {
                "id": f"{ids.getrandbits(128):032x}",
                "type": step.kind,
                "conversation_id": script.conversation_id,
                "seq": seq,
                "timestamp": stamp(at),
                **step.fields,
            }
        )
    return events


async def post(transport: HttpTransport, events: list[dict[str, Any]]) -> tuple[int, int, int]:
    """One batch; (accepted, duplicates, rejected).  Retries what is worth retrying."""
    body = json.dumps(
        {"schema": 2, "sent_at": stamp(time.time()), "events": events}, ensure_ascii=False
    ).encode()
    batch = Batch(body=gzip.compress(body, 1), gzipped=True, ids=tuple(e["id"] for e in events))
    for attempt in range(5):
        result = await transport.send(batch)
        if result.outcome is Outcome.DELIVERED:
            for rejection in result.rejected[:3]:
                print(f"  rejected: {rejection.error}")
            return result.accepted, result.duplicates, len(result.rejected)
        if result.outcome is Outcome.FAILED:
            raise SystemExit(f"the collector refused the batch: {result.error}")
        await anyio.sleep(result.retry_after or 0.5 * 2**attempt)
    raise SystemExit(f"the collector did not take the batch: {result.error}")


async def main(days: int, conversations: int, seed: int) -> None:
    started = time.perf_counter()
    now = time.time()
    scripts = demo.history(seed, conversations, days, now)
    events = [event for script in scripts for event in wire_events(script, seed)]
    events.sort(key=lambda event: event["timestamp"])  # day after day, as they happened
    client = AsyncClient()  # AGENTSIGHT_API_KEY and AGENTSIGHT_API_ENDPOINT
    transport = HttpTransport(client.endpoint, client.api_key or "", timeout=60)
    accepted = duplicates = rejected = 0
    try:
        for first in range(0, len(events), BATCH_EVENTS):
            batch_counts = await post(transport, events[first : first + BATCH_EVENTS])
            accepted += batch_counts[0]
            duplicates += batch_counts[1]
            rejected += batch_counts[2]
    finally:
        await transport.aclose()
    given = [s for s in scripts if s.feedback]
    limiter = anyio.Semaphore(8)

    async def feedback(script: demo.Script) -> None:
        assert script.feedback is not None
        async with limiter:
            await client.submit_feedback(script.conversation_id, *script.feedback)

    async with client, anyio.create_task_group() as tg:
        for script in given:
            tg.start_soon(feedback, script)
    used = sum(1 for s in scripts if s.topic)
    print(
        f"demo history: {len(scripts)} conversations of the past {days} days ({used} used, "
        f"{sum(s.escalated for s in scripts)} handed to a human), {len(events)} events posted "
        f"to /v1/batch with past timestamps, {len(given)} feedback entries, in "
        f"{time.perf_counter() - started:.1f}s"
    )
    print(
        f"delivered: sent={len(events)} accepted={accepted} dropped={rejected} "
        f"duplicates={duplicates}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Import the demo shop's past conversations.")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--conversations", type=int, default=15000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    anyio.run(main, args.days, args.conversations, args.seed)
