"""POST /v1/batch: storing, idempotency, first write wins, order."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from agentsight.server import ServerOptions
from tests.server.collector_helpers import (
    Collector,
    action,
    batch,
    button,
    conversation,
    message,
    new_id,
    run_collector,
    tokens,
)
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio


async def test_batch_is_stored_with_every_wire_field(collector: Collector) -> None:
    """Every kind of event is stored and returned with all its wire fields."""
    events = [
        conversation("c1", 0, 0.0, customer_id="u1", source="web", metadata={"plan": "pro"}),
        message("c1", 1, 1.0, "Hello"),
        message("c1", 2, 2.0, "Hi!", sender="agent"),
        action("c1", 3, 3.0),
        button("c1", 4, 4.0),
        tokens("c1", 5, 5.0, prompt=50, completion=20),
    ]
    answer = await collector.send(*events, compress=True)
    assert answer == {"accepted": 6, "duplicates": 0, "rejected": []}
    detail = await collector.conversation("c1")
    stored_as = {"conversation": {"customer_ip_address": None}, "token_usage": {"cost_usd": None}}
    assert detail["events"] == [{**e, **stored_as.get(e["type"], {})} for e in events]
    conv = detail["conversation"]
    assert conv["message_count"] == 2
    assert conv["token_usage"] == {
        "prompt_tokens": 50,
        "completion_tokens": 20,
        "total_tokens": 70,
        "embedding_tokens": 0,
    }
    assert (conv["started_at"], conv["ended_at"]) == (
        events[0]["timestamp"],
        events[-1]["timestamp"],
    )


async def test_first_write_wins_field_by_field(collector: Collector) -> None:
    """A later conversation event fills empty fields but never overwrites set ones."""
    first = conversation("c1", 0, 0.0, customer_id="u1", source=None, metadata={"a": 1, "b": 2})
    second = conversation(
        "c1", 1, 1.0, customer_id="u2", source="web", device="mobile", metadata={"a": 9, "c": 3}
    )
    await collector.send(first)
    await collector.send(second)
    conv = (await collector.conversation("c1"))["conversation"]
    assert conv["customer_id"] == "u1"
    assert conv["source"] == "web"
    assert conv["device"] == "mobile"
    assert conv["metadata"] == {"a": 1, "b": 2, "c": 3}


async def test_first_write_wins_within_one_batch(collector: Collector) -> None:
    """Several conversation events of one conversation in one batch apply in their time
    order, whatever their order in the batch: the earliest sets a field first."""
    later = conversation("c1", 2, 2.0, customer_id="u3", source="web", metadata={"a": 9, "c": 3})
    first = conversation("c1", 0, 0.0, customer_id="u1", metadata={"a": 1})
    middle = conversation("c1", 1, 1.0, customer_id="u2", device="mobile", metadata={"b": 2})
    other = conversation("c2", 0, 0.5, customer_id="u9", source="whatsapp")
    await collector.send(later, first, other, middle)
    conv = (await collector.conversation("c1"))["conversation"]
    assert (conv["customer_id"], conv["source"], conv["device"]) == ("u1", "web", "mobile")
    assert conv["metadata"] == {"a": 1, "b": 2, "c": 3}
    conv = (await collector.conversation("c2"))["conversation"]
    assert (conv["customer_id"], conv["source"]) == ("u9", "whatsapp")


async def test_interaction_then_conversation_is_one_used_conversation(collector: Collector) -> None:
    """initialize_conversation then get_or_create gives one conversation with is_used true."""
    await collector.send(conversation("c1", 0, 0.0, used=False, customer_id="u1"))
    assert (await collector.conversation("c1"))["conversation"]["is_used"] is False
    await collector.send(conversation("c1", 1, 1.0, used=True, customer_id="other"))
    listing = await collector.listing()
    assert [c["conversation_id"] for c in listing["conversations"]] == ["c1"]
    conv = listing["conversations"][0]
    assert (conv["is_used"], conv["customer_id"]) == (True, "u1")


async def test_conversation_then_interaction_stays_used(collector: Collector) -> None:
    """is_used never goes back to false."""
    await collector.send(conversation("c1", 0, 0.0, used=True))
    await collector.send(conversation("c1", 1, 1.0, used=False))
    assert (await collector.conversation("c1"))["conversation"]["is_used"] is True


async def test_event_for_unknown_conversation_creates_it(collector: Collector) -> None:
    """A message for a conversation never announced creates it, unused."""
    await collector.send(message("ghost", 0, 0.0))
    conv = (await collector.conversation("ghost"))["conversation"]
    assert (conv["is_used"], conv["message_count"], conv["environment"]) == (False, 1, None)


async def test_resent_batch_counts_duplicates_and_stores_nothing_twice(
    collector: Collector,
) -> None:
    """Sending the same batch again answers duplicates and changes nothing."""
    events = [conversation("c1", 0, 0.0), message("c1", 1, 1.0), tokens("c1", 2, 2.0)]
    assert (await collector.send(*events))["accepted"] == 3
    assert await collector.send(*events) == {"accepted": 0, "duplicates": 3, "rejected": []}
    detail = await collector.conversation("c1")
    assert len(detail["events"]) == 3
    assert detail["conversation"]["message_count"] == 1
    assert detail["conversation"]["token_usage"]["total_tokens"] == 8


async def test_same_id_twice_in_one_batch_is_one_event(collector: Collector) -> None:
    """An id repeated inside a batch is stored once and counted as a duplicate."""
    event = message("c1", 0, 0.0)
    assert await collector.send(event, event) == {"accepted": 1, "duplicates": 1, "rejected": []}


async def test_stored_ids_are_found_wherever_they_sort(collector: Collector) -> None:
    """Stored ids before, inside and after a batch's id range: resent ones are duplicates."""
    ids = [f"{i:032x}" for i in range(10)]  # in sort order, as UUIDv7s mostly come

    def events(*positions: int) -> list[dict[str, Any]]:
        return [{**message("c1", i, float(i)), "id": ids[i]} for i in positions]

    expected = {"duplicates": 0, "rejected": []}
    assert await collector.send(*events(2, 5, 8)) == {"accepted": 3, **expected}
    assert await collector.send(*events(1, 5, 9)) == {
        "accepted": 2,
        "duplicates": 1,
        "rejected": [],
    }
    assert await collector.send(*events(3, 4)) == {"accepted": 2, **expected}
    assert await collector.send(*events(0, 6, 7)) == {"accepted": 3, **expected}
    assert await collector.send(*events(2, 5, 8), project="B") == {"accepted": 3, **expected}
    assert await collector.send(*events(*range(10))) == {
        "accepted": 0,
        "duplicates": 10,
        "rejected": [],
    }
    detail = await collector.conversation("c1")
    assert [e["id"] for e in detail["events"]] == ids
    assert detail["conversation"]["message_count"] == 10


