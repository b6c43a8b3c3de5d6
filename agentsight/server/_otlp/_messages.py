"""The messages of a model call, wherever an instrumentation put them.

In order of preference, for the input (output) of a call:

1. ``gen_ai.input.messages`` (``gen_ai.output.messages``), the GenAI
   conventions' JSON (or structured) list of ``{"role", "parts": [...]}``,
   on the span or on one of its events;
2. ``gen_ai.prompt`` (``gen_ai.completion``), the older JSON list of
   ``{"role", "content"}``, on the span or on an event;
3. OpenLLMetry's flattened ``gen_ai.prompt.<i>.role`` / ``.content``
   (``gen_ai.completion.<i>...``);
4. OpenInference's flattened ``llm.input_messages.<i>.message.role`` /
   ``.content`` / ``.contents.<j>.message_content.text``
   (``llm.output_messages...``);
5. OpenInference's ``input.value`` (``output.value``) when it is plain text;
6. the older per-message span events (``gen_ai.user.message``,
   ``gen_ai.choice``...) with their ``content``.

A message is ``(role, text)``: only text parts count, joined by newlines;
tool calls, images and the like are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ._values import Attributes

__all__ = ["Message", "input_messages", "output_messages"]

Message = tuple[str, str]
_INDEXED = re.compile(r"(\d+)\.(.+)")
_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def input_messages(
    attributes: Attributes, events: Sequence[tuple[str, Attributes]]
) -> list[Message]:
    """The messages sent to the model, oldest first (``[]`` when the span has none)."""
    return _messages(
        attributes,
        events,
        structured=("gen_ai.input.messages", "gen_ai.prompt"),
        flattened=(("gen_ai.prompt.", ""), ("llm.input_messages.", "message.")),
        value="input",
        event_roles=_EVENT_ROLES,
    )


def output_messages(
    attributes: Attributes, events: Sequence[tuple[str, Attributes]]
) -> list[Message]:
    """The messages the model answered with (``[]`` when the span has none)."""
    return _messages(
        attributes,
        events,
        structured=("gen_ai.output.messages", "gen_ai.completion"),
        flattened=(("gen_ai.completion.", ""), ("llm.output_messages.", "message.")),
        value="output",
        event_roles={"gen_ai.choice": "assistant"},
    )


def _messages(
    attributes: Attributes,
    events: Sequence[tuple[str, Attributes]],
    *,
    structured: tuple[str, ...],
    flattened: tuple[tuple[str, str], ...],
    value: str,
    event_roles: dict[str, str],
) -> list[Message]:
    for key in structured:
        for holder in (attributes, *(event for _, event in events)):
            found = _from_list(holder.structured(key)) if key in holder else None
            if found is not None:
                return found
    for prefix, inner in flattened:
        found = _from_flattened(attributes.prefixed(prefix), inner)
        if found:
            return found
    text = attributes.text(f"{value}.value")
    mime = attributes.text(f"{value}.mime_type")
    if text is not None and (mime == "text/plain" or (mime is None and not _looks_json(text))):
        return [("user" if value == "input" else "assistant", text)]
    return _from_events(events, event_roles)


def _from_list(items: Any) -> list[Message] | None:
    if not isinstance(items, list):
        return None
    messages = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("message"), dict):
            item = item["message"]  # a choice: {"index", "message": {...}, "finish_reason"}
        if not isinstance(item, dict):
            continue
        role = item.get("role")
        text = _text(item.get("parts")) or _text(item.get("content"))
        messages.append((role if isinstance(role, str) else "assistant", text))
    return messages


def _text(content: Any) -> str:
    """The text of a content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") in ("text", "output_text"):
            text = part.get("content", part.get("text"))
            if isinstance(text, str):
                texts.append(text)
    return "\n".join(texts)


def _from_flattened(keys: Any, inner: str) -> list[Message]:
    """``<i>.<inner>role`` and ``<i>.<inner>content`` (or ``contents.<j>...text``) per index."""
    by_index: dict[int, dict[str, Any]] = {}
    for key, item in keys.items():
        match = _INDEXED.fullmatch(key)
        if match is None or not match.group(2).startswith(inner):
            continue
        by_index.setdefault(int(match.group(1)), {})[match.group(2)[len(inner) :]] = item
    messages = []
    for _, fields in sorted(by_index.items()):
        role = fields.get("role")
        text = fields.get("content")
        if not isinstance(text, str):
            parts = sorted(
                (k, v)
                for k, v in fields.items()
                if k.startswith("contents.") and k.endswith("message_content.text")
            )
            text = "\n".join(v for _, v in parts if isinstance(v, str))
        messages.append((role if isinstance(role, str) else "assistant", text))
    return messages


def _from_events(events: Sequence[tuple[str, Attributes]], roles: dict[str, str]) -> list[Message]:
    messages = []
    for name, attributes in events:
        role = roles.get(name)
        if role is None:
            continue
        content = attributes.get("content")
        if isinstance(content, str) and _looks_json(content):
            content = json.loads(content)
        if content is None and "message" in attributes:
            message = attributes.structured("message")
            content = message.get("content") if isinstance(message, dict) else None
        messages.append((role, _text(content)))
    return messages


def _looks_json(text: str) -> bool:
    if text[:1] not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
