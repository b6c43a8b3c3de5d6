"""OpenTelemetry: ``BatchSpanProcessor`` + OTLP/HTTP exporter, one span per message.

Defaults: a 2,048-span queue that drops when full, batches of 512, protobuf
without compression to ``/v1/traces``.  The message and the (flattened)
metadata are span attributes, given at ``start_span`` (the cheapest way).
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from workload import MESSAGE, METADATA, SyncAdapter

_ATTRIBUTES = {"message.content": MESSAGE, **{f"metadata.{k}": v for k, v in METADATA.items()}}


class OtelAdapter(SyncAdapter):
    def __init__(self, endpoint: str, key: str) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
        exporter = OTLPSpanExporter(
            endpoint=f"{endpoint}/v1/traces", headers={"Authorization": f"Bearer {key}"}
        )
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("bench")

    def track(self, cid: str) -> object:
        span = self.tracer.start_span(
            "user_message", attributes={"conversation.id": cid, **_ATTRIBUTES}
        )
        span.end()
        return span

    def flush(self) -> None:
        self.provider.force_flush()

    def stop(self) -> None:
        self.provider.shutdown()


def make(endpoint: str, key: str) -> OtelAdapter:
    return OtelAdapter(endpoint, key)
