"""``POST /v1/batch``: the SDK's batches."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from ..._redact import Redactor
from .._http._access import Caller
from .._http._body import OFFLOAD_BYTES, check_values, read_body
from .._http._errors import ApiError, json_response
from .._http._split import parse_batch
from .._ingest._files import split_files
from .._ingest._geo import GeoResolver
from .._ingest._prices import Prices, price
from .._ingest._validate import BatchRefused, Checked, Validator
from .._options import ServerOptions
from .._state import GEO, OPTIONS, PRICES, REDACTOR, STORAGE, VALIDATOR

__all__ = ["post_batch"]

log = logging.getLogger("agentsight.server")
# With --redact, smaller bodies go to the worker thread too: pii takes up to
# ~0.6 us per character of a text built to be slow (benchmarks/redact.py), so
# what stays on the loop holds it for ~20 ms at worst.
_REDACT_OFFLOAD_BYTES = 32 * 1024


def _check(
    raw: bytes,
    validator: Validator,
    geo: GeoResolver,
    options: ServerOptions,
    redactor: Redactor | None,
    prices: Prices,
) -> tuple[Checked, dict[str, list[bytes]]]:
    values = check_values(raw, options.max_json_values)
    body, suspect = parse_batch(raw, values, options.max_events)
    try:
        checked = validator.check_batch(body, unicode_suspect=suspect)
    except BatchRefused as exc:
        raise ApiError(exc.status, str(exc)) from exc
    files: dict[str, list[bytes]] = {}
    for event in checked.events:
        if event.type == "attachment" and (contents := split_files(event)) is not None:
            files[event.id] = contents  # before redaction: bytes are kept as sent
        if event.type in ("conversation", "interaction"):
            event.country = geo.country(event.payload["customer_ip_address"])
            if not options.store_raw_ip:
                event.payload["customer_ip_address"] = None
        elif event.type == "token_usage":
            event.cost_nanos = price(prices, event)
        if redactor is not None:  # after validation, before storage
            redactor.payload(event.type, event.payload)
    return checked, files


async def post_batch(request: web.Request, caller: Caller) -> web.Response:
    """Validate and store a batch; answer only after the commit."""
    project_id = caller.project
    app = request.app
    options = app[OPTIONS]
    raw = await read_body(request, options)
    # Big bodies are counted, parsed and validated on a worker thread, so that
    # one large batch does not hold up every other request on the event loop.
    redactor = app.get(REDACTOR)
    args: tuple[Any, ...] = (raw, app[VALIDATOR], app[GEO], options, redactor, app[PRICES])
    if len(raw) > (OFFLOAD_BYTES if redactor is None else _REDACT_OFFLOAD_BYTES):
        checked, files = await asyncio.to_thread(_check, *args)
    else:
        checked, files = _check(*args)
    storage = app[STORAGE]
    result = await storage.write_batch(project_id, checked.events)
    for event in checked.events:  # the files of attachment events, beside them
        if event.id in files:
            # Not kept (False) when the event is no longer stored: its conversation was
            # deleted since the commit, or the id is another event's (a duplicate).  The
            # answer stays: the event was accepted, as if the deletion came just after.
            await storage.put_files(project_id, event.conversation_id, event.id, files[event.id])
    answer = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": checked.rejected,
    }
    return json_response(answer)
