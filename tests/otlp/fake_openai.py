"""A small stand-in for the OpenAI API on 127.0.0.1: chat completions and embeddings.

A chat request that offers tools and does not end with a tool result gets a
tool call back; any other gets a text answer.  The usage block is the one
OpenAI sends, cached and reasoning tokens included.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

__all__ = ["ANSWER", "MODEL", "fake_openai"]

MODEL = "gpt-4o-mini-2024-07-18"
ANSWER = "Your order 42 has shipped."


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 16},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


async def _chat(request: web.Request) -> web.Response:
    body = await request.json()
    messages = body["messages"]
    if body.get("tools") and messages[-1]["role"] != "tool":
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_42",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order": 42}'},
                }
            ],
        }
        finish, usage = "tool_calls", _usage(80, 12)
    else:
        message, finish, usage = {"role": "assistant", "content": ANSWER}, "stop", _usage(120, 9)
    return web.json_response(
        {
            "id": f"chatcmpl-{len(messages)}",
            "object": "chat.completion",
            "created": 1_796_460_072,
            "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
    )


async def _embeddings(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
            "model": body["model"],
            "usage": {"prompt_tokens": 7, "total_tokens": 7},
        }
    )


@contextlib.asynccontextmanager
async def fake_openai() -> AsyncIterator[str]:
    """Serve the stand-in on a free loopback port; its base URL (``.../v1``)."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/embeddings", _embeddings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()
