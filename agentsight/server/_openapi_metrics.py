"""The OpenAPI schemas of ``GET /v1/metrics``: ``Metrics`` and one closed schema per section.

The fields are those ``MetricsPlan.assemble`` writes (``storage/_metrics_sql.py``),
the lengths of its lists its constants; docs/metrics.md defines every figure.
A figure that cannot be computed is null, never missing: a ratio with nothing
to divide by, a mean or a percentile without values, and a figure that is not
finite (only from rows stored before ingest bounded times and numbers).
"""

from __future__ import annotations

from typing import Any

from .. import _wire as wire
from ._openapi_parts import COST_FIELDS, COUNT, DATE, NULL_TEXT, SENTIMENTS, array, closed, ref
from .storage._metrics_sql import BREAKDOWNS, COHORTS, SCORE_VALUES, TOP_CUSTOMERS, TOP_VALUES

__all__ = ["metrics_schemas"]

_TEXT = {"type": "string"}
_RATIO = {
    "type": ["number", "null"],
    "minimum": 0,
    "maximum": 1,
    "description": "null when there is nothing to divide by.",
}
_WAIT = {"type": ["number", "null"], "minimum": 0, "description": "Milliseconds; null without any."}
_DURATION = {"type": ["number", "null"], "description": "Milliseconds; null when none is timed."}
_MEAN = {"type": ["number", "null"], "description": "null without a numeric score."}
_MONDAY = {"const": "Monday"}
_OTHER = {"const": True, "description": 'Only on the entry that adds up the rest (value "other").'}


def _activity_schemas() -> dict[str, Any]:
    """Totals, engagement, response times, durations, peak hours, days and tools."""
    hours = array(COUNT, "Hours 0 (00:00-01:00) to 23.") | {"minItems": 24, "maxItems": 24}
    counts = ("conversations", "messages", "end_user_messages", "agent_messages", "events")
    return {
        "MetricsTotals": closed(dict.fromkeys((*counts, "actions", "unique_users"), COUNT)),
        "MetricsEngagement": closed(
            {**dict.fromkeys(("initialised", "used", "initialised_only"), COUNT), "rate": _RATIO}
        ),
        "MetricsResponseTimes": closed(
            {"count": COUNT, **dict.fromkeys(("avg", "p50", "p95"), _WAIT)},
            "From each answered user message to the first agent message after it.",
        ),
        "MetricsDuration": closed(
            {
                "count": {**COUNT, "description": "Conversations of more than one event."},
                "avg": _WAIT,
            }
        ),
        "MetricsPeakHours": closed(
            {
                "metric": {"const": "messages"},
                "first_weekday": _MONDAY,
                "counts": array(hours, "Monday to Sunday.") | {"minItems": 7, "maxItems": 7},
            }
        ),
        "MetricsDay": closed({"date": DATE, "conversations": COUNT, "messages": COUNT}),
        "MetricsTool": closed(
            {
                "action_name": _TEXT,
                "count": COUNT,
                "errors": COUNT,
                "error_rate": _RATIO,
                "timed": {**COUNT, "description": "Actions with a duration_ms."},
                "avg_duration_ms": _DURATION,
                "p95_duration_ms": _DURATION,
            }
        ),
    }


def _outcome_schemas() -> dict[str, Any]:
    """Escalation, feedback, breakdowns, buttons, customers and retention."""
    values = array(
        ref("MetricsBreakdownEntry"),
        f"Most conversations first; past {TOP_VALUES} values the rest add up to one entry.",
        TOP_VALUES + 1,
    )
    rating = closed(
        {
            "events": array(_TEXT, "The rating_events asked for."),
            "presses": COUNT,
            "values": array(
                closed({"value": _TEXT, "presses": COUNT}), "Most pressed first.", TOP_VALUES
            ),
        }
    )
    cohort = closed(
        {
            "week": {**DATE, "description": "The Monday the week starts."},
            "customers": COUNT,
            "active": array(COUNT, "Of them, those active n weeks later (from 0), up to the last."),
        }
    )
    return {
        "MetricsEscalation": closed(
            {
                "actions": array(_TEXT, "The escalation_actions asked for."),
                "conversations": COUNT,
                "rate": _RATIO,
            }
        ),
        "MetricsFeedback": closed(
            {
                "by_sentiment": closed(dict.fromkeys(SENTIMENTS, COUNT)),
                "entries": COUNT,
                "conversations": COUNT,
                "share": _RATIO,
            }
        ),
        "MetricsBreakdownEntry": closed(
            {"value": NULL_TEXT, "conversations": COUNT, "messages": COUNT, "other": _OTHER},
            optional=("other",),
        ),
        "MetricsBreakdowns": closed(dict.fromkeys(BREAKDOWNS, values)),
        "MetricsButtons": closed(
            {
                "presses": COUNT,
                "by_label": array(
                    closed({"button_event": _TEXT, "label": _TEXT, "presses": COUNT}),
                    "Most pressed first.",
                    TOP_VALUES,
                ),
                "rating": rating,
            }
        ),
        "MetricsCustomers": closed(
            {"customers": COUNT, "returning": COUNT, "returning_rate": _RATIO}
        ),
        "MetricsRetention": closed(
            {
                "period": {"const": "week"},
                "first_weekday": _MONDAY,
                "cohorts": array(cohort, f"Oldest first, the {COHORTS} most recent.", COHORTS),
            }
        ),
    }


