"""The typed keys under which the application keeps its shared objects."""

from __future__ import annotations

from aiohttp import web

from .._redact import Redactor
from ._http._inflight import InFlight
from ._ingest._geo import GeoResolver
from ._ingest._prices import Prices
from ._ingest._validate import Validator
from ._options import ServerOptions
from .storage import Storage

__all__ = ["GEO", "IN_FLIGHT", "OPTIONS", "PRICES", "REDACTOR", "STORAGE", "VALIDATOR"]

STORAGE = web.AppKey("agentsight.storage", Storage)
OPTIONS = web.AppKey("agentsight.options", ServerOptions)
GEO = web.AppKey("agentsight.geo", GeoResolver)
VALIDATOR = web.AppKey("agentsight.validator", Validator)
IN_FLIGHT = web.AppKey("agentsight.in_flight", InFlight)
PRICES = web.AppKey("agentsight.prices", Prices)
#: Present when ``ServerOptions.redact`` is set.
REDACTOR = web.AppKey("agentsight.redactor", Redactor)