async def test_lost_answer_then_resend_creates_no_duplicate(collector: Collector) -> None:
    """The client hangs up after the commit, unanswered; its resend finds the events stored."""
    events = [conversation("c1", 0, 0.0), message("c1", 1, 1.0)]
    body = json.dumps(batch(*events)).encode()
    host, port = collector.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {collector.keys['A']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    request = head.encode() + body
    with anyio.fail_after(10):
        async with await anyio.connect_tcp(host, int(port)) as stream:
            await stream.send(request)
            # Seen from another connection, the batch is committed; then hang up unanswered.
            while (await collector.call("GET", "/v1/conversations/c1"))[0] != 200:  # noqa: ASYNC110
                await anyio.sleep(0.01)  # polling state over HTTP: there is no event to wait on
    assert await collector.send(*events) == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert len((await collector.conversation("c1"))["events"]) == 2


async def test_events_come_back_in_timestamp_seq_order(collector: Collector) -> None:
    """Batches arriving out of order still give (timestamp, seq) order; seq breaks ties."""
    late = [message("c1", 3, 5.0, "d"), message("c1", 2, 4.0, "c")]
    early = [message("c1", 1, 1.0, "b"), message("c1", 0, 1.0, "a"), conversation("c1", 4, 0.5)]
    await collector.send(*late)
    await collector.send(*early)
    detail = await collector.conversation("c1")
    kinds = [e.get("content", e["type"]) for e in detail["events"]]
    assert kinds == ["conversation", "a", "b", "c", "d"]
    assert detail["conversation"]["started_at"] == early[2]["timestamp"]


async def test_partly_valid_batch_stores_the_valid_events(collector: Collector) -> None:
    """Invalid events are rejected with index, id and field; the others are stored."""
    good = [message("c1", 0, 0.0), message("c1", 2, 2.0)]
    bad_content = {**message("c1", 1, 1.0), "content": 42}
    bad_tokens = {**tokens("c1", 3, 3.0), "prompt_tokens": -1}
    answer = await collector.send(good[0], bad_content, good[1], bad_tokens, "junk")  # type: ignore[arg-type]
    assert answer["accepted"] == 2
    assert answer["rejected"] == [
        {"index": 1, "id": bad_content["id"], "error": "content: expected a string"},
        {
            "index": 3,
            "id": bad_tokens["id"],
            "error": "prompt_tokens: expected an integer from 0 to 1000000000",
        },
        {"index": 4, "id": None, "error": "event: expected a JSON object"},
    ]
    stored = [e["id"] for e in (await collector.conversation("c1"))["events"]]
    assert stored == [e["id"] for e in good]


async def test_number_beyond_any_float_rejects_its_event_only(collector: Collector) -> None:
    """An integer too big for a float (JSON allows it) is a bad field, not a failed batch."""
    huge = {**action("c1", 1, 1.0), "duration_ms": 10**400}
    good = message("c1", 0, 0.0)
    answer = await collector.send(good, huge)
    assert answer["accepted"] == 1
    assert answer["rejected"] == [
        {
            "index": 1,
            "id": huge["id"],
            "error": "duration_ms: expected a number from 0 to 1e+12 or null",
        }
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "ABC"}, "id"),
        ({"type": "nope"}, "type"),
        ({"conversation_id": ""}, "conversation_id"),
        ({"conversation_id": "x" * 257}, "conversation_id"),
        ({"seq": -1}, "seq"),
        ({"seq": True}, "seq"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"sender": "robot"}, "sender"),
        ({"content": "x" * (1024 * 1024 + 1)}, "content"),
        ({"metadata": [1]}, "metadata"),
        ({"truncated": "no"}, "truncated"),
    ],
)
async def test_each_bad_field_is_named(
    collector: Collector, change: dict[str, object], field: str
) -> None:
    """The rejection message starts with the name of the bad field."""
    answer = await collector.send({**message("c1", 0, 0.0), **change})
    assert answer["accepted"] == 0
    assert answer["rejected"][0]["error"].startswith(f"{field}: ")


