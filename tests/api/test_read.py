"""``AsyncClient`` reading from a real collector: filters, pagination, one conversation, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
import pytest

from agentsight import APIError, AuthenticationError, NotFoundError
from agentsight.api import AsyncClient, Conversation, ConversationDetail

from .conftest import Served, new_id, track

pytestmark = pytest.mark.anyio


def _ids(conversations: tuple[Conversation, ...] | list[Conversation]) -> list[str]:
    return [c.conversation_id for c in conversations]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["d5", "d4", "d3", "d2", "d1"]),
        ({"customer_id": "u1"}, ["d3", "d1"]),
        ({"source": "web"}, ["d5", "d3", "d1"]),
        ({"device": "mobile"}, ["d3", "d2"]),
        ({"language": "en"}, ["d5", "d1"]),
        ({"environment": "production"}, ["d4", "d1"]),
        ({"environment": "development"}, ["d5", "d3", "d2"]),
        ({"country": "US"}, ["d1"]),
        ({"country": "GB"}, ["d3"]),
        ({"is_used": False}, ["d4"]),
        ({"is_used": True}, ["d5", "d3", "d2", "d1"]),
        ({"q": "parcel"}, ["d3", "d1"]),
        ({"source": "web", "device": "mobile", "customer_id": "u1"}, ["d3"]),
        ({"source": "nowhere"}, []),
    ],
)
async def test_list_filters(
    served: Served, dataset: Any, filters: Any, expected: list[str]
) -> None:
    """Each collector filter selects exactly the matching conversations, newest first."""
    async with AsyncClient(served.keys["data"], served.url) as client:
        with anyio.fail_after(10):
            page = await client.list_conversations(**filters)
    assert _ids(page.conversations) == expected
    assert page.next_cursor is None


async def test_time_filters_take_datetime_and_str(served: Served, dataset: Any) -> None:
    """since/until accept an aware datetime, a naive (UTC) one and an ISO string."""
    middle: dt.datetime = dataset["middle"]
    async with AsyncClient(served.keys["data"], served.url) as client:
        with anyio.fail_after(10):
            later = await client.list_conversations(since=middle)
            earlier = await client.list_conversations(until=middle.isoformat())
            naive = middle.astimezone(dt.timezone.utc).replace(tzinfo=None)
            naive_later = await client.list_conversations(since=naive)
            none = await client.list_conversations(since=dataset["after"])
    assert _ids(later.conversations) == ["d5", "d4", "d3"]
    assert _ids(earlier.conversations) == ["d2", "d1"]
    assert naive_later == later
    assert none.conversations == ()


async def test_conversation_fields(served: Served, dataset: Any) -> None:
    """A listed conversation carries the tracked attributes, country, counts and times."""
    async with AsyncClient(served.keys["data"], served.url) as client:
        with anyio.fail_after(10):
            (d1,) = (await client.list_conversations(customer_id="u1", country="US")).conversations
    assert (d1.conversation_id, d1.source, d1.device, d1.language) == ("d1", "web", "desktop", "en")
    assert (d1.environment, d1.country, d1.is_used, d1.is_marked) == (
        "production",
        "US",
        True,
        False,
    )
    assert d1.message_count == 2
    assert d1.started_at is not None and d1.started_at.tzinfo is not None
    assert d1.ended_at is not None and d1.ended_at >= d1.started_at


async def test_pagination_follows_cursors(served: Served, dataset: Any) -> None:
    """limit pages the listing; iter_conversations follows next_cursor to the end."""
    async with AsyncClient(served.keys["data"], served.url) as client:
        with anyio.fail_after(10):
            first = await client.list_conversations(limit=2)
            assert first.next_cursor is not None
            second = await client.list_conversations(limit=2, cursor=first.next_cursor)
            every = [c async for c in client.iter_conversations(page_size=2)]
            web = [c async for c in client.iter_conversations(page_size=1, source="web")]
    assert _ids(first.conversations) == ["d5", "d4"]
    assert _ids(second.conversations) == ["d3", "d2"]
    assert _ids(every) == ["d5", "d4", "d3", "d2", "d1"]
    assert _ids(web) == ["d5", "d3", "d1"]


async def test_iteration_while_conversations_arrive(served: Served) -> None:
    """Conversations created while iterating neither repeat nor hide the older ones."""
    customer = new_id("u")
    older = [new_id() for _ in range(4)]
    await track(served, *(dict(conversation_id=c, customer_id=customer) for c in older))
    seen = []
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(20):
            async for conversation in client.iter_conversations(page_size=1, customer_id=customer):
                seen.append(conversation.conversation_id)
                await track(served, dict(conversation_id=new_id(), customer_id=customer))
            total = [c async for c in client.iter_conversations(customer_id=customer)]
    assert seen == older[::-1]
    assert len(total) == 8


async def test_get_conversation_with_events_in_order(served: Served) -> None:
    """get_conversation returns the attributes and every event in the order tracked."""
    cid, customer = new_id(), new_id("u")
    words = [f"message {i}" for i in range(6)]
    await track(served, dict(conversation_id=cid, customer_id=customer, messages=words))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            detail = await client.get_conversation(cid)
    assert isinstance(detail, ConversationDetail)
    assert detail.conversation.customer_id == customer
    assert [e.type for e in detail.events] == ["conversation"] + ["message"] * 6
    assert [e.data["content"] for e in detail.events[1:]] == words
    assert [e.data["sender"] for e in detail.events[1:3]] == ["end_user", "agent"]
    assert all(e.conversation_id == cid for e in detail.events)
    stamps = [(e.timestamp, e.seq) for e in detail.events]
    assert stamps == sorted(stamps)


async def test_odd_ids_round_trip(served: Served) -> None:
    """Ids with slashes, spaces, ?, #, % and non-ASCII reach the right conversation."""
    cids = [f"{new_id()}/{suffix}" for suffix in ("a b", "x?y=1#z", "100%", "ça/ünï")]
    await track(served, *(dict(conversation_id=cid) for cid in cids))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            for cid in cids:
                detail = await client.get_conversation(cid)
                assert detail.conversation.conversation_id == cid
                renamed = await client.rename_conversation(cid, "odd")
                assert renamed.conversation_id == cid


