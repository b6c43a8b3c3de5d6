"""``POST /v1/traces``: OpenTelemetry traces (OTLP/HTTP), stored as AgentSight events.

The same key scope, rate limit and body limits as ``/v1/batch``; the spans
are mapped onto events (``_otlp``), which then go the batch's way:
validation, redaction, pricing, one transaction.  The answer follows
OTLP/HTTP: an ``ExportTraceServiceResponse`` in the request's encoding, with
``partial_success`` counting the spans rejected, and a ``google.rpc.Status``
for a refusal (``otlp_refusals``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from aiohttp import web

from ..._redact import Redactor
from .._http._access import Caller
from .._http._body import OFFLOAD_BYTES, BodyTimeout, read_body
from .._http._errors import ApiError
from .._ingest import _fields as f
from .._ingest._prices import Prices, price
from .._ingest._validate import Validator
from .._options import ServerOptions
from .._otlp import JSON, Limits, decode_request, encode_response, encode_status, map_request
from .._otlp import media_type as otlp_media_type
from .._state import OPTIONS, PRICES, REDACTOR, STORAGE, VALIDATOR
from ..storage import NewEvent, StorageUnavailable

__all__ = ["otlp_refusals", "post_traces"]

log = logging.getLogger("agentsight.server")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_MAX_ERRORS = 5  # span errors quoted in a partial success's message


@attrs.frozen
class _Outcome:
    events: list[NewEvent]
    rejected: int
    message: str


def _spans_in(message: Any) -> int:
    return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)


def _check(
    raw: bytes,
    kind: str,
    validator: Validator,
    options: ServerOptions,
    redactor: Redactor | None,
    prices: Prices,
) -> _Outcome:
    message, suspect = decode_request(raw, kind, options.max_json_values)
    if _spans_in(message) > options.max_events:
        raise ApiError(413, f"spans: more than {options.max_events} in one request")
    mapped = map_request(message, Limits(options.max_content_chars))
    events: list[NewEvent] = []
    seen: set[str] = set()
    errors: list[str] = []
    for group in mapped.groups:
        try:
            if group.error is not None:
                raise f.Invalid(group.error)
            checked = [validator.check_fields(event) for event in group.events]
            if suspect and not all(f.storable(e.payload) for e in checked):
                raise f.Invalid("contains a lone surrogate (invalid Unicode)")
        except f.Invalid as exc:
            if group.span is not None:  # a conversation's own event: its spans say why
                errors.append(f"span {group.span}: {exc}")
            continue
        for event in checked:
            if event.id in seen:
                continue
            seen.add(event.id)
            if event.type == "token_usage":
                event.cost_nanos = price(prices, event)
            if redactor is not None:
                redactor.payload(event.type, event.payload)
            events.append(event)
    text = ""
    if errors:
        shown = "; ".join(errors[:_MAX_ERRORS])
        more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
        text = f"{len(errors)} of {mapped.spans} spans rejected: {shown}{more}"
    return _Outcome(events, len(errors), text)


async def post_traces(request: web.Request, caller: Caller) -> web.Response:
    """Map, validate and store the spans of an OTLP/HTTP request; answer after the commit."""
    kind = otlp_media_type(request.headers.get("Content-Type", ""))
    if kind is None:
        raise ApiError(415, "Content-Type: expected application/x-protobuf or application/json")
    app = request.app
    options = app[OPTIONS]
    raw = await read_body(request, options)
    args = (raw, kind, app[VALIDATOR], options, app.get(REDACTOR), app[PRICES])
    if len(raw) > OFFLOAD_BYTES:
        outcome = await asyncio.to_thread(_check, *args)
    else:
        outcome = _check(*args)
    if outcome.events:
        await app[STORAGE].write_batch(caller.project, outcome.events)
    body = encode_response(kind, outcome.rejected, outcome.message)
    return web.Response(body=body, content_type=kind)


def otlp_refusals(handler: _Handler) -> _Handler:
    """*handler*, with its refusals (authentication, rate limit, bad body, storage down)
    answered as OTLP wants them: a ``google.rpc.Status`` in the request's encoding."""

    @functools.wraps(handler)
    async def answering(request: web.Request) -> web.StreamResponse:
        kind = otlp_media_type(request.headers.get("Content-Type", "")) or JSON
        try:
            return await handler(request)
        except BodyTimeout:
            raise  # answered by its middleware, which also closes the connection
        except ApiError as exc:
            return _refusal(kind, exc.status, exc.message, exc.headers)
        except StorageUnavailable as exc:
            log.warning("%s %s: storage unavailable: %s", request.method, request.path, exc)
            retry = {"Retry-After": str(request.app[OPTIONS].retry_after)}
            return _refusal(kind, 503, "storage unavailable: retry later", retry)

    return answering


def _refusal(kind: str, status: int, message: str, headers: dict[str, str]) -> web.Response:
    body = encode_status(kind, status, message)
    return web.Response(status=status, body=body, content_type=kind, headers=headers)
