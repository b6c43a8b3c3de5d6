"""``GET /v1/metrics``: the analytics of the caller's project, computed in the database."""

from __future__ import annotations

import attrs
from aiohttp import web
from multidict import MultiDict

from .._http._access import Caller
from .._http._errors import ApiError, json_response
from .._ingest._fields import storable
from .._metrics import (
    ESCALATION_ACTIONS,
    RATING_EVENTS,
    MetricsQuery,
    UnknownTimeZone,
    check_time_zone,
)
from .._state import STORAGE
from ._params import parse_query

__all__ = ["METRICS_FILTERS", "get_metrics", "get_metrics_summary", "parse_metrics_query"]

#: The conversation filters ``GET /v1/metrics`` takes (checked as the list's are).
METRICS_FILTERS = (
    "since",
    "until",
    "environment",
    "source",
    "device",
    "language",
    "country",
    "customer_id",
)
_OWN = ("tz", "escalation_actions", "rating_events")
_MAX_ACTIONS = 50


def _names(parameter: str, what: str, text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(","))
    if len(names) > _MAX_ACTIONS or not all(
        1 <= len(name) <= 256 and "\x00" not in name and storable(name) for name in names
    ):
        raise ApiError(
            400,
            f"{parameter}: expected up to {_MAX_ACTIONS} comma-separated {what}"
            " of 1 to 256 characters, without U+0000",
        )
    return names


def parse_metrics_query(params: MultiDict[str], extra: tuple[str, ...] = ()) -> MetricsQuery:
    """A ``MetricsQuery`` from a request's query; a bad parameter is a 400 naming it.

    Names in *extra* are the route's own parameters: allowed here, read by it.
    """
    filters: MultiDict[str] = MultiDict()
    for name in params:
        if name not in METRICS_FILTERS and name not in _OWN and name not in extra:
            allowed = ", ".join((*METRICS_FILTERS, *_OWN, *extra))
            raise ApiError(400, f"{name[:64]}: unknown parameter; expected one of {allowed}")
        if len(params.getall(name)) > 1:
            raise ApiError(400, f"{name}: given more than once")
        if name in METRICS_FILTERS:
            filters[name] = params[name]
    tz = params.get("tz", "UTC")
    try:
        check_time_zone(tz)
    except UnknownTimeZone as exc:
        raise ApiError(400, str(exc)) from None
    actions = params.get("escalation_actions")
    ratings = params.get("rating_events")
    return MetricsQuery(
        filters=parse_query(filters),
        tz=tz,
        escalation_actions=ESCALATION_ACTIONS
        if actions is None
        else _names("escalation_actions", "action names", actions),
        rating_events=RATING_EVENTS
        if ratings is None
        else _names("rating_events", "button events", ratings),
    )


async def get_metrics(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/metrics``: totals, engagement, timings, series, tools, breakdowns, tokens."""
    project_id = caller.project
    query = parse_metrics_query(MultiDict(request.query))
    storage = request.app[STORAGE]
    figures = await storage.metrics(project_id, query)
    return json_response(figures)


async def get_metrics_summary(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/metrics/summary``: the headline figures of ``GET /v1/metrics`` alone, as
    it answers them (what the overview compares with the previous period), for a
    fraction of its work."""
    query = attrs.evolve(parse_metrics_query(MultiDict(request.query)), summary=True)
    figures = await request.app[STORAGE].metrics(caller.project, query)
    return json_response(figures)
