"""The official ``openai`` client, traced by OpenTelemetry's OpenAI instrumentation,
with the spans sent to AgentSight.

``opentelemetry-instrumentation-openai-v2`` records every model call (model,
token counts, and with the variables below the messages) following the
OpenTelemetry GenAI conventions; the OTLP/HTTP exporter sends the spans to
the collector's ``/v1/traces``.  The application only names the
conversation: in the context's baggage, which a small span processor copies
onto every span as ``gen_ai.conversation.id``.  (A model call's span ends,
and may be exported, before its turn's: the collector groups a span by its
own attribute, or by an ancestor's sent in the same request.)

    python examples/otlp_openai.py --demo   # a loopback stand-in for the OpenAI API
    python examples/otlp_openai.py          # OpenAI itself, with OPENAI_API_KEY set

Needs ``openai``, ``opentelemetry-sdk``, ``opentelemetry-exporter-otlp-proto-http``
and ``opentelemetry-instrumentation-openai-v2`` (in the development tools).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The latest GenAI conventions, with the messages on the spans: set before instrumenting.
os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")

import openai
from opentelemetry import baggage, context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

QUESTIONS = {
    "otlp-openai-1": "What are your opening hours?",
    "otlp-openai-2": "Do you ship to Norway?",
}


CONVERSATION = "gen_ai.conversation.id"


class ConversationFromBaggage(SpanProcessor):
    """Puts the conversation id of the context's baggage on every span started in it."""

    def on_start(self, span: Span, parent_context: context.Context | None = None) -> None:
        conversation_id = baggage.get_baggage(CONVERSATION, parent_context)
        if isinstance(conversation_id, str):
            span.set_attribute(CONVERSATION, conversation_id)


class StandIn(BaseHTTPRequestHandler):
    """Answers ``POST /v1/chat/completions`` as OpenAI would, from a canned text."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        question = body["messages"][-1]["content"]
        answer = {
            "id": "chatcmpl-demo",
            "object": "chat.completion",
            "created": 1_796_460_072,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"About {question!r}: yes."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def stand_in() -> Iterator[str]:
    """The stand-in on a free loopback port, on a thread; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def run(client: openai.OpenAI, provider: TracerProvider) -> None:
    tracer = provider.get_tracer("examples.otlp_openai")
    for conversation_id, question in QUESTIONS.items():
        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "faq-bot"}
        token = context.attach(baggage.set_baggage(CONVERSATION, conversation_id))
        try:
            with tracer.start_as_current_span("invoke_agent faq-bot", attributes=attributes):
                response = client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
                )
        finally:
            context.detach(token)
        print(f"{conversation_id}: {question!r} -> {response.choices[0].message.content!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="use a loopback stand-in for OpenAI")
    demo = parser.parse_args().demo
    endpoint = os.environ.get("AGENTSIGHT_API_ENDPOINT", "http://127.0.0.1:8787").rstrip("/")
    exporter = OTLPSpanExporter(
        endpoint=f"{endpoint}/v1/traces",
        headers={"Authorization": f"Bearer {os.environ['AGENTSIGHT_API_KEY']}"},
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "faq-bot"}))
    provider.add_span_processor(ConversationFromBaggage())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=provider)
    try:
        with contextlib.ExitStack() as stack:
            base_url = stack.enter_context(stand_in()) if demo else None
            key = "sk-demo" if demo else os.environ["OPENAI_API_KEY"]
            client = stack.enter_context(openai.OpenAI(base_url=base_url, api_key=key))
            run(client, provider)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    print(f"exported to {endpoint}/v1/traces")


if __name__ == "__main__":
    main()