async def test_unknown_and_foreign_ids_are_not_found(served: Served) -> None:
    """404 for an unknown id and for another project's conversation, from every call."""
    theirs = new_id()
    await track(served, dict(conversation_id=theirs), project="B")
    async with AsyncClient(served.keys["A"], served.url) as client:
        for cid in (new_id(), theirs):
            with anyio.fail_after(10), pytest.raises(NotFoundError) as caught:
                await client.get_conversation(cid)
            assert caught.value.status == 404
            assert "conversation_id" in str(caught.value)
            with anyio.fail_after(10), pytest.raises(NotFoundError):
                await client.rename_conversation(cid, "mine now")
            with anyio.fail_after(10), pytest.raises(NotFoundError):
                await client.submit_feedback(cid, "negative")
            with anyio.fail_after(10), pytest.raises(NotFoundError):
                await client.delete_conversation(cid)
        assert theirs not in _ids([c async for c in client.iter_conversations()])
    async with AsyncClient(served.keys["B"], served.url) as owner:
        with anyio.fail_after(10):
            detail = await owner.get_conversation(theirs)
    assert detail.conversation.name is None


async def test_wrong_key_is_refused(served: Served) -> None:
    """A well-formed but unknown key gets AuthenticationError (401) with the server's message."""
    wrong = served.keys["A"][:-8] + "0" * 8
    async with AsyncClient(wrong, served.url) as client:
        with anyio.fail_after(10), pytest.raises(AuthenticationError) as caught:
            await client.list_conversations()
        assert caught.value.status == 401
        assert "Authorization" in str(caught.value)
        with anyio.fail_after(10), pytest.raises(AuthenticationError):
            await client.get_conversation("any")


async def test_health_needs_no_key(served: Served) -> None:
    """health() answers without a key; other calls without a key fail before any request."""
    async with AsyncClient(endpoint=served.url) as client:
        with anyio.fail_after(10):
            assert await client.health() == {"status": "ok"}


async def test_server_refusal_is_api_error(served: Served) -> None:
    """A 400 from the collector (a bad cursor) is an APIError with status and message."""
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10), pytest.raises(APIError) as caught:
            await client.list_conversations(cursor="not-a-cursor")
    assert caught.value.status == 400
    assert "cursor" in str(caught.value)
    assert not isinstance(caught.value, (AuthenticationError, NotFoundError))
