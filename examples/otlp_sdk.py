"""An agent already traced with OpenTelemetry, sending its spans to AgentSight.

No AgentSight SDK here: the OpenTelemetry SDK and its OTLP/HTTP exporter
send the spans to the collector's ``/v1/traces``, with the project's key in
the ``Authorization`` header.  The spans follow the OpenTelemetry GenAI
semantic conventions: an ``invoke_agent`` span per turn naming the
customer (``user.id``), ``chat`` spans with the model, the token counts and
the messages, and an ``execute_tool`` span per tool call, each naming the
conversation (``gen_ai.conversation.id``).  The collector turns them into a
conversation with its messages, its steps, tokens and cost.

    python examples/otlp_sdk.py

Needs ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http``
(in the development tools).  Any exporter configured with the standard
variables works the same way::

    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:8787/v1/traces
    OTEL_EXPORTER_OTLP_TRACES_HEADERS="Authorization=Bearer%20ags_..."
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer

CHATS = {
    "otlp-chat-1": ("cust-501", "Where is my order 1234?", "It left our warehouse today."),
    "otlp-chat-2": ("cust-502", "Can I change my address?", "Yes, until the order ships."),
}


class Counting(SpanExporter):
    """The OTLP exporter, counting what it delivered (for the summary line)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.sent = self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()


def messages(*items: tuple[str, str]) -> str:
    """Messages as ``gen_ai.input.messages``/``gen_ai.output.messages`` hold them (JSON)."""
    return json.dumps(
        [{"role": role, "parts": [{"type": "text", "content": text}]} for role, text in items]
    )


def chat(tracer: Tracer, conversation_id: str, question: str, answer: str) -> None:
    """One model call, as an instrumentation library would trace it."""
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        time.sleep(0.02)  # the model thinking
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.conversation.id": conversation_id,
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 420,
                "gen_ai.usage.output_tokens": 35,
                "gen_ai.input.messages": messages(("system", "Be brief."), ("user", question)),
                "gen_ai.output.messages": messages(("assistant", answer)),
            }
        )


def turn(tracer: Tracer, conversation_id: str, customer: str, question: str, answer: str) -> None:
    """One turn of the agent: a tool call, then the model's answer."""
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "shop-assistant",
        "gen_ai.conversation.id": conversation_id,
        "user.id": customer,
    }
    with tracer.start_as_current_span("invoke_agent shop-assistant", attributes=attributes):
        with tracer.start_as_current_span("execute_tool order_lookup") as tool:
            time.sleep(0.01)
            tool.set_attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.conversation.id": conversation_id,
                    "gen_ai.tool.name": "order_lookup",
                    "gen_ai.tool.call.result": "status: shipped",
                }
            )
        chat(tracer, conversation_id, question, answer)


def main() -> None:
    endpoint = os.environ.get("AGENTSIGHT_API_ENDPOINT", "http://127.0.0.1:8787").rstrip("/")
    key = os.environ["AGENTSIGHT_API_KEY"]
    exporter = Counting(
        OTLPSpanExporter(
            endpoint=f"{endpoint}/v1/traces", headers={"Authorization": f"Bearer {key}"}
        )
    )
    resource = Resource.create(
        {"service.name": "otlp-example", "deployment.environment.name": "development"}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("examples.otlp_sdk")
    for conversation_id, (customer, question, answer) in CHATS.items():
        turn(tracer, conversation_id, customer, question, answer)
        print(f"{conversation_id}: {question!r} -> {answer!r}")
    provider.shutdown()  # exports what is left
    print(f"exported: spans={exporter.sent} failed={exporter.failed}")


if __name__ == "__main__":
    main()