def _usage_schemas() -> dict[str, Any]:
    """Token usage, cost and scores."""
    tokens = dict.fromkeys(wire.TOKEN_FIELDS, COUNT)
    by_model = closed(
        {"model": NULL_TEXT, "provider": NULL_TEXT, "calls": COUNT, **COST_FIELDS, **tokens}
    )
    costs = {
        **COST_FIELDS,
        "per_conversation_usd": {"type": ["number", "null"], "minimum": 0},
        "by_model": array(by_model, "Most expensive first."),
        "daily": array(closed({"date": DATE, **COST_FIELDS}), "Per local day."),
        "top_customers": array(
            closed({"customer_id": _TEXT, "conversations": COUNT, **COST_FIELDS}),
            "Most expensive first.",
            TOP_CUSTOMERS,
        ),
    }
    mean = {"type": ["number", "null"], "minimum": 0}
    value = {
        "type": ["number", "boolean", "string", "null"],
        "description": "A number, yes or no, or a category.",
    }
    return {
        "MetricsTokenUsage": closed(
            {
                "totals": ref("TokenCounts"),
                "per_conversation": closed(
                    dict.fromkeys(wire.TOKEN_FIELDS, mean), "null without conversations."
                ),
                "daily": array(closed({"date": DATE, **tokens}), "Per local day."),
            }
        ),
        "MetricsCost": closed(costs),
        "MetricsScore": closed(
            {
                "name": _TEXT,
                "count": COUNT,
                "numeric": {**COUNT, "description": "Scores with a number (yes = 1, no = 0)."},
                "avg": _MEAN,
                "distribution": array(
                    closed({"value": value, "count": COUNT, "other": _OTHER}, optional=("other",)),
                    f"Most frequent first; past {SCORE_VALUES} values the rest add up to one.",
                    SCORE_VALUES + 1,
                ),
                "daily": array(
                    closed({"date": DATE, "count": COUNT, "avg": _MEAN}), "Per local day."
                ),
            }
        ),
    }


def metrics_schemas() -> dict[str, Any]:
    """``Metrics`` and the component schemas of its sections."""
    sections = {
        "tz": {**_TEXT, "description": "The time zone of the days and hours."},
        "totals": ref("MetricsTotals"),
        "engagement": ref("MetricsEngagement"),
        "response_time_ms": ref("MetricsResponseTimes"),
        "conversation_duration_ms": ref("MetricsDuration"),
        "peak_hours": ref("MetricsPeakHours"),
        "daily": array(
            ref("MetricsDay"),
            "Per local day, in order; days without activity between as zeros (in a span of"
            " up to 1000 days).",
        ),
        "tools": array(ref("MetricsTool"), "Per action name, most used first."),
        "escalation": ref("MetricsEscalation"),
        "feedback": ref("MetricsFeedback"),
        "breakdowns": ref("MetricsBreakdowns"),
        "buttons": ref("MetricsButtons"),
        "customers": ref("MetricsCustomers"),
        "retention": ref("MetricsRetention"),
        "token_usage": ref("MetricsTokenUsage"),
        "cost": ref("MetricsCost"),
        "scores": array(ref("MetricsScore"), "Per score name, most scored first."),
    }
    headline = (
        "tz",
        "totals",
        "engagement",
        "response_time_ms",
        "conversation_duration_ms",
        "escalation",
        "feedback",
        "buttons",
        "customers",
    )
    usage = _usage_schemas()
    summary = {name: sections[name] for name in headline}
    for name, schema, lists in (
        ("token_usage", "MetricsTokenUsage", ("daily",)),
        ("cost", "MetricsCost", ("by_model", "daily", "top_customers")),
    ):
        kept = usage[schema]["properties"].items()
        summary[name] = closed({key: value for key, value in kept if key not in lists})
    return {
        "Metrics": closed(sections, "See docs/metrics.md for every figure's definition."),
        "MetricsSummary": closed(summary, "The same sections of Metrics, figure for figure."),
        **_activity_schemas(),
        **_outcome_schemas(),
        **usage,
    }
