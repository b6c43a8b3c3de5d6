"""The spans of a request as a tree: what each one is, and its nearest ancestors.

Each walk up the tree stops at the first span an earlier walk went through
(``memo``), so a request costs time in proportion to its spans, however deep
the tree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs

from ._values import Attributes

__all__ = ["CONVERSATION_KEYS", "Span", "ancestor", "kept_parent", "spans"]

_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_LLM_KINDS = frozenset({"LLM", "EMBEDDING"})
_TRACELOOP_STEPS = frozenset({"workflow", "task", "agent"})
#: Where a span names its conversation, in order of preference.
CONVERSATION_KEYS = ("gen_ai.conversation.id", "session.id")


@attrs.define
class Span:
    """A span, its attributes and its resource's, what it is (``category``) and its
    conversation: its own (``own``), then the one the request gives it."""

    span: Any
    attributes: Attributes
    resource: Attributes
    category: str | None
    trace: str
    own: str | None  # the conversation the span names itself
    conversation: str | None = None


def _category(attributes: Attributes) -> str | None:
    """``"llm"``, ``"tool"``, ``"step"`` or ``None`` (not a GenAI span)."""
    operation = attributes.text("gen_ai.operation.name")
    kind = (attributes.text("openinference.span.kind") or "").upper()
    traceloop = attributes.text("traceloop.span.kind")
    if operation in _LLM_OPERATIONS or kind in _LLM_KINDS:
        return "llm"
    if operation == "execute_tool" or kind == "TOOL" or traceloop == "tool":
        return "tool"
    if operation or kind or traceloop in _TRACELOOP_STEPS:
        return "step"
    if attributes.text("llm.request.type", "gen_ai.request.model", "llm.model_name"):
        return "llm"
    return None


def spans(request: Any) -> Iterator[Span]:
    """Every span of an ``ExportTraceServiceRequest``, in the order sent."""
    for resource_spans in request.resource_spans:
        resource = Attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = Attributes(span.attributes)
                yield Span(
                    span,
                    attributes,
                    resource,
                    _category(attributes),
                    span.trace_id.hex(),
                    attributes.text(*CONVERSATION_KEYS),
                )


def _ancestors(item: Span, by_id: dict[tuple[bytes, bytes], Span]) -> Iterator[Span]:
    """The span's ancestors held by the request, nearest first (a cycle ends the walk)."""
    seen = {item.span.span_id}
    parent_id = item.span.parent_span_id
    while parent_id and parent_id not in seen:
        seen.add(parent_id)
        parent = by_id.get((item.span.trace_id, parent_id))
        if parent is None:
            return
        yield parent
        parent_id = parent.span.parent_span_id


def ancestor(
    item: Span,
    by_id: dict[tuple[bytes, bytes], Span],
    wanted: Callable[[Span], bool],
    memo: dict[int, Any],
) -> Span | None:
    """The nearest ancestor of *item* that is *wanted*; *memo* keeps, for the spans walked
    through, their own answer (the same: none of them is wanted)."""
    path, found = [], None
    for ancestor in _ancestors(item, by_id):
        if wanted(ancestor):
            found = ancestor
            break
        if id(ancestor) in memo:
            found = memo[id(ancestor)]
            break
        path.append(ancestor)
    for walked in path:
        memo[id(walked)] = found
    return found


def kept_parent(
    item: Span, by_id: dict[tuple[bytes, bytes], Span], memo: dict[int, Any]
) -> str | None:
    """The span id of the nearest ancestor kept; the parent itself when the request lacks it."""
    path, parent_id = [], item.span.parent_span_id
    found: str | None = None
    for ancestor in _ancestors(item, by_id):
        if ancestor.category is not None:
            found = str(ancestor.span.span_id.hex())
            break
        if id(ancestor) in memo:
            found = memo[id(ancestor)]
            break
        path.append(ancestor)
        parent_id = ancestor.span.parent_span_id
    else:
        found = parent_id.hex() if parent_id else None
    for walked in path:
        memo[id(walked)] = found
    return found
