"""``AsyncClient`` management calls: each change is visible through get and list."""

from __future__ import annotations

import anyio
import pytest

from agentsight import NotFoundError
from agentsight.api import AsyncClient, Feedback, Sentiment

from .conftest import Served, new_id, track

pytestmark = pytest.mark.anyio


async def test_rename_is_visible(served: Served) -> None:
    """rename_conversation returns the renamed conversation; get and list show the name."""
    cid, customer = new_id(), new_id("u")
    await track(served, dict(conversation_id=cid, customer_id=customer, name="first"))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            renamed = await client.rename_conversation(cid, "Refund request")
            detail = await client.get_conversation(cid)
            page = await client.list_conversations(customer_id=customer)
    assert renamed.name == detail.conversation.name == "Refund request"
    assert [c.name for c in page.conversations] == ["Refund request"]


async def test_mark_and_unmark(served: Served) -> None:
    """mark_conversation marks by default, unmarks with False; the is_marked filter follows."""
    cid, customer = new_id(), new_id("u")
    await track(served, dict(conversation_id=cid, customer_id=customer))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            assert (await client.mark_conversation(cid)).is_marked
            marked = await client.list_conversations(customer_id=customer, is_marked=True)
            assert (await client.get_conversation(cid)).conversation.is_marked
            assert not (await client.mark_conversation(cid, is_marked=False)).is_marked
            unmarked = await client.list_conversations(customer_id=customer, is_marked=True)
    assert [c.conversation_id for c in marked.conversations] == [cid]
    assert unmarked.conversations == ()


async def test_update_merges_metadata(served: Served) -> None:
    """update_conversation sets name and mark, merge-patches metadata (None removes a key)."""
    cid = new_id()
    await track(served, dict(conversation_id=cid, metadata={"plan": "pro", "region": "eu"}))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            updated = await client.update_conversation(
                cid, name="VIP", is_marked=True, metadata={"region": "us", "tier": 2}
            )
            stored = (await client.get_conversation(cid)).conversation
            removed = await client.update_conversation(cid, metadata={"plan": None})
    assert updated == stored
    assert (stored.name, stored.is_marked) == ("VIP", True)
    assert stored.metadata == {"plan": "pro", "region": "us", "tier": 2}
    assert removed.metadata == {"region": "us", "tier": 2}


async def test_feedback_is_visible(served: Served) -> None:
    """submit_feedback stores each piece; get lists them in order; the sentiment filter finds it."""
    cid, customer = new_id(), new_id("u")
    await track(served, dict(conversation_id=cid, customer_id=customer))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            first = await client.submit_feedback(cid, "positive", "great", {"stars": 5})
            second = await client.submit_feedback(cid, Sentiment.NEGATIVE)
            stored = (await client.get_conversation(cid)).conversation.feedback
            negative = await client.list_conversations(customer_id=customer, sentiment="negative")
            neutral = await client.list_conversations(customer_id=customer, sentiment="neutral")
    assert first == Feedback("positive", "great", {"stars": 5}, conversation_id=cid)
    assert (second.sentiment, second.comment, second.metadata) == ("negative", None, None)
    assert [(f.sentiment, f.comment) for f in stored] == [("positive", "great"), ("negative", None)]
    assert all(f.created_at is not None for f in stored)
    assert [c.conversation_id for c in negative.conversations] == [cid]
    assert neutral.conversations == ()


async def test_delete_removes_everything(served: Served) -> None:
    """delete_conversation removes it from get and list; a second delete is NotFoundError."""
    cid, customer = new_id(), new_id("u")
    await track(served, dict(conversation_id=cid, customer_id=customer, messages=["hi"]))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            await client.delete_conversation(cid)
            with pytest.raises(NotFoundError):
                await client.get_conversation(cid)
            assert (await client.list_conversations(customer_id=customer)).conversations == ()
            with pytest.raises(NotFoundError):
                await client.delete_conversation(cid)
