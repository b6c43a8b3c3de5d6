"""A FastAPI chat service: the tracker runs in the app's lifespan, one conversation per visitor.

    AGENTSIGHT_API_KEY=ags_... python examples/fastapi_app.py --demo   # serve, chat, stop
    AGENTSIGHT_API_KEY=ags_... python examples/fastapi_app.py          # serve on :8000

``tracker_lifespan`` starts the tracker in uvicorn's event loop and delivers
what is buffered at shutdown.  ``conversation_dependency`` reads the
conversation id from a cookie (a new visitor gets a generated one, sent back
as the cookie) and runs the request inside that conversation.  The background
task gets the id explicitly: that works whatever FastAPI version runs it.
``--demo`` serves on a free loopback port, has five visitors chat at once
through real HTTP, then stops the server and prints what was delivered.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx
import uvicorn
from fastapi import BackgroundTasks, Depends, FastAPI, Response
from pydantic import BaseModel

from agentsight import ConversationTracker
from agentsight.integrations.fastapi import conversation_dependency, tracker_lifespan
from agentsight.integrations.llm import track_llm_usage

tracker = ConversationTracker()  # AGENTSIGHT_API_KEY, AGENTSIGHT_API_ENDPOINT
app = FastAPI(lifespan=tracker_lifespan(tracker))
in_conversation = conversation_dependency(
    tracker,
    cookie="conversation_id",
    generate_missing=True,
    source="web",
    device="desktop",
    attributes=lambda request: {"customer_id": request.headers.get("X-User")},
)


class ChatIn(BaseModel):
    text: str


class ChatOut(BaseModel):
    conversation_id: str
    answer: str


async def model_answer(text: str) -> dict[str, object]:
    """Stands in for an LLM client call; the usage block is what OpenAI returns."""
    await asyncio.sleep(0.005)
    usage = {"prompt_tokens": 40 + len(text), "completion_tokens": 12}
    return {"content": f"You said: {text}", "usage": usage}


async def summarise(conversation_id: str) -> None:
    """Runs after the response: names its conversation explicitly."""
    await tracker.track_action("summarise", response="ok", conversation_id=conversation_id)


@app.post("/chat")
async def chat(
    message: ChatIn,
    response: Response,
    background: BackgroundTasks,
    conversation_id: str = Depends(in_conversation),
) -> ChatOut:
    await tracker.track_human_message(message.text)
    completion = await model_answer(message.text)
    answer = str(completion["content"])
    await tracker.track_agent_message(answer, metadata={"model": "gpt-4o-mini"})
    await track_llm_usage(tracker, completion)
    background.add_task(summarise, conversation_id)
    response.set_cookie("conversation_id", conversation_id)
    return ChatOut(conversation_id=conversation_id, answer=answer)


async def visitor(base_url: str, n: int, turns: int = 3) -> None:
    """A browser of its own (its own cookie jar) chatting for a few turns."""
    async with httpx.AsyncClient(base_url=base_url, headers={"X-User": f"visitor-{n}"}) as client:
        for turn in range(turns):
            answer = await client.post("/chat", json={"text": f"visitor {n}, message {turn}"})
            answer.raise_for_status()
        print(f"visitor-{n}: conversation {answer.json()['conversation_id']}, {turns} turns")


async def demo(visitors: int = 5) -> None:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    await asyncio.gather(*(visitor(f"http://127.0.0.1:{port}", n) for n in range(visitors)))
    server.should_exit = True
    await serving  # the lifespan ends: the tracker delivers what is buffered
    stats = tracker.stats()
    print(f"delivered: sent={stats.sent} accepted={stats.accepted} dropped={stats.dropped}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="chat with itself, then stop")
    parser.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args()
    if arguments.demo:
        asyncio.run(demo())
    else:
        uvicorn.run(app, host="127.0.0.1", port=arguments.port)
