"""Token usage read from OpenAI and Anthropic responses (objects and dicts), no network."""

from __future__ import annotations

from types import SimpleNamespace as Obj
from typing import Any

import pytest

from agentsight import ConversationTracker
from agentsight.integrations.llm import (
    llm_model,
    llm_usage,
    track_anthropic_usage,
    track_llm_usage,
    track_openai_usage,
)
from agentsight.transports import InMemoryTransport

pytestmark = pytest.mark.anyio

OPENAI_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
    "usage": {
        "prompt_tokens": 50,
        "completion_tokens": 20,
        "total_tokens": 70,
        "prompt_tokens_details": {"cached_tokens": 10},
    },
}
OPENAI_RESPONSES = {
    "id": "resp_1",
    "object": "response",
    "model": "o4-mini",
    "usage": {
        "input_tokens": 30,
        "output_tokens": 12,
        "total_tokens": 42,
        "output_tokens_details": {"reasoning_tokens": 4},
    },
}
OPENAI_EMBEDDINGS = {
    "object": "list",
    "model": "text-embedding-3-small",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}
ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "Hi"}],
    "usage": {
        "input_tokens": 100,
        "output_tokens": 25,
        "cache_creation_input_tokens": 40,
        "cache_read_input_tokens": 60,
    },
}


def as_object(value: Any) -> Any:
    """The attribute form of a dict, as the SDKs' pydantic models expose it."""
    if isinstance(value, dict):
        return Obj(**{key: as_object(item) for key, item in value.items()})
    if isinstance(value, list):
        return [as_object(item) for item in value]
    return value


@pytest.mark.parametrize("form", [dict, as_object], ids=["dict", "object"])
@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (OPENAI_CHAT, (50, 20, 70, 0, 10, 0)),
        (OPENAI_RESPONSES, (30, 12, 42, 0, 0, 4)),
        (OPENAI_EMBEDDINGS, (0, 0, 8, 8, 0, 0)),
        (ANTHROPIC_MESSAGE, (200, 25, 225, 0, 60, 0)),
        ({"type": "message_start", "message": ANTHROPIC_MESSAGE}, (200, 25, 225, 0, 60, 0)),
        ({"type": "message_delta", "usage": {"output_tokens": 31}}, (0, 31, 31, 0, 0, 0)),
        ({"input_tokens": 5, "output_tokens": None}, (5, 0, 5, 0, 0, 0)),
    ],
    ids=["openai-chat", "responses", "embeddings", "anthropic", "start", "delta", "bare"],
)
def test_usage_shapes(form: Any, response: dict[str, Any], expected: tuple[int, ...]) -> None:
    """Each response shape gives prompt, completion, total, embedding, cached and reasoning
    token counts."""
    counts = llm_usage(form(response))
    assert counts is not None
    assert tuple(counts.values()) == expected
    assert list(counts) == [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "embedding_tokens",
        "cached_input_tokens",
        "reasoning_tokens",
    ]


@pytest.mark.parametrize("form", [dict, as_object], ids=["dict", "object"])
@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (OPENAI_CHAT, ("gpt-4o-mini-2024-07-18", "openai")),
        (OPENAI_RESPONSES, ("o4-mini", "openai")),
        (OPENAI_EMBEDDINGS, ("text-embedding-3-small", "openai")),
        (ANTHROPIC_MESSAGE, ("claude-3-5-haiku-20241022", "anthropic")),
        ({"type": "message_start", "message": ANTHROPIC_MESSAGE}, ANTHROPIC_MESSAGE["model"]),
        ({"type": "message_delta", "usage": {"output_tokens": 31}}, (None, None)),
        ({"model": "llama3", "usage": {"prompt_tokens": 1}}, ("llama3", None)),
    ],
    ids=["openai-chat", "responses", "embeddings", "anthropic", "start", "delta", "unknown"],
)
def test_model_and_provider(form: Any, response: dict[str, Any], expected: Any) -> None:
    """The model comes from the response, the provider from its shape (None when unsure)."""
    if isinstance(expected, str):
        expected = (expected, "anthropic")
    assert llm_model(form(response)) == expected


def test_no_usage_block_reads_as_none() -> None:
    """A response without usage (a streamed text chunk) gives None and tracks nothing."""
    assert llm_usage({"choices": [], "usage": None}) is None
    assert llm_usage(Obj(id="x")) is None
    assert llm_usage("not a response") is None


async def test_tracked_usage_adds_up_per_conversation() -> None:
    """Usage of several calls lands in the conversation and the running totals add up."""
    transport = InMemoryTransport()
    async with ConversationTracker(transport=transport, flush_interval=0.01) as tracker:
        async with tracker.conversation("llm-1"):
            await track_openai_usage(tracker, as_object(OPENAI_CHAT))
            await track_anthropic_usage(tracker, ANTHROPIC_MESSAGE)
            await track_llm_usage(tracker, {"choices": []})  # nothing to track
            totals = tracker.get_token_usage()
        track_llm_usage(tracker, OPENAI_RESPONSES, conversation_id="llm-2")  # a plain call
    assert totals == {
        "prompt_tokens": 250,
        "completion_tokens": 45,
        "total_tokens": 295,
        "embedding_tokens": 0,
    }
    usage = [e for e in transport.events if e["type"] == "token_usage"]
    assert [(e["conversation_id"], e["total_tokens"]) for e in usage] == [
        ("llm-1", 70),
        ("llm-1", 225),
        ("llm-2", 42),
    ]
    assert [(e["model"], e["provider"], e["cached_input_tokens"]) for e in usage] == [
        ("gpt-4o-mini-2024-07-18", "openai", 10),
        ("claude-3-5-haiku-20241022", "anthropic", 60),
        ("o4-mini", "openai", 0),
    ]
    assert usage[2]["reasoning_tokens"] == 4
