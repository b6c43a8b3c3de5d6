"""POST /v1/traces with the real OpenTelemetry SDK and OTLP/HTTP exporter (protobuf, gzip)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from genai_prices import Usage, calc_price
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.server.collector_helpers import Collector

from .helpers import Recorder, agent_turn, export, hex_id

pytestmark = pytest.mark.anyio


def _of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def _expected_usd(*calls: tuple[int, int]) -> Decimal:
    total = Decimal(0)
    for prompt, completion in calls:
        usage = Usage(input_tokens=prompt, output_tokens=completion, cache_read_tokens=40)
        total += calc_price(
            usage, model_ref="gpt-4o-mini-2024-07-18", provider_id="openai"
        ).total_price
    return total


async def test_an_agent_turn_reads_back_with_its_steps_model_tokens_and_cost(
    collector: Collector,
) -> None:
    """The exporter's spans become one conversation: the user's question, the answer,
    a tree of steps (agent, two model calls, two tools), model, tokens and cost."""
    recorder = Recorder(**{"service.name": "shop-bot", "deployment.environment.name": "staging"})
    agent_turn(recorder.tracer())
    assert await export(collector, recorder.spans()) is SpanExportResult.SUCCESS

    detail = await collector.conversation("chat-1")
    conv, events = detail["conversation"], detail["events"]
    assert (conv["customer_id"], conv["source"], conv["environment"]) == (
        "cust-9",
        "opentelemetry",
        "development",
    )
    messages = [(e["sender"], e["content"]) for e in _of(events, "message")]
    assert messages == [
        ("end_user", "Where is my order 42?"),
        ("agent", "Your order has shipped."),
    ]
    agent = recorder.by_name("invoke_agent support")
    calls = _of(events, "token_usage")
    assert [(c["prompt_tokens"], c["completion_tokens"], c["total_tokens"]) for c in calls] == [
        (100, 20, 120),
        (150, 10, 160),
    ]
    for call in calls:
        assert (call["model"], call["provider"]) == ("gpt-4o-mini-2024-07-18", "openai")
        assert call["cached_input_tokens"] == 40
        assert call["parent_id"] == hex_id(agent)
        assert len(call["step_id"]) == 16 and call["duration_ms"] >= 0
        assert call["started_at"] is not None
    actions = {a["action_name"]: a for a in _of(events, "action")}
    assert set(actions) == {"support", "lookup_order", "refund"}
    assert actions["support"]["step_id"] == hex_id(agent)
    assert actions["support"]["parent_id"] is None
    tool = actions["lookup_order"]
    # Its parent span is a plain HTTP span, skipped: the step hangs from the agent.
    assert tool["parent_id"] == hex_id(agent)
    assert tool["step_id"] == hex_id(recorder.by_name("execute_tool lookup_order"))
    assert (tool["response"], tool["error_msg"]) == ("shipped", None)
    assert tool["metadata"]["tool_call_id"] == "call_1"
    assert tool["metadata"]["arguments"] == '{"order": 42}'
    assert actions["refund"]["error_msg"] == "refunds are closed"
    http = hex_id(recorder.by_name("GET /orders/42"))
    assert all(e.get("step_id") != http for e in events)

    assert conv["token_usage"]["prompt_tokens"] == 250
    assert conv["cost"]["priced_calls"] == 2 and conv["cost"]["unpriced_calls"] == 0
    assert Decimal(str(conv["cost"]["usd"])) == pytest.approx(_expected_usd((100, 20), (150, 10)))

    status, metrics = await collector.call("GET", "/v1/metrics")
    assert status == 200, metrics
    assert metrics["token_usage"]["totals"]["prompt_tokens"] == 250
    tools = {t["action_name"]: t for t in metrics["tools"]}
    assert tools["refund"]["errors"] == 1
    (model,) = metrics["cost"]["by_model"]
    assert (model["model"], model["provider"], model["calls"]) == (
        "gpt-4o-mini-2024-07-18",
        "openai",
        2,
    )
    assert metrics["cost"]["usd"] == conv["cost"]["usd"]
    (customer,) = metrics["cost"]["top_customers"]
    assert customer["customer_id"] == "cust-9"


async def test_a_resend_is_counted_as_duplicates(collector: Collector) -> None:
    """The same spans sent again (uncompressed this time) store nothing new."""
    recorder = Recorder()
    agent_turn(recorder.tracer())
    assert await export(collector, recorder.spans()) is SpanExportResult.SUCCESS
    before = await collector.conversation("chat-1")
    result = await export(collector, recorder.spans(), compression=Compression.NoCompression)
    assert result is SpanExportResult.SUCCESS
    after = await collector.conversation("chat-1")
    assert after["events"] == before["events"]
    assert after["conversation"]["token_usage"] == before["conversation"]["token_usage"]
    assert after["conversation"]["cost"] == before["conversation"]["cost"]


async def test_spans_without_a_conversation_group_by_trace(collector: Collector) -> None:
    """With no gen_ai.conversation.id nor session.id, each trace is a conversation."""
    recorder = Recorder()
    agent_turn(recorder.tracer(), conversation_id=None)
    agent_turn(recorder.tracer(), conversation_id=None)
    assert await export(collector, recorder.spans()) is SpanExportResult.SUCCESS
    traces = {hex_id(s, "trace") for s in recorder.spans()}
    assert len(traces) == 2
    for trace in traces:
        detail = await collector.conversation(trace)
        assert len(_of(detail["events"], "token_usage")) == 2
    listing = await collector.listing()
    assert {c["conversation_id"] for c in listing["conversations"]} == traces


async def test_session_id_on_the_resource_names_the_conversation(collector: Collector) -> None:
    """OpenInference's session.id, here on the resource, groups every trace of it."""
    recorder = Recorder(**{"session.id": "sess-7"})
    agent_turn(recorder.tracer(), conversation_id=None)
    agent_turn(recorder.tracer(), conversation_id=None)
    assert await export(collector, recorder.spans()) is SpanExportResult.SUCCESS
    detail = await collector.conversation("sess-7")
    assert len(_of(detail["events"], "token_usage")) == 4
    assert detail["conversation"]["environment"] == "production"


