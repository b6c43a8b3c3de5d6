"""The official ``openai`` client, instrumented by OpenTelemetry's and by OpenInference's
instrumentation, talking to a stand-in for the OpenAI API; the spans go to the collector
with the real exporter and read back as a conversation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import openai
import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Tracer

from tests.server.collector_helpers import Collector

from .fake_openai import ANSWER, MODEL, fake_openai
from .helpers import Recorder, export, hex_id

pytestmark = pytest.mark.anyio

QUESTION = "Where is my order 42?"
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "The state of an order.",
            "parameters": {"type": "object", "properties": {"order": {"type": "integer"}}},
        },
    }
]


def _turn(client: openai.OpenAI, tracer: Tracer, tool_attributes: dict[str, Any]) -> None:
    """A tool-using turn: a call that asks for the tool, the tool, the answering call,
    and an embedding of the question."""
    messages: list[Any] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUESTION},
    ]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    name = call.model_dump()["function"]["name"]
    with tracer.start_as_current_span(f"execute_tool {name}") as span:
        span.set_attributes(tool_attributes)
        result = "shipped"
        span.set_attribute("output.value", result)
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    client.embeddings.create(model="text-embedding-3-small", input=QUESTION)


async def _run(work: Callable[[openai.OpenAI], None]) -> None:
    async with fake_openai() as base_url:
        client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
        try:
            await anyio.to_thread.run_sync(work, client)
        finally:
            client.close()


def _check_turn(detail: dict[str, Any], agent_step: str) -> None:
    events = detail["events"]
    messages = [(e["sender"], e["content"]) for e in events if e["type"] == "message"]
    assert messages == [("end_user", QUESTION), ("agent", ANSWER)]
    chats = [e for e in events if e["type"] == "token_usage" and not e["embedding_tokens"]]
    assert [(c["prompt_tokens"], c["completion_tokens"]) for c in chats] == [(80, 12), (120, 9)]
    for chat in chats:
        assert (chat["model"], chat["provider"]) == (MODEL, "openai")
        assert chat["parent_id"] == agent_step
        assert chat["duration_ms"] is not None and len(chat["step_id"]) == 16
    (embedding,) = (e for e in events if e["type"] == "token_usage" and e["embedding_tokens"])
    assert (embedding["embedding_tokens"], embedding["prompt_tokens"]) == (7, 0)
    assert embedding["model"] == "text-embedding-3-small"
    (tool,) = (e for e in events if e["type"] == "action" and e["action_name"] == "lookup_order")
    assert (tool["parent_id"], tool["response"]) == (agent_step, "shipped")
    cost = detail["conversation"]["cost"]
    assert cost["priced_calls"] == 3 and cost["unpriced_calls"] == 0
    assert cost["usd"] > 0


@pytest.fixture
def otel_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """OpenTelemetry's own OpenAI instrumentation, messages on the spans, into a recorder."""
    from opentelemetry.instrumentation._semconv import _OpenTelemetrySemanticConventionStability
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    # The latest GenAI conventions put the messages on the spans.  The opt-in is
    # read once per process: read it again, with the variable set.
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    monkeypatch.setattr(_OpenTelemetrySemanticConventionStability, "_initialized", False)
    recorder = Recorder(**{"service.name": "shop-bot", "deployment.environment.name": "prod"})
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=recorder.provider)
    try:
        yield recorder
    finally:
        instrumentor.uninstrument()


async def test_opentelemetry_openai_instrumentation(
    collector: Collector, otel_openai: Recorder
) -> None:
    """opentelemetry-instrumentation-openai-v2: GenAI conventions, content on the spans."""
    tracer = otel_openai.tracer()

    def work(client: openai.OpenAI) -> None:
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "shop",
            "gen_ai.conversation.id": "oai-1",
        }
        with tracer.start_as_current_span("invoke_agent shop", attributes=attributes):
            tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"}
            _turn(client, tracer, tool)

    await _run(work)
    chat_spans = [s for s in otel_openai.spans() if s.name.startswith("chat")]
    assert chat_spans and all(
        s.attributes and "gen_ai.input.messages" in s.attributes for s in chat_spans
    )
    assert await export(collector, otel_openai.spans()) is SpanExportResult.SUCCESS
    detail = await collector.conversation("oai-1")
    _check_turn(detail, hex_id(otel_openai.by_name("invoke_agent shop")))
    assert detail["conversation"]["environment"] == "production"
    assert detail["conversation"]["metadata"] == {"service.name": "shop-bot"}
    status, metrics = await collector.call("GET", "/v1/metrics")
    assert status == 200, metrics
    totals = metrics["token_usage"]["totals"]
    assert (totals["prompt_tokens"], totals["embedding_tokens"]) == (200, 7)


async def test_openinference_openai_instrumentation(collector: Collector) -> None:
    """openinference-instrumentation-openai: llm.* attributes, the session from using_session."""
    from openinference.instrumentation import using_session
    from openinference.instrumentation.openai import OpenAIInstrumentor

    recorder = Recorder(**{"service.name": "shop-bot"})
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=recorder.provider)
    tracer = recorder.tracer()

    def work(client: openai.OpenAI) -> None:
        agent = {"openinference.span.kind": "AGENT", "session.id": "oi-1"}
        with (
            using_session("oi-1"),
            tracer.start_as_current_span("shop agent", attributes=agent),
        ):
            tool = {"openinference.span.kind": "TOOL", "tool.name": "lookup_order"}
            _turn(client, tracer, tool)

    try:
        await _run(work)
    finally:
        instrumentor.uninstrument()
    llm_spans = [s for s in recorder.spans() if (s.attributes or {}).get("llm.model_name")]
    assert llm_spans and all((s.attributes or {}).get("session.id") == "oi-1" for s in llm_spans)
    assert await export(collector, recorder.spans()) is SpanExportResult.SUCCESS
    detail = await collector.conversation("oi-1")
    _check_turn(detail, hex_id(recorder.by_name("shop agent")))
    inputs = json.dumps(detail["events"])
    assert "Be brief." not in inputs  # the history is not stored again with each call
