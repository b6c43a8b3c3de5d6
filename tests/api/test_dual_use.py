"""The blocking ``Client`` and the dual-use ``agentsight_api`` / ``conversation_manager``."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from agentsight import NotFoundError, ValidationError
from agentsight.api import (
    AsyncClient,
    Client,
    Conversation,
    ConversationDetail,
    Pending,
    agentsight_api,
    conversation_manager,
)
from tests.server.collector_helpers import conversation, run_collector

from .conftest import Served, new_id, track


def test_sync_client_from_plain_code(served: Served) -> None:
    """Client's methods block and return typed results in code with no event loop."""
    cid, customer = new_id(), new_id("u")
    anyio.run(track, served, dict(conversation_id=cid, customer_id=customer, messages=["a", "b"]))
    with Client(served.keys["A"], served.url) as client:
        assert client.health() == {"status": "ok"}
        (listed,) = client.list_conversations(customer_id=customer).conversations
        assert listed.message_count == 2
        assert [c.conversation_id for c in client.iter_conversations(customer_id=customer)] == [cid]
        assert len(client.get_conversation(cid).events) == 3
        assert client.rename_conversation(cid, "sync").name == "sync"
        assert client.mark_conversation(cid).is_marked
        assert client.update_conversation(cid, metadata={"k": 1}).metadata == {"k": 1}
        assert client.submit_feedback(cid, "neutral").sentiment == "neutral"
        client.delete_conversation(cid)
        with pytest.raises(NotFoundError):
            client.get_conversation(cid)


def test_sync_client_iterates_pages(served: Served) -> None:
    """Client.iter_conversations fetches page after page until the last."""
    customer = new_id("u")
    cids = [new_id() for _ in range(5)]
    anyio.run(track, served, *(dict(conversation_id=c, customer_id=customer) for c in cids))
    with Client(served.keys["A"], served.url) as client:
        found = [
            c.conversation_id for c in client.iter_conversations(page_size=2, customer_id=customer)
        ]
    assert found == cids[::-1]


def test_module_instances_from_sync_code(served: Served, module_clients: None) -> None:
    """Plain calls in sync code have already waited: the handle is done, errors raise at once."""
    cid = new_id()
    anyio.run(track, served, dict(conversation_id=cid, name="before"))
    handle = conversation_manager.rename_conversation(cid, "after")
    assert isinstance(handle, Pending)
    assert handle.done()
    assert handle.result().name == "after"
    assert conversation_manager.mark_conversation(cid, True).result().is_marked
    changed = conversation_manager.update_conversation(cid, "again", False, metadata={"x": 1})
    assert (changed.result().name, changed.result().is_marked) == ("again", False)
    assert conversation_manager.submit_feedback(cid, "positive", "ok").result().comment == "ok"
    detail = agentsight_api.fetch_conversation(cid).result()
    assert isinstance(detail, ConversationDetail)
    assert detail.conversation.metadata == {"x": 1}
    assert [f.sentiment for f in detail.conversation.feedback] == ["positive"]
    page = agentsight_api.fetch_conversations(page_size=500).result()
    assert cid in [c.conversation_id for c in page.conversations]
    assert conversation_manager.delete_conversation(cid).result() is None
    with pytest.raises(NotFoundError):
        agentsight_api.fetch_conversation(cid)
    with pytest.raises(ValidationError, match=r"^conversation_id: "):
        conversation_manager.delete_conversation("")


@pytest.mark.anyio
async def test_module_instances_awaited(served: Served, module_clients: None) -> None:
    """Awaited, the dual-use calls give their result; errors raise at the await."""
    cid = new_id()
    await track(served, dict(conversation_id=cid))
    with anyio.fail_after(10):
        renamed = await conversation_manager.rename_conversation(cid, "awaited")
        assert isinstance(renamed, Conversation)
        detail = await agentsight_api.fetch_conversation(cid)
        assert detail.conversation.name == "awaited"
        unknown = agentsight_api.fetch_conversation(new_id())
        with pytest.raises(NotFoundError):
            await unknown
    with pytest.raises(ValidationError, match=r"^sentiment: "):
        conversation_manager.submit_feedback(cid, "great")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_plain_call_in_loop_does_not_block_it(tmp_path: Path) -> None:
    """Called plainly in a running loop, a call returns a handle at once and never blocks the loop.

    The collector here runs in the test's own loop: had the call blocked the
    loop, the collector could not have answered it.
    """
    async with run_collector(tmp_path / "in-loop.db") as collector:
        await collector.send(conversation("in-loop"))
        agentsight_api.configure(api_key=collector.keys["A"], endpoint=collector.url, timeout=5)
        try:
            handle = agentsight_api.fetch_conversation("in-loop")
            assert isinstance(handle, Pending)
            assert not handle.done()  # the loop has not run the collector yet
            with anyio.fail_after(10):
                detail = await handle
            assert detail.conversation.conversation_id == "in-loop"
            assert handle.done() and handle.result(0) == detail
        finally:
            await agentsight_api.close()
            agentsight_api.configure()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio(served: Served, module_clients: None) -> None:
    """Under trio, AsyncClient and the awaited dual-use calls work (requests on a loop thread)."""
    cid = new_id()
    await track(served, dict(conversation_id=cid))
    async with AsyncClient(served.keys["A"], served.url) as client:
        with anyio.fail_after(10):
            detail = await client.get_conversation(cid)
            assert detail.conversation.conversation_id == cid
            renamed = await agentsight_api.rename_conversation(cid, "trio")
            assert renamed.name == "trio"
            assert [
                c.conversation_id async for c in client.iter_conversations(q="nothing-like")
            ] == []
