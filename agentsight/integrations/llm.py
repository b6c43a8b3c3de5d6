"""Token usage from LLM client responses: OpenAI and Anthropic, objects or dicts.

    from agentsight.integrations.llm import track_llm_usage

    completion = await openai_client.chat.completions.create(...)
    await track_llm_usage(tracker, completion)          # plain call in sync code

Nothing here imports ``openai`` or ``anthropic`` or touches the network: the
usage block is read by name from the response object (or its ``model_dump()``
dict, or the JSON you got over HTTP).  Shapes understood:

- OpenAI chat completions (and embeddings): ``prompt_tokens``,
  ``completion_tokens``, ``total_tokens``.  An embeddings response (its
  ``data`` items are ``"embedding"`` objects) counts as ``embedding_tokens``.
- OpenAI Responses API: ``input_tokens``, ``output_tokens``, ``total_tokens``
  (input includes cached tokens).
- Anthropic Messages: ``input_tokens``, ``output_tokens`` and the cache
  counts ``cache_creation_input_tokens``, ``cache_read_input_tokens``, which
  Anthropic leaves out of ``input_tokens``: they are added to the prompt.
  Also a streaming event that carries a ``usage`` (or ``message.usage``).

Cached prompt tokens (OpenAI's ``prompt_tokens_details.cached_tokens`` or
``input_tokens_details.cached_tokens``, Anthropic's
``cache_read_input_tokens``) and reasoning tokens (``completion_tokens_details``
or ``output_tokens_details``) are passed on, as are the response's ``model``
and its provider (``openai`` or ``anthropic``, from the response's shape), so
that the collector can price the call.

A response without a usage block tracks nothing.  Missing or ``None`` counts
are 0; ``total_tokens`` defaults to prompt plus completion.

.. versionadded:: 0.2
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

from .._buffer import DONE

if TYPE_CHECKING:
    from .._tracker import ConversationTracker

__all__ = [
    "TokenCounts",
    "llm_model",
    "llm_usage",
    "track_anthropic_usage",
    "track_llm_usage",
    "track_openai_usage",
]

TokenCounts = dict[str, int]
"""``prompt_tokens``, ``completion_tokens``, ``total_tokens``, ``embedding_tokens``,
``cached_input_tokens``, ``reasoning_tokens``."""

_ANTHROPIC_CACHE = ("cache_creation_input_tokens", "cache_read_input_tokens")


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: Any, name: str) -> int:
    value = _field(obj, name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _usage_block(response: Any) -> Any:
    """The usage part of a response, a streaming event, or the usage itself."""
    for holder in (response, _field(response, "message"), _field(response, "response")):
        usage = _field(holder, "usage") if holder is not None else None
        if usage is not None:
            return usage
    if any(_field(response, n) is not None for n in ("prompt_tokens", "input_tokens")):
        return response
    return None


def _is_embedding(response: Any) -> bool:
    data = _field(response, "data")
    if not isinstance(data, (list, tuple)) or not data:
        return False
    return bool(_field(data[0], "object") == "embedding")


def llm_usage(response: Any) -> TokenCounts | None:
    """Read the token counts of an OpenAI or Anthropic response.

    Args:
        response: a response object, its dict form, a streaming event, or
            the usage block itself.

    Returns:
        The counts, or ``None`` when the response has no usage block.
    """
    usage = _usage_block(response)
    if usage is None:
        return None
    if _field(usage, "prompt_tokens") is not None:  # OpenAI chat completions, embeddings
        prompt, completion = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
    else:  # OpenAI Responses API (cached tokens included) or Anthropic (cache apart)
        cached = sum(_count(usage, name) for name in _ANTHROPIC_CACHE)
        prompt, completion = _count(usage, "input_tokens") + cached, _count(usage, "output_tokens")
    total = _count(usage, "total_tokens") or prompt + completion
    if _is_embedding(response):
        return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": total,
                "embedding_tokens": prompt, "cached_input_tokens": 0,
                "reasoning_tokens": 0}  # fmt: skip
    counts = {"prompt_tokens": prompt, "completion_tokens": completion}
    cached = _count(usage, "cache_read_input_tokens") + sum(
        _count(_field(usage, details), "cached_tokens")
        for details in ("prompt_tokens_details", "input_tokens_details")
    )
    reasoning = sum(
        _count(_field(usage, details), "reasoning_tokens")
        for details in ("completion_tokens_details", "output_tokens_details")
    )
    return {**counts, "total_tokens": total, "embedding_tokens": 0,
            "cached_input_tokens": min(cached, prompt),
            "reasoning_tokens": min(reasoning, completion)}  # fmt: skip


def llm_model(response: Any) -> tuple[str | None, str | None]:
    """The (model, provider) of an OpenAI or Anthropic response, where it says.

    The provider is read from the response's shape: OpenAI's have an
    ``object`` (``chat.completion``, ``response``, ``list``...), Anthropic's a
    ``type`` of ``message`` (or a streaming event's ``message``).
    """
    for holder in (response, _field(response, "message"), _field(response, "response")):
        if holder is None:
            continue
        model = _field(holder, "model")
        if isinstance(model, str) and model:
            kind, shape = _field(holder, "type"), _field(holder, "object")
            if kind == "message":
                return model, "anthropic"
            if isinstance(shape, str):
                return model, "openai"
            return model, None
    return None, None


def track_llm_usage(
    tracker: ConversationTracker, response: Any, *, conversation_id: str | None = None
) -> Awaitable[None]:
    """Track the token usage of one model call (``track_token_usage`` with its counts).

    Works both ways like every tracking call: ``await`` it, or call it plainly.

    Args:
        tracker: the tracker.
        response: an OpenAI or Anthropic response (object or dict), see ``llm_usage``.
        conversation_id: the conversation, instead of the current one.

    Returns:
        What ``track_token_usage`` returns, or a completed awaitable when the
        response had no usage block.
    """
    counts = llm_usage(response)
    if counts is None:
        return DONE
    model, provider = llm_model(response)
    return tracker.track_token_usage(
        counts["prompt_tokens"],
        counts["completion_tokens"],
        counts["total_tokens"],
        counts["embedding_tokens"],
        model=model,
        provider=provider,
        cached_input_tokens=counts["cached_input_tokens"],
        reasoning_tokens=counts["reasoning_tokens"],
        conversation_id=conversation_id,
    )


track_openai_usage = track_llm_usage
"""``track_llm_usage`` under the name of the client it reads (chat, Responses, embeddings)."""
track_anthropic_usage = track_llm_usage
"""``track_llm_usage`` under the name of the client it reads (Messages, streaming events)."""