async def test_plain_spans_are_skipped_without_error(collector: Collector) -> None:
    """HTTP and database spans carry no GenAI data: accepted, and nothing is stored."""
    recorder = Recorder()
    tracer = recorder.tracer()
    with (
        tracer.start_as_current_span("GET /", attributes={"http.method": "GET"}),
        tracer.start_as_current_span("SELECT", attributes={"db.system": "sqlite"}),
    ):
        pass
    assert await export(collector, recorder.spans()) is SpanExportResult.SUCCESS
    assert (await collector.listing())["conversations"] == []


async def test_a_wrong_key_is_refused_and_the_exporter_reports_failure(
    collector: Collector,
) -> None:
    """An unknown key: 401, nothing stored; the exporter says FAILURE (and does not retry)."""
    recorder = Recorder()
    agent_turn(recorder.tracer())
    key = collector.keys["A"][:-1] + ("0" if collector.keys["A"][-1] != "0" else "1")
    assert await export(collector, recorder.spans(), key=key) is SpanExportResult.FAILURE
    assert (await collector.listing())["conversations"] == []


async def test_the_standard_exporter_variables_as_documented(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_ENDPOINT and _HEADERS (the key percent-encoded), as
    docs/opentelemetry.md has them, with an exporter built from the environment alone."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{collector.keys['A']}"
    )
    recorder = Recorder()
    agent_turn(recorder.tracer())
    exporter = OTLPSpanExporter()
    try:
        result = await anyio.to_thread.run_sync(exporter.export, recorder.spans())
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    assert result is SpanExportResult.SUCCESS
    assert len((await collector.conversation("chat-1"))["events"]) == 8
