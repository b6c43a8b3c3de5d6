"""Helpers of the OTLP tests: spans made by the real SDK, sent by the real exporter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer

from tests.server.collector_helpers import Collector

__all__ = ["Recorder", "agent_turn", "export", "hex_id"]


class Recorder:
    """A tracer provider whose finished spans are kept in memory, to be exported at will."""

    def __init__(self, **resource: Any) -> None:
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create(resource))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))

    def tracer(self) -> Tracer:
        return self.provider.get_tracer("tests.otlp")

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.memory.get_finished_spans()

    def by_name(self, name: str) -> ReadableSpan:
        return next(s for s in self.spans() if s.name == name)


def hex_id(span: ReadableSpan, which: str = "span") -> str:
    """A span's id (or its parent's, or its trace's) as OTLP/JSON writes it."""
    context = span.context if which != "parent" else span.parent
    assert context is not None
    return f"{context.trace_id:032x}" if which == "trace" else f"{context.span_id:016x}"


async def export(
    collector: Collector,
    spans: Sequence[ReadableSpan],
    *,
    key: str | None = None,
    compression: Compression = Compression.Gzip,
) -> SpanExportResult:
    """Send *spans* with the real OTLP/HTTP exporter (protobuf), on a worker thread."""
    exporter = OTLPSpanExporter(
        endpoint=f"{collector.url}/v1/traces",
        headers={"Authorization": f"Bearer {key or collector.keys['A']}"},
        compression=compression,
        timeout=10,
    )
    try:
        return await anyio.to_thread.run_sync(exporter.export, spans)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]


def _messages(*items: tuple[str, str]) -> str:
    return json.dumps(
        [{"role": role, "parts": [{"type": "text", "content": text}]} for role, text in items]
    )


def _chat(tracer: Tracer, prompt: int, completion: int, inputs: str, outputs: str) -> None:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": prompt,
        "gen_ai.usage.output_tokens": completion,
        "gen_ai.usage.cache_read.input_tokens": 40,
        "gen_ai.input.messages": inputs,
        "gen_ai.output.messages": outputs,
    }
    with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attributes):
        pass


def agent_turn(tracer: Tracer, conversation_id: str | None = "chat-1") -> None:
    """One agent turn as the GenAI conventions have it: an agent, two model calls, a tool
    called inside a plain HTTP span, and the conversation named on the agent's span only."""
    agent: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "support",
        "user.id": "cust-9",
    }
    if conversation_id is not None:
        agent["gen_ai.conversation.id"] = conversation_id
    question = ("user", "Where is my order 42?")
    call = _messages(("assistant", ""))
    with tracer.start_as_current_span("invoke_agent support", attributes=agent):
        _chat(tracer, 100, 20, _messages(("system", "Be brief."), question), call)
        with (
            tracer.start_as_current_span("GET /orders/42", attributes={"http.method": "GET"}),
            tracer.start_as_current_span(
                "execute_tool lookup_order",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "lookup_order",
                    "gen_ai.tool.call.id": "call_1",
                    "gen_ai.tool.call.arguments": '{"order": 42}',
                    "gen_ai.tool.call.result": "shipped",
                },
            ),
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool refund", attributes={"gen_ai.operation.name": "execute_tool"}
        ) as failing:
            failing.set_attribute("gen_ai.tool.name", "refund")
            failing.set_status(Status(StatusCode.ERROR, "refunds are closed"))
        history = _messages(("system", "Be brief."), question, ("tool", "shipped"))
        _chat(tracer, 150, 10, history, _messages(("assistant", "Your order has shipped.")))
