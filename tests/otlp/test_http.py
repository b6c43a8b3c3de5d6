"""POST /v1/traces by hand: OTLP/JSON, partial success, and every refusal in OTLP's form."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentsight.server import ServerOptions
from agentsight.server._options import RateLimit
from tests.server.access_helpers import add_key
from tests.server.collector_helpers import Collector, run_collector

from .otlp_json import JSON, PROTOBUF
from .otlp_json import openinference_llm as _openinference_llm
from .otlp_json import post as _post
from .otlp_json import protobuf as _protobuf
from .otlp_json import request as _request
from .otlp_json import span as _span
from .otlp_json import status as _status

pytestmark = pytest.mark.anyio


async def test_an_otlp_json_body_gzipped_is_stored(collector: Collector) -> None:
    """OTLP/JSON (hex ids, string int64s) with OpenInference's attributes, gzip, Api-Key."""
    body = gzip.compress(json.dumps(_request(_openinference_llm())).encode())
    status, headers, answer = await _post(collector, body, {**JSON, "Content-Encoding": "gzip"})
    assert status == 200, answer
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(answer) == {}  # full success: no partial_success
    detail = await collector.conversation("sess-json")
    assert detail["conversation"]["customer_id"] == "u-1"
    events = detail["events"]
    assert [(e["sender"], e["content"]) for e in events if e["type"] == "message"] == [
        ("end_user", "Hi there"),
        ("agent", "Hello! How can I help?"),
    ]
    (usage,) = (e for e in events if e["type"] == "token_usage")
    assert (usage["model"], usage["provider"]) == ("gpt-4o-mini", "openai")
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        12,
        5,
        17,
    )
    assert (usage["step_id"], usage["parent_id"], usage["duration_ms"]) == (
        "eee19b7ec3c1b174",
        None,
        250.0,
    )
    assert detail["conversation"]["cost"]["priced_calls"] == 1


