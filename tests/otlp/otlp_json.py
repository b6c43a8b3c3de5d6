"""OTLP/JSON requests built by hand, posted to /v1/traces, and the collector's answers read."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.server.collector_helpers import Collector

TRACE = "5B8EFFF798038103D269B633813FC60C"  # upper case: OTLP/JSON's hex is case-insensitive
START = 1_796_460_072_000_000_000  # 2026-12-05T08:41:12Z, in nanoseconds
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def value(item: Any) -> dict[str, Any]:
    """An OTLP/JSON ``AnyValue`` (int64 as a string, as the JSON mapping writes it)."""
    if isinstance(item, bool):
        return {"boolValue": item}
    if isinstance(item, int):
        return {"intValue": str(item)}
    if isinstance(item, float):
        return {"doubleValue": item}
    return {"stringValue": item}


def span(span_id: str, name: str, **attributes: Any) -> dict[str, Any]:
    """A span of trace ``TRACE`` lasting 250 ms."""
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(START + 250_000_000),
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
        "status": {},
    }


def request(*spans: dict[str, Any], **resource: Any) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` of *spans* from one resource."""
    attributes = [{"key": k, "value": value(v)} for k, v in resource.items()]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes},
                "scopeSpans": [{"scope": {"name": "tests"}, "spans": list(spans)}],
            }
        ]
    }


def openinference_llm(span_id: str = "eee19b7ec3c1b174", **more: Any) -> dict[str, Any]:
    """A model call as OpenInference records it, in session ``sess-json``."""
    return span(
        span_id,
        "ChatCompletion",
        **{
            "openinference.span.kind": "LLM",
            "session.id": "sess-json",
            "user.id": "u-1",
            "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.token_count.prompt": 12,
            "llm.token_count.completion": 5,
            "llm.token_count.total": 17,
            "input.value": "Hi there",
            "input.mime_type": "text/plain",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Hello! How can I help?",
            **more,
        },
    )


async def post(
    collector: Collector,
    body: bytes,
    headers: dict[str, str],
    key: str | None = "A",
) -> tuple[int, dict[str, str], bytes]:
    """POST *body* to /v1/traces with *key* (a project's, or the key itself); status,
    headers and body of the answer."""
    auth = {} if key is None else {"Authorization": f"Api-Key {collector.keys.get(key, key)}"}
    async with collector.session.post(
        "/v1/traces", data=body, headers={**auth, **headers}
    ) as response:
        return response.status, dict(response.headers), await response.read()


def protobuf(document: dict[str, Any]) -> bytes:
    """*document* (OTLP/JSON) as protobuf, with the same hex-to-bytes rule as the collector."""
    copy = json.loads(json.dumps(document))
    for rs in copy["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for item in ss["spans"]:
                for name in ("traceId", "spanId"):
                    item[name] = base64.b64encode(bytes.fromhex(item[name])).decode()
    message = json_format.ParseDict(copy, ExportTraceServiceRequest())
    return bytes(message.SerializeToString())


def status(headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """The code and message of a refusal's ``google.rpc.Status``, protobuf or JSON."""
    if headers["Content-Type"] == "application/x-protobuf":
        found = Status()
        found.ParseFromString(body)
        return found.code, found.message
    document = json.loads(body)
    return document["code"], document["message"]
