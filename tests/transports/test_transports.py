"""The transports a user can plug in instead of the collector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsight import ConversationTracker
from agentsight.transports import InMemoryTransport, JsonLinesTransport, Transport

pytestmark = pytest.mark.anyio


async def test_json_lines_transport_writes_one_event_per_line(tmp_path: Path) -> None:
    """Every event lands as one JSON line, in order, with its wire fields."""
    path = tmp_path / "events.jsonl"
    async with ConversationTracker(transport=JsonLinesTransport(path)) as tracker:
        await tracker.get_or_create_conversation("c", source="web")
        for n in range(300):
            await tracker.track_human_message(f"m{n}")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 301
    assert lines[0]["type"] == "conversation" and lines[0]["source"] == "web"
    assert [e["content"] for e in lines[1:]] == [f"m{n}" for n in range(300)]
    assert len({e["id"] for e in lines}) == 301


async def test_in_memory_transport_counts_resends_as_duplicates() -> None:
    """The in-memory transport dedupes by event id, as the collector does."""
    transport = InMemoryTransport()
    assert isinstance(transport, Transport)
    async with ConversationTracker(transport=transport) as tracker:
        await tracker.track_human_message("hi", conversation_id="c")
    assert len(transport.events) == 1
    from agentsight._encode import encode_events, wrap_batch
    from agentsight._events import message
    from agentsight.transports import Batch

    event = message("c", 0, 0, "end_user", "x")
    body = wrap_batch([encode_events([event], ["f" * 32])])
    first = await transport.send(Batch(body=body, gzipped=False, ids=("f" * 32,)))
    again = await transport.send(Batch(body=body, gzipped=False, ids=("f" * 32,)))
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 1)
