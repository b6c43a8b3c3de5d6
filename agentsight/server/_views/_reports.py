"""Analytics beyond ``GET /v1/metrics``: customers, unhandled messages, metadata values,
and the values present for the dashboard's pick-lists.

Each takes the filters of ``GET /v1/metrics`` (``since``, ``until``, the
equality filters, ``tz``, ``escalation_actions``) and its own parameters; a
bad one is a 400 naming it.
"""

from __future__ import annotations

import re

from aiohttp import web
from multidict import MultiDict

from .._http._access import Caller
from .._http._errors import ApiError, json_response
from .._ingest._fields import storable
from .._state import STORAGE
from ..storage._reports import (
    CUSTOMER_SORTS,
    CustomersReport,
    MetadataReport,
    UnhandledReport,
    ValuesReport,
)
from ._metrics import parse_metrics_query

__all__ = ["get_customers", "get_filter_values", "get_metadata_values", "get_unhandled"]

_DIGITS = re.compile(r"[0-9]{1,9}")
_MAX_LIMIT = 500
_MAX_OFFSET = 1_000_000


def _number(params: MultiDict[str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if _DIGITS.fullmatch(text) is None or not low <= int(text) <= high:
        raise ApiError(400, f"{name}: expected an integer from {low} to {high} in ASCII digits")
    return int(text)


def _choice(params: MultiDict[str], name: str, choices: tuple[str, ...]) -> str:
    value = params.get(name, choices[0])
    if value not in choices:
        raise ApiError(400, f"{name}: expected one of {', '.join(choices)}")
    return value


async def get_customers(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/customers``: per customer, conversations, messages, first and last seen,
    feedback, escalations and tokens; sorted, one page (``limit``, ``offset``)."""
    params = MultiDict(request.query)
    own = ("sort", "limit", "offset")
    report = CustomersReport(
        caller.project,
        parse_metrics_query(params, own),
        sort=_choice(params, "sort", tuple(CUSTOMER_SORTS)),
        limit=_number(params, "limit", 50, 1, _MAX_LIMIT),
        offset=_number(params, "offset", 0, 0, _MAX_OFFSET),
    )
    return json_response(await request.app[STORAGE].report(report))


async def get_unhandled(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/metrics/unhandled``: the user messages before an escalation or negative
    feedback, grouped by normalised text, most frequent first."""
    params = MultiDict(request.query)
    report = UnhandledReport(
        caller.project,
        parse_metrics_query(params, ("limit",)),
        limit=_number(params, "limit", 50, 1, _MAX_LIMIT),
    )
    return json_response(await request.app[STORAGE].report(report))


async def get_metadata_values(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/metrics/metadata?key=...``: the top values of one metadata key, of the
    selected conversations (``of=conversations``) or of their messages (``of=messages``);
    without ``key``, the keys present."""
    params = MultiDict(request.query)
    query = parse_metrics_query(params, ("key", "of"))
    key = params.get("key")
    if key is not None and (not 1 <= len(key) <= 256 or "\x00" in key or not storable(key)):
        raise ApiError(400, "key: expected a metadata key of 1 to 256 characters")
    of = _choice(params, "of", ("conversations", "messages"))
    report = MetadataReport(caller.project, query, key, of)
    return json_response(await request.app[STORAGE].report(report))


async def get_filter_values(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/filter-values``: the sources, languages, countries, environments and
    devices present in the project, most frequent first (for pick-lists)."""
    if request.query:
        name = next(iter(request.query))[:64]
        raise ApiError(400, f"{name}: unknown parameter; this route takes none")
    return json_response(await request.app[STORAGE].report(ValuesReport(caller.project)))