async def test_bad_spans_are_rejected_alone_with_a_partial_success(collector: Collector) -> None:
    """A span with no start time, one with a conversation id too long: counted and named;
    the good span is stored.  Protobuf answers in protobuf."""
    good = _openinference_llm()
    no_start = _openinference_llm("00000000000000a1")
    no_start["startTimeUnixNano"] = "0"
    too_long = _openinference_llm("00000000000000a2", **{"session.id": "s" * 300})
    document = _request(good, no_start, too_long)
    status, _, answer = await _post(collector, json.dumps(document).encode(), JSON)
    assert status == 200, answer
    partial = json.loads(answer)["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert "startTimeUnixNano: required" in partial["errorMessage"]
    assert "conversation_id" in partial["errorMessage"]
    assert "00000000000000a2" in partial["errorMessage"]
    detail = await collector.conversation("sess-json")
    assert [e["step_id"] for e in detail["events"] if e["type"] == "token_usage"] == [
        "eee19b7ec3c1b174"
    ]

    message = ExportTraceServiceRequest()
    message.ParseFromString(_protobuf(document))
    status, headers, answer = await _post(collector, message.SerializeToString(), PROTOBUF)
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse()
    response.ParseFromString(answer)
    assert response.partial_success.rejected_spans == 2


@pytest.mark.parametrize(
    ("body", "headers", "expected", "words"),
    [
        (b"\xff\xff\xff\xff", PROTOBUF, 400, "protobuf"),
        (b"[]", JSON, 400, "JSON object"),
        (b"{not json", JSON, 400, "not valid JSON"),
        (b'{"resourceSpans": "no"}', JSON, 400, "OTLP/JSON"),
        (
            json.dumps(_request({**_span("a1", "x"), "traceId": "zz"})).encode(),
            JSON,
            400,
            "traceId",
        ),
        (b"{}", {"Content-Type": "text/plain"}, 415, "Content-Type"),
        (b"{}", {**JSON, "Content-Encoding": "br"}, 415, "Content-Encoding"),
        (gzip.compress(b"{}")[:-6], {**JSON, "Content-Encoding": "gzip"}, 400, "gzip"),
    ],
)
async def test_bad_bodies_are_refused_with_an_otlp_status(
    collector: Collector, body: bytes, headers: dict[str, str], expected: int, words: str
) -> None:
    """Each refusal: the right HTTP status, a google.rpc.Status in the request's encoding."""
    status, answer_headers, answer = await _post(collector, body, headers)
    assert status == expected, answer
    code, message = _status(answer_headers, answer)
    assert words in message and code != 0
    assert (await collector.listing())["conversations"] == []


async def test_keys_are_checked_as_for_batches(collector: Collector) -> None:
    """No key: 401 with a challenge; a read key: 403; both as a Status in protobuf."""
    body = _protobuf(_request(_openinference_llm()))
    status, headers, answer = await _post(collector, body, PROTOBUF, key=None)
    assert status == 401 and "WWW-Authenticate" in headers
    assert "Authorization" in _status(headers, answer)[1]
    reader = await add_key(collector.storage, "A", "read")
    status, headers, answer = await _post(collector, body, PROTOBUF, key=reader)
    assert status == 403, answer
    assert "scope" in _status(headers, answer)[1]
    status, _, answer = await _post(collector, body, PROTOBUF, key="B")
    assert status == 200, answer
    assert (await collector.listing("A"))["conversations"] == []
    assert [c["conversation_id"] for c in (await collector.listing("B"))["conversations"]] == [
        "sess-json"
    ]


async def test_size_span_count_and_rate_limits_apply(database_url: Path | str) -> None:
    """413 past the body limit and past max_events spans; 429 with Retry-After past the rate."""
    options = ServerOptions(max_body_bytes=4096, max_events=2, rate_limit=RateLimit(0.01, burst=2))
    async with run_collector(database_url, options) as collector:
        spans = [_openinference_llm(f"00000000000000b{i}") for i in range(3)]
        status, headers, answer = await _post(
            collector, json.dumps(_request(*spans)).encode(), JSON
        )
        assert status == 413, answer
        assert "more than 2" in _status(headers, answer)[1]
        status, headers, answer = await _post(collector, b"{" + b" " * 5000 + b"}", JSON)
        assert status == 413, answer
        status, headers, answer = await _post(collector, _protobuf(_request()), PROTOBUF)
        assert status == 429, answer
        assert int(headers["Retry-After"]) > 0
        assert _status(headers, answer)[0] == 8  # RESOURCE_EXHAUSTED


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, written by hand (what no well-behaved client sends)."""
    size, out = len(payload), bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([number << 3 | 2]) + bytes(out) + payload


def _deep_protobuf(depth: int) -> bytes:
    value = _field(1, b"x")  # AnyValue.string_value
    for _ in range(depth):
        value = _field(5, _field(1, value))  # AnyValue.array_value.values[0]
    attribute = _field(1, b"gen_ai.input.messages") + _field(2, value)
    span = _field(1, b"\x01" * 16) + _field(2, b"\x02" * 8) + _field(9, attribute)
    return _field(1, _field(2, _field(2, span)))


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (_deep_protobuf(500), PROTOBUF),
        (b'{"resourceSpans": [' * 5000 + b"]}" * 5000, JSON),
        (json.dumps(_request(_span("a1", "x"))).replace('"a1"', '"a"').encode(), JSON),
        (
            json.dumps(_request({**_span("a1", "x"), "startTimeUnixNano": "soon"})).encode(),
            JSON,
        ),
    ],
    ids=["deep-protobuf", "deep-json", "odd-hex", "time-not-a-number"],
)
async def test_hostile_bodies_get_a_400(
    collector: Collector, body: bytes, headers: dict[str, str]
) -> None:
    """Nesting past protobuf's limit, JSON nested thousands deep, half a hex byte, a time
    that is no number: a 400 naming the body, never a 500."""
    status, answer_headers, answer = await _post(collector, body, headers)
    assert status == 400, answer
    assert "body" in _status(answer_headers, answer)[1] or "spanId" in answer.decode()


async def test_long_content_is_cut_and_flagged(collector: Collector) -> None:
    """A model answer past max_content_chars is stored cut, with ``truncated``; odd attribute
    values (a huge id, a list where text was expected) do not refuse the span."""
    answer = "y" * (1024 * 1024 + 10)
    more: dict[str, Any] = {
        "llm.output_messages.0.message.content": answer,
        "llm.token_count.prompt": 10**12,
    }
    span = _openinference_llm(**more)
    span["attributes"].append(
        {"key": "llm.model_name", "value": {"arrayValue": {"values": [{"intValue": "1"}]}}}
    )
    status, _, body = await _post(
        collector,
        gzip.compress(json.dumps(_request(span)).encode()),
        {**JSON, "Content-Encoding": "gzip"},
    )
    assert status == 200, body
    events = (await collector.conversation("sess-json"))["events"]
    (reply,) = (e for e in events if e["type"] == "message" and e["sender"] == "agent")
    assert reply["truncated"] and len(reply["content"]) == 1024 * 1024
    (usage,) = (e for e in events if e["type"] == "token_usage")
    assert usage["prompt_tokens"] == 10**9  # the wire schema's largest count


async def test_a_deep_chain_of_spans_keeps_its_tree(collector: Collector) -> None:
    """3,000 model calls each the child of the previous (under skipped HTTP spans every
    other level): every step hangs from the previous call, all in one conversation."""
    spans = []
    for i in range(1, 6001):
        attributes = {"http.method": "GET"} if i % 2 == 0 else {"gen_ai.operation.name": "chat"}
        item = _span(f"{i:016x}", "step", **attributes)
        if i > 1:
            item["parentSpanId"] = f"{i - 1:016x}"
        spans.append(item)
    spans[0]["attributes"].append({"key": "session.id", "value": {"stringValue": "deep"}})
    body = gzip.compress(json.dumps(_request(*spans)).encode())
    status, _, answer = await _post(collector, body, {**JSON, "Content-Encoding": "gzip"})
    assert status == 200 and json.loads(answer) == {}, answer
    events = (await collector.conversation("deep"))["events"]
    calls = {e["step_id"]: e["parent_id"] for e in events if e["type"] == "token_usage"}
    assert len(calls) == 3000
    assert calls[f"{1:016x}"] is None
    assert all(calls[f"{i:016x}"] == f"{i - 2:016x}" for i in range(3, 6001, 2))


async def test_redaction_applies_to_spans(database_url: Path | str) -> None:
    """With ``--redact pii`` an e-mail address in a prompt, an answer or a tool's result is
    stored as ``[email]``, as from /v1/batch."""
    from agentsight.redact import pii

    async with run_collector(database_url, ServerOptions(redact=pii)) as collector:
        llm = _openinference_llm(
            **{
                "input.value": "Mail me at ann@example.com",
                "llm.output_messages.0.message.content": "Sent to ann@example.com.",
            }
        )
        tool = _span(
            "00000000000000f1",
            "lookup",
            **{
                "openinference.span.kind": "TOOL",
                "session.id": "sess-json",
                "output.value": "owner: ann@example.com",
            },
        )
        status, _, answer = await _post(collector, json.dumps(_request(llm, tool)).encode(), JSON)
        assert status == 200, answer
        text = json.dumps((await collector.conversation("sess-json"))["events"])
        assert "ann@example.com" not in text
        assert text.count("[email]") == 3
