"""What the official SDKs' routes share: their errors, patience, ids, coercions, storing.

Errors are ``{"detail": "..."}`` as the official API words them.  The SDK
0.0.44 never retries a 4xx or a 5xx (the item is lost), so its routes wait
for the rate limit and for a busy database (up to ``PATIENCE`` seconds, less
than its 15 s timeout) rather than answer 429 or 503 at once.  Event ids are
derived from what the SDKs resend byte for byte, so a resend is a duplicate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from ... import _wire as wire
from .._http._access import Caller, Need, authorize
from .._http._errors import ApiError, json_response
from .._ingest import _fields as f
from .._ingest._prices import price
from .._state import GEO, OPTIONS, PRICES, REDACTOR, STORAGE, VALIDATOR
from ..storage import NewEvent, StorageUnavailable, WriteResult

__all__ = [
    "NUMBER_DIGITS",
    "PATIENCE",
    "Handler",
    "compat_route",
    "detail",
    "event_id",
    "flat_object",
    "number_of",
    "short",
    "store",
    "text",
    "utc_text",
]

log = logging.getLogger("agentsight.server")
T = TypeVar("T")
Handler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]

#: Seconds a 0.0.44 route waits for the rate limit or a busy database.
PATIENCE = 10.0
#: Hex digits of an event id that make its integer number (60 bits: a BIGINT, and
#: about one collision in 10^5 among ten million messages of a project).
NUMBER_DIGITS = 15


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error as the official API answers it."""
    return json_response({"detail": message}, status=status, headers=headers)


def compat_route(handler: Handler, need: Need, *, patient: bool) -> Callable[..., Any]:
    """*handler* behind ``authorize`` (as on ``/v1``), its errors as ``{"detail"}``.

    A *patient* route (0.0.44's) waits up to ``PATIENCE`` seconds for the
    key's rate limit instead of answering 429 at once.
    """

    @functools.wraps(handler)
    async def route(request: web.Request) -> web.StreamResponse:
        try:
            caller = await _authorize(request, need, patient)
            return await handler(request, caller)
        except ApiError as exc:
            return detail(exc.status, exc.message, exc.headers)
        except StorageUnavailable as exc:
            log.warning("%s %s: storage unavailable: %s", request.method, request.path, exc)
            retry = str(request.app[OPTIONS].retry_after)
            return detail(503, "storage unavailable: retry later", {"Retry-After": retry})

    return route


async def _authorize(request: web.Request, need: Need, patient: bool) -> Caller:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while True:
        try:
            return await authorize(request, need, "required")
        except ApiError as exc:
            left = deadline - loop.time()
            if not patient or exc.status != 429 or left <= 0:
                raise
            # Retry-After is whole seconds: ask again sooner, the bucket refills steadily.
            await asyncio.sleep(min(0.25, float(exc.headers.get("Retry-After", 1)), left))


async def patiently(request: web.Request, job: Callable[[], Awaitable[T]]) -> T:
    """``job()``, tried again while the database is busy, up to ``PATIENCE`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    delay = 0.05
    while True:
        try:
            return await job()
        except StorageUnavailable:
            if loop.time() + delay > deadline:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def event_id(*parts: Any) -> str:
    """A deterministic event id (32 hex digits) from what the SDK resends unchanged."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def number_of(event: str) -> int:
    """The integer number of an event (the official API's message ids): its id's prefix."""
    return int(event[:NUMBER_DIGITS], 16)


def prefix_of(number: int) -> str | None:
    """The id prefix of a number; ``None`` when no event can have it."""
    if not 0 <= number < 16**NUMBER_DIGITS:
        return None
    return f"{number:0{NUMBER_DIGITS}x}"


def text(value: Any, limit: int) -> str | None:
    """A text field as the official SDKs send it: any value, cut to *limit*."""
    if value is None:
        return None
    found = value if isinstance(value, str) else str(value)
    return found[:limit]


def short(value: Any) -> str | None:
    """An id, source, language...: cut to ``wire.SHORT``; empty is absent."""
    return text(value, wire.SHORT) or None


def flat_object(value: Any) -> dict[str, Any] | None:
    """Metadata: an object, or a JSON text of one (0.1.4, multipart); ``{}`` is absent."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"value": value}
    if isinstance(value, dict):
        return value or None
    return None if value is None else {"value": value}


def utc_text(value: Any) -> str | None:
    """A time as RFC 3339 UTC text; naive ones are taken as UTC, unreadable ones dropped."""
    if not isinstance(value, str) or not value or len(value) > wire.MAX_TIMESTAMP_CHARS:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return str(when.astimezone(dt.timezone.utc).isoformat()).replace("+00:00", "Z")


def now_text() -> str:
    """The current time as RFC 3339 UTC text."""
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def check(request: web.Request, raw: dict[str, Any]) -> NewEvent:
    """A wire event as ``/v1/batch`` checks it: validation, geo, redaction.

    Raises:
        ApiError: 400 naming the first bad field.
    """
    app = request.app
    try:
        event = app[VALIDATOR].check_event(raw)
        for name, value in (("conversation_id", event.conversation_id), *event.payload.items()):
            if not f.storable(value):
                raise f.Invalid(f"{name}: contains a lone surrogate (invalid Unicode)")
    except f.Invalid as exc:
        raise ApiError(400, str(exc)) from exc
    if event.type in ("conversation", "interaction"):
        event.country = app[GEO].country(event.payload["customer_ip_address"])
        if not app[OPTIONS].store_raw_ip:
            event.payload["customer_ip_address"] = None
    elif event.type == "token_usage":
        event.cost_nanos = price(app[PRICES], event)
    redactor = app.get(REDACTOR)
    if redactor is not None:
        redactor.payload(event.type, event.payload)
    return event


async def store(request: web.Request, caller: Caller, events: Sequence[NewEvent]) -> WriteResult:
    """Write checked *events* in one transaction, waiting out a busy database."""
    storage = request.app[STORAGE]
    project = caller.project
    return await patiently(request, lambda: storage.write_batch(project, events))


async def store_one(request: web.Request, caller: Caller, raw: dict[str, Any]) -> NewEvent:
    """Check and store one wire event (a resend is a duplicate); the event stored."""
    event = check(request, raw)
    await store(request, caller, [event])
    return event
