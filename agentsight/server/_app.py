"""``create_app``: the collector as an aiohttp application."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .._redact import Redactor
from ._http._body import body_timeout_middleware
from ._http._clientip import client_address_middleware
from ._http._errors import add_nosniff, error_middleware
from ._http._inflight import InFlight, in_flight_middleware
from ._http._ratelimit import KNOWN_KEYS, RATE_LIMITER, KnownKeys, RateLimiter
from ._ingest._geo import GeoResolver
from ._ingest._prices import load_prices
from ._ingest._validate import Validator
from ._options import ServerOptions
from ._retention import RETENTION, Retention, run_retention
from ._state import GEO, IN_FLIGHT, OPTIONS, PRICES, REDACTOR, STORAGE, VALIDATOR
from ._usage import USAGE, Usage, run_usage
from ._views import add_routes
from ._views._session import LOGINS, Logins
from .storage import Storage

__all__ = ["create_app"]


def create_app(storage: Storage, *, options: ServerOptions | None = None) -> web.Application:
    """The collector application over *storage*.

    The application owns *storage* from here on: it is closed when the
    application is cleaned up (after the requests in flight have finished).
    While it runs, it deletes what is past its project's retention period
    (``_retention``) and writes when keys and sessions were last used
    (``_usage``), in the background.
    Run it with ``web.AppRunner(app, auto_decompress=False)`` so that gzip
    bodies are inflated by the collector within its limits (see ``_body``),
    and ``keepalive_timeout=options.idle_timeout`` so that slow request
    headers are cut off too (``agentsight serve`` does both).

    Args:
        storage: where batches go and queries read from (see ``open_storage``).
        options: limits and settings; the defaults of ``ServerOptions`` otherwise.
    """
    options = options or ServerOptions()
    in_flight = InFlight()
    middlewares = [
        in_flight_middleware(in_flight),
        error_middleware,
        client_address_middleware(options.trusted_proxies),  # request.remote from here on
        body_timeout_middleware,
    ]
    # Bodies are read in chunks under our own limits (see _http/_body.py); client_max_size
    # only bounds aiohttp's own helpers should anything call them.
    app = web.Application(middlewares=middlewares, client_max_size=options.max_body_bytes)
    app[IN_FLIGHT] = in_flight
    app[STORAGE] = storage
    app[OPTIONS] = options
    app[GEO] = GeoResolver()
    app[VALIDATOR] = Validator(options)
    app[PRICES] = load_prices(options.prices)
    if options.redact is not None:
        app[REDACTOR] = Redactor(options.redact, logging.getLogger("agentsight.server"))
    app[USAGE] = Usage()
    app[LOGINS] = Logins(options)
    app[RETENTION] = Retention(storage, options.session_idle)
    if options.rate_limit is not None:
        app[RATE_LIMITER] = RateLimiter(options.rate_limit)
        app[KNOWN_KEYS] = KnownKeys(lambda: storage.live_key_hashes())
    add_routes(app)
    app.on_response_prepare.append(add_nosniff)
    app.cleanup_ctx.append(_lifetime)
    # Cleaned up in reverse: these stop (and write what they hold) before storage closes.
    app.cleanup_ctx.append(run_usage)
    app.cleanup_ctx.append(run_retention)
    return app


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    """Load the geo database at start; close the storage at cleanup."""
    try:
        await asyncio.to_thread(app[GEO].load)  # about 0.1 s of decompression
        yield
    finally:
        await app[STORAGE].aclose()
