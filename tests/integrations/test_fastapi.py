"""FastAPI through its ASGI interface: lifespan, per-request conversations, a real collector."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import BackgroundTasks, Depends, FastAPI, WebSocket

from agentsight import ConversationTracker
from agentsight.integrations.fastapi import (
    ConversationMiddleware,
    conversation_dependency,
    tracker_lifespan,
)
from agentsight.transports import InMemoryTransport
from tests.e2e.collector import CollectorProcess
from tests.integrations.conftest import collector_tracker

pytestmark = pytest.mark.anyio


def chat_app(tracker: ConversationTracker, calls: list[tuple[str, str]]) -> FastAPI:
    """A chat service: each request tracks a question, a lookup and an answer."""
    app = FastAPI(lifespan=tracker_lifespan(tracker))
    in_conversation = conversation_dependency(
        tracker,
        header="X-Conversation-Id",
        source="web",
        attributes=lambda request: {"customer_id": request.headers.get("X-User")},
    )

    @app.post("/chat")
    async def chat(body: dict[str, str], cid: str = Depends(in_conversation)) -> dict[str, Any]:
        text = body["text"]
        await tracker.track_human_message(text)
        calls.append((cid, text))  # the loop is single-threaded: this is the call order
        await anyio.sleep(0)  # noqa: ASYNC115 - let the other requests interleave
        await tracker.track_action("lookup", duration_ms=1.5, response={"for": text})
        calls.append((cid, "lookup"))
        await anyio.sleep(0)  # noqa: ASYNC115
        await tracker.track_agent_message(f"answer to {text}")
        calls.append((cid, f"answer to {text}"))
        return {"conversation_id": tracker.current_conversation_id}

    return app


async def test_200_concurrent_requests_land_in_their_conversations_in_order(
    collector: CollectorProcess,
) -> None:
    """200 concurrent requests over 50 conversations: all stored, in call order, none left."""
    tracker = collector_tracker(collector)
    calls: list[tuple[str, str]] = []
    app = chat_app(tracker, calls)
    prefix = f"fastapi-{uuid.uuid4().hex[:8]}"  # the collector is shared by both backends
    requests = [(f"{prefix}-{n % 50}", n) for n in range(200)]
    random.Random(8).shuffle(requests)
    answers: dict[int, str] = {}

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as client:

            async def post(cid: str, n: int) -> None:
                headers = {"X-Conversation-Id": cid, "X-User": f"user-{cid}"}
                answer = await client.post("/chat", json={"text": f"q{n}"}, headers=headers)
                assert answer.status_code == 200, answer.text
                answers[n] = answer.json()["conversation_id"]

            async with anyio.create_task_group() as tg:
                for cid, n in requests:
                    tg.start_soon(post, cid, n)
    # The lifespan has ended: everything was delivered without any flush of ours.
    stats = tracker.stats()
    assert (stats.queued, stats.dropped, stats.rejected) == (0, 0, 0)
    assert stats.accepted == 200 * 4  # a conversation event per request, 3 tracked calls
    assert answers == {n: cid for cid, n in requests}

    expected: dict[str, list[str]] = defaultdict(list)
    for cid, what in calls:
        expected[cid].append(what)
    for cid in sorted(expected):
        detail = await anyio.to_thread.run_sync(collector.conversation, cid)
        stored = [
            e["content"] if e["type"] == "message" else e["action_name"]
            for e in detail["events"]
            if e["type"] in ("message", "action")
        ]
        assert stored == expected[cid]
        assert len(stored) == 12
        assert detail["conversation"]["source"] == "web"
        assert detail["conversation"]["customer_id"] == f"user-{cid}"


def memory_tracker() -> tuple[ConversationTracker, InMemoryTransport]:
    transport = InMemoryTransport()
    return ConversationTracker(transport=transport, flush_interval=0.01), transport


async def test_path_parameter_sync_endpoint_and_missing_id() -> None:
    """A path parameter names the conversation, a def endpoint sees it, no id answers 400."""
    tracker, transport = memory_tracker()
    app = FastAPI(lifespan=tracker_lifespan(tracker))
    by_path = conversation_dependency(tracker, path_param="chat_id", source="api")

    @app.post("/chats/{chat_id}/messages", dependencies=[Depends(by_path)])
    def post_message(chat_id: str, body: dict[str, str]) -> dict[str, Any]:
        tracker.track_human_message(body["text"])  # a def endpoint: a plain call
        return {"current": tracker.current_conversation_id}

    async with LifespanManager(app) as manager:
        asgi = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://t") as client:
            first = await client.post("/chats/c-1/messages", json={"text": "hi"})
            second = await client.post("/chats/c-2/messages", json={"text": "yo"})
    assert (first.json(), second.json()) == ({"current": "c-1"}, {"current": "c-2"})
    messages = [(e["conversation_id"], e["content"]) for e in transport.events if "content" in e]
    assert messages == [("c-1", "hi"), ("c-2", "yo")]

    tracker, _ = memory_tracker()
    required = conversation_dependency(tracker, header="X-Chat")
    generated = conversation_dependency(tracker, header="X-Chat", generate_missing=True)
    app2 = FastAPI(lifespan=tracker_lifespan(tracker))

    @app2.get("/required", dependencies=[Depends(required)])
    async def needs_id() -> None:
        raise AssertionError("not reached")

    @app2.get("/generated")
    async def makes_id(cid: str = Depends(generated)) -> dict[str, Any]:
        return {"cid": cid, "current": tracker.current_conversation_id}

    async with LifespanManager(app2) as manager:
        asgi = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://t") as client:
            answer = await client.get("/required")
            made = (await client.get("/generated")).json()
    assert answer.status_code == 400
    assert "header 'X-Chat'" in answer.json()["detail"]
    assert made["cid"].startswith("conv_") and made["current"] == made["cid"]


async def test_middleware_cookie_and_background_task_with_explicit_id() -> None:
    """The middleware opens the conversation from a cookie; a background task names it."""
    tracker, transport = memory_tracker()
    app = FastAPI(lifespan=tracker_lifespan(tracker))
    app.add_middleware(ConversationMiddleware, tracker=tracker, cookie="chat", source="web")

    async def summarise(conversation_id: str | None) -> None:
        await tracker.track_action("summarise", conversation_id=conversation_id)

    @app.get("/hello")
    async def hello(background: BackgroundTasks) -> dict[str, Any]:
        await tracker.track_human_message("hello")
        background.add_task(summarise, tracker.current_conversation_id)
        return {"current": tracker.current_conversation_id}

    async with LifespanManager(app) as manager:
        asgi = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://t") as client:
            client.cookies.set("chat", "cookie-7")
            answer = await client.get("/hello")
            # The middleware restored the caller's context: nothing leaked into this task.
            assert tracker.current_conversation_id is None
    assert answer.json() == {"current": "cookie-7"}
    kinds = [(e["type"], e["conversation_id"]) for e in transport.events]
    assert kinds == [
        ("conversation", "cookie-7"),
        ("message", "cookie-7"),
        ("action", "cookie-7"),
    ]


async def test_sync_dependency_conversation_is_not_seen_by_the_endpoint() -> None:
    """A def dependency runs in a copied context: its conversation stays there (documented)."""
    tracker, _ = memory_tracker()
    app = FastAPI(lifespan=tracker_lifespan(tracker))

    def sync_dependency() -> None:
        tracker.get_or_create_conversation("from-sync-dependency")

    @app.get("/", dependencies=[Depends(sync_dependency)])
    async def index() -> dict[str, Any]:
        return {"current": tracker.current_conversation_id}

    async with LifespanManager(app) as manager:
        asgi = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://t") as client:
            answer = await client.get("/")
    assert answer.json() == {"current": None}


# starlette's TestClient (the WebSocket client used here) warns on import that it prefers httpx2.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")
def test_websocket_route_runs_inside_the_dependency_conversation() -> None:
    """A WebSocket session: every message it tracks lands in the query parameter's conversation."""
    from fastapi.testclient import TestClient

    tracker, transport = memory_tracker()
    app = FastAPI(lifespan=tracker_lifespan(tracker))
    by_query = conversation_dependency(tracker, query_param="chat", source="web")

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, cid: str = Depends(by_query)) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await tracker.track_human_message(text)
            await websocket.send_text(f"{tracker.current_conversation_id}: {text}")

    with TestClient(app) as client, client.websocket_connect("/ws?chat=ws-1") as websocket:
        for text in ("one", "two"):
            websocket.send_text(text)
            assert websocket.receive_text() == f"ws-1: {text}"
    messages = [(e["conversation_id"], e["content"]) for e in transport.events if "content" in e]
    assert messages == [("ws-1", "one"), ("ws-1", "two")]