async def test_raw_ip_is_not_stored_but_country_is(collector: Collector) -> None:
    """By default the IP is dropped after the country look-up."""
    await collector.send(conversation("c1", 0, 0.0, customer_ip_address="8.8.8.8"))
    detail = await collector.conversation("c1")
    assert detail["conversation"]["country"] == "US"
    assert detail["conversation"]["customer_ip_address"] is None
    assert detail["events"][0]["customer_ip_address"] is None


async def test_unparseable_ip_gives_no_country(collector: Collector) -> None:
    """An IP the database cannot place is stored as no country, without an error."""
    answer = await collector.send(
        conversation("c1", 0, 0.0, customer_ip_address="not an ip"),
        conversation("c2", 0, 0.0, customer_ip_address="10.0.0.1"),
    )
    assert answer["accepted"] == 2
    for cid in ("c1", "c2"):
        assert (await collector.conversation(cid))["conversation"]["country"] is None


async def test_ids_are_per_project(collector: Collector) -> None:
    """The same event id in two projects is two events (ids are unique per project)."""
    event = message("c1", 0, 0.0)
    assert (await collector.send(event, project="A"))["accepted"] == 1
    assert (await collector.send(event, project="B"))["accepted"] == 1


async def test_new_ids_in_later_batch_add_counts(collector: Collector) -> None:
    """Counters add up over batches, duplicates excluded."""
    first = tokens("c1", 0, 0.0, prompt=10, completion=1)
    await collector.send(first)
    await collector.send(
        first, tokens("c1", 1, 1.0, prompt=5, completion=2), message("c1", 2, 2.0, new_id())
    )
    conv = (await collector.conversation("c1"))["conversation"]
    assert conv["token_usage"]["prompt_tokens"] == 15
    assert conv["event_count"] == 3


async def test_raw_ip_is_kept_when_configured(database: Database) -> None:
    """With store_raw_ip the IP stays on the conversation and its event."""
    options = ServerOptions(store_raw_ip=True)
    async with run_collector(database("raw"), options) as collector:
        await collector.send(conversation("c1", 0, 0.0, customer_ip_address="81.2.69.160"))
        detail = await collector.conversation("c1")
    assert detail["conversation"]["customer_ip_address"] == "81.2.69.160"
    assert detail["conversation"]["country"] == "GB"
    assert detail["events"][0]["customer_ip_address"] == "81.2.69.160"
