"""OTLP/HTTP bodies and answers: protobuf or JSON, as the specification has them.

Requests are ``ExportTraceServiceRequest`` messages, decoded by
``opentelemetry-proto``.  OTLP/JSON is protobuf's JSON mapping with two
changes: trace and span ids are hex strings (not base64), and enums are
integers.  The ids are turned into base64 before protobuf's own JSON parser
reads the body, so both encodings end up as the same message.

Answers use the request's encoding: ``ExportTraceServiceResponse`` (with
``partial_success`` when spans were rejected), or for a refusal a
``google.rpc.Status`` carrying the message.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .._http._body import check_values, parse_json
from .._http._errors import ApiError

__all__ = [
    "JSON",
    "PROTOBUF",
    "decode_request",
    "encode_response",
    "encode_status",
    "media_type",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
#: google.rpc.Code for each HTTP status (the specification leaves the code optional).
_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 408: 4, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


def media_type(content_type: str) -> str | None:
    """``PROTOBUF`` or ``JSON`` for a ``Content-Type`` header, ``None`` for anything else."""
    kind = content_type.partition(";")[0].strip().lower()
    return kind if kind in (PROTOBUF, JSON) else None


def decode_request(raw: bytes, kind: str, max_json_values: int) -> tuple[Any, bool]:
    """The ``ExportTraceServiceRequest`` in *raw*, and whether it may hold a lone surrogate.

    Raises:
        ApiError: 400 for a body that is not such a message; 413 for a JSON
            body of more than *max_json_values* values.
    """
    request = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(raw)
        except (DecodeError, RecursionError) as exc:
            raise ApiError(400, f"body: not a protobuf ExportTraceServiceRequest ({exc})") from exc
        return request, False
    check_values(raw, max_json_values)
    document, suspect = parse_json(raw)
    if type(document) is not dict:
        raise ApiError(400, "body: expected a JSON object (an ExportTraceServiceRequest)")
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
        message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        wrong = f"body: not an OTLP/JSON ExportTraceServiceRequest ({message})"
        raise ApiError(400, wrong) from exc
    return request, suspect


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """Rewrite OTLP/JSON's hex ids in place into the base64 that protobuf's mapping reads."""
    for r, resource_spans in enumerate(_items(document, "resourceSpans")):
        for s, scope_spans in enumerate(_items(resource_spans, "scopeSpans")):
            for n, span in enumerate(_items(scope_spans, "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                _convert_ids(span, where)
                for k, link in enumerate(_items(span, "links")):
                    _convert_ids(link, f"{where}.links[{k}]")


def _items(parent: Any, name: str) -> list[Any]:
    value = parent.get(name) if type(parent) is dict else None
    return value if type(value) is list else []


def _convert_ids(holder: Any, where: str) -> None:
    if type(holder) is not dict:
        return
    for name in _ID_FIELDS:
        value = holder.get(name)
        if value is None or value == "":
            continue
        if type(value) is not str:
            raise ApiError(400, f"{where}.{name}: expected a hex string")
        try:
            holder[name] = base64.b64encode(binascii.unhexlify(value)).decode("ascii")
        except (binascii.Error, ValueError) as exc:
            raise ApiError(400, f"{where}.{name}: expected hex digits, got {value[:40]!r}") from exc


def encode_response(kind: str, rejected: int, message: str) -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` only when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if kind == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode("utf-8")


def encode_status(kind: str, status: int, message: str) -> bytes:
    """A ``google.rpc.Status`` for a refusal with HTTP *status*."""
    code = _CODES.get(status, 2)  # 2: UNKNOWN
    if kind == JSON:
        return json.dumps({"code": code, "message": message}).encode("utf-8")
    # Status is {int32 code = 1; string message = 2; repeated Any details = 3}:
    # two fields, written by hand rather than shipping googleapis' protos.
    text = message.encode("utf-8", "replace")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
