"""``GET /v1/metrics`` against a direct computation in Python, on random data and filters.

Each example is a fresh project with random conversations (attributes from
small pools, so that filters select some; user and agent messages, actions
with and without durations and errors, escalations, buttons, token usage,
feedback), asked with random filters and a random time zone.  The figures
are recomputed here from the events as sent, by the definitions of
docs/metrics.md, and must match the collector's exactly, on both backends.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from agentsight._keys import generate_key, hash_key, redact
from tests.server.collector_helpers import Collector

pytestmark = pytest.mark.anyio

EXAMPLES = 12
START = int(dt.datetime(2026, 10, 20, tzinfo=dt.timezone.utc).timestamp())
SPAN = 40 * 86_400  # seconds: weeks of data, a daylight saving change in Europe
ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"]
SOURCES = ["web", "whatsapp", "telegram", None]
LANGUAGES = ["en", "de", None]
CUSTOMERS = ["ann", "bob", "cy", "dee", None]
TOOLS = ["kb_search", "order_lookup", "fallback_to_human", "open_ticket"]
ESCALATIONS = ("fallback_to_human", "open_ticket", "ticket", "contact_human")
BUTTONS = [("rate", "Good", "up"), ("rate", "Bad", "down"), ("rate_answer", "👍", "up"),
           ("menu", "Orders", "orders")]  # fmt: skip
RATED = ("rate", "rating")
RATED_PREFIXES = ("rate_", "rating_")


def _stamp(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _conversation(rng: random.Random, cid: str) -> dict[str, Any]:
    """A conversation: its attributes and its events in order (seconds, strictly increasing)."""
    at = START + rng.randrange(SPAN)
    used = rng.random() < 0.8
    attributes = {
        "customer_id": rng.choice(CUSTOMERS),
        "source": rng.choice(SOURCES),
        "device": rng.choice(["desktop", "mobile", None]),
        "language": rng.choice(LANGUAGES),
        "environment": rng.choice(["production", "production", "development"]),
    }
    events: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        nonlocal at
        events.append(
            {
                "id": uuid.uuid4().hex,
                "type": kind,
                "conversation_id": cid,
                "seq": len(events),
                "timestamp": _stamp(at),
                "at": at,
                **fields,
            }
        )
        at += rng.randint(1, 5000)

    add(
        "conversation" if used else "interaction",
        customer_ip_address=None,
        name=None,
        metadata=None,
        is_used=used,
        **attributes,
    )
    for _ in range(rng.randrange(8) if used else 0):
        kind = rng.choice(["user", "user", "agent", "agent", "action", "button", "tokens"])
        if kind in ("user", "agent"):
            sender = "end_user" if kind == "user" else "agent"
            add("message", sender=sender, content=rng.choice(["hi", "help", "ok"]), metadata=None)
        elif kind == "action":
            failed = rng.random() < 0.3
            add(
                "action",
                action_name=rng.choice(TOOLS),
                duration_ms=rng.choice([None, rng.randint(1, 900)]),
                error_msg="boom" if failed else None,
                response=None if failed else "ok",
            )
        elif kind == "button":
            event, label, value = rng.choice(BUTTONS)
            add("button", button_event=event, label=label, value=value, metadata=None)
        else:
            prompt, completion = rng.randint(0, 99), rng.randint(0, 99)
            add(
                "token_usage",
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_tokens=prompt + completion,
                embedding_tokens=0,
            )
    return {"cid": cid, **attributes, "used": used, "events": events, "feedback": []}


def _filters(rng: random.Random) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for name, pool in (
        ("source", SOURCES[:-1]),
        ("language", LANGUAGES[:-1]),
        ("customer_id", CUSTOMERS[:-1]),
        ("environment", ["production", "development"]),
        ("device", ["desktop", "mobile"]),
    ):
        if rng.random() < 0.2:
            chosen[name] = rng.choice(pool)
    if rng.random() < 0.4:
        chosen["since"] = START + rng.randrange(SPAN)
    if rng.random() < 0.4:
        chosen["until"] = START + rng.randrange(SPAN)
    return chosen


def _selected(conversation: dict[str, Any], filters: dict[str, Any]) -> bool:
    started = conversation["events"][0]["at"]
    for name, value in filters.items():
        if name == "since" and started < value:
            return False
        if name == "until" and started >= value:
            return False
        if name not in ("since", "until") and conversation[name] != value:
            return False
    return True


def _ms(micros: float | None) -> float | None:
    return None if micros is None else round(micros / 1000, 3)


def _ratio(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 6)


def _rank(values: Sequence[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(percent * len(ordered) / 100) - 1]


class Local:
    """Local days and hours of a zone, from seconds since the epoch."""

    def __init__(self, name: str) -> None:
        self.zone = dt.timezone.utc if name == "UTC" else zoneinfo.ZoneInfo(name)

    def _local(self, seconds: int) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, self.zone).replace(tzinfo=None)

    def day(self, seconds: int) -> int:
        return (self._local(seconds).date() - dt.date(1970, 1, 1)).days

    def hour(self, seconds: int) -> tuple[int, int]:
        local = self._local(seconds)
        return local.weekday(), local.hour


def _expected(conversations: list[dict[str, Any]], tz: str) -> dict[str, Any]:
    local = Local(tz)
    events = [e for c in conversations for e in c["events"]]
    messages = [e for e in events if e["type"] == "message"]
    actions = [e for e in events if e["type"] == "action"]
    customers = {c["customer_id"] for c in conversations} - {None}
    used = sum(1 for c in conversations if c["used"])
    waits = []
    for c in conversations:
        said = [e for e in c["events"] if e["type"] == "message"]
        for n, e in enumerate(said):
            if e["sender"] == "end_user":
                answer = next((a for a in said[n + 1 :] if a["sender"] == "agent"), None)
                if answer is not None:
                    waits.append((answer["at"] - e["at"]) * 1_000_000)
    long = [c for c in conversations if len(c["events"]) > 1]
    tools = []
    for name in sorted({a["action_name"] for a in actions}):
        calls = [a for a in actions if a["action_name"] == name]
        timed = [a["duration_ms"] for a in calls if a["duration_ms"] is not None]
        errors = sum(1 for a in calls if a["error_msg"] is not None)
        tools.append(
            {
                "action_name": name,
                "count": len(calls),
                "errors": errors,
                "error_rate": _ratio(errors, len(calls)),
                "timed": len(timed),
                "avg_duration_ms": round(sum(timed) / len(timed), 3) if timed else None,
                "p95_duration_ms": float(_rank(timed, 95)) if timed else None,
            }
        )
    tools.sort(key=lambda t: (-t["count"], t["action_name"]))
    escalated = sum(
        1 for c in conversations if any(e.get("action_name") in ESCALATIONS for e in c["events"])
    )
    sentiments = Counter(s for c in conversations for s in c["feedback"])
    breakdowns = {}
    for field in ("country", "device", "source", "language", "environment"):
        sums: dict[Any, list[int]] = {}
        for c in conversations:
            entry = sums.setdefault(c.get(field), [0, 0])
            entry[0] += 1
            entry[1] += sum(1 for e in c["events"] if e["type"] == "message")
        found = [{"value": v, "conversations": n, "messages": m} for v, (n, m) in sums.items()]
        found.sort(key=lambda e: (-e["conversations"], e["value"] is None, e["value"] or ""))
        breakdowns[field] = found
    pressed = [e for e in events if e["type"] == "button"]
    labels = Counter((e["button_event"], e["label"]) for e in pressed)
    ratings = Counter(
        e["value"]
        for e in pressed
        if e["button_event"] in RATED or e["button_event"].startswith(RATED_PREFIXES)
    )
    days: dict[str, set[int]] = {}
    for c in conversations:
        if c["customer_id"] is not None:
            days.setdefault(c["customer_id"], set()).add(local.day(c["events"][0]["at"]))
    cohorts: dict[int, dict[int, int]] = {}
    for found_days in days.values():
        weeks = {(d + 3) // 7 for d in found_days}
        first = min(weeks)
        for week in weeks:
            cohorts.setdefault(first, {}).setdefault(week - first, 0)
            cohorts[first][week - first] += 1
    last = max((f + max(w) for f, w in cohorts.items()), default=0)
    grid = [[0] * 24 for _ in range(7)]
    for e in messages:
        weekday, hour = local.hour(e["at"])
        grid[weekday][hour] += 1
    daily: dict[int, list[int]] = {}
    for c in conversations:
        daily.setdefault(local.day(c["events"][0]["at"]), [0, 0])[0] += 1
    for e in messages:
        daily.setdefault(local.day(e["at"]), [0, 0])[1] += 1
    if daily:
        for day in range(min(daily), max(daily)):
            daily.setdefault(day, [0, 0])
    epoch = dt.date(1970, 1, 1)
    return {
        "totals": {
            "conversations": len(conversations),
            "messages": len(messages),
            "end_user_messages": sum(1 for e in messages if e["sender"] == "end_user"),
            "agent_messages": sum(1 for e in messages if e["sender"] == "agent"),
            "events": len(events),
            "actions": len(actions),
            "unique_users": len(customers),
        },
        "engagement": {
            "initialised": len(conversations),
            "used": used,
            "initialised_only": len(conversations) - used,
            "rate": _ratio(used, len(conversations)),
        },
        "response_time_ms": {
            "count": len(waits),
            "avg": _ms(sum(waits) / len(waits)) if waits else None,
            "p50": _ms(_rank(waits, 50)) if waits else None,
            "p95": _ms(_rank(waits, 95)) if waits else None,
        },
        "conversation_duration_ms": {
            "count": len(long),
            "avg": _ms(
                sum((c["events"][-1]["at"] - c["events"][0]["at"]) * 1e6 for c in long) / len(long)
            )
            if long
            else None,
        },
        "tools": tools,
        "escalation": {
            "actions": list(ESCALATIONS),
            "conversations": escalated,
            "rate": _ratio(escalated, len(conversations)),
        },
        "feedback": {
            "by_sentiment": {s: sentiments[s] for s in ("positive", "neutral", "negative")},
            "entries": sum(sentiments.values()),
            "conversations": sum(1 for c in conversations if c["feedback"]),
            "share": _ratio(sum(1 for c in conversations if c["feedback"]), len(conversations)),
        },
        "breakdowns": breakdowns,
        "buttons": {
            "presses": len(pressed),
            "by_label": [
                {"button_event": event, "label": label, "presses": n}
                for (event, label), n in sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "rating": {
                "events": ["rate", "rating", "rate_*", "rating_*"],
                "presses": sum(ratings.values()),
                "values": [
                    {"value": v, "presses": n}
                    for v, n in sorted(ratings.items(), key=lambda kv: (-kv[1], kv[0]))
                ],
            },
        },
        "customers": {
            "customers": len(days),
            "returning": sum(1 for d in days.values() if len(d) > 1),
            "returning_rate": _ratio(sum(1 for d in days.values() if len(d) > 1), len(days)),
        },
        "retention": {
            "period": "week",
            "first_weekday": "Monday",
            "cohorts": [
                {
                    "week": (epoch + dt.timedelta(days=7 * first - 3)).isoformat(),
                    "customers": weeks.get(0, 0),
                    "active": [weeks.get(n, 0) for n in range(last - first + 1)],
                }
                for first, weeks in sorted(cohorts.items())
            ],
        },
        "peak_hours": {"metric": "messages", "first_weekday": "Monday", "counts": grid},
        "daily": [
            {"date": (epoch + dt.timedelta(days=d)).isoformat(), "conversations": n, "messages": m}
            for d, (n, m) in sorted(daily.items())
        ],
    }


def _wire(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "at"}


async def _project(collector: Collector, name: str) -> None:
    key = generate_key()
    await collector.storage.create_key(name, hash_key(key), redact(key), scope="admin")
    collector.keys[name] = key


async def test_metrics_equal_a_direct_computation(collector: Collector) -> None:
    """On random projects and random filters, every figure is what Python computes."""
    rng = random.Random(21)
    for example in range(EXAMPLES):
        project = f"random-{example}"
        await _project(collector, project)
        conversations = [_conversation(rng, f"c{n}") for n in range(rng.randint(0, 40))]
        events = [_wire(e) for c in conversations for e in c["events"]]
        rng.shuffle(events)  # the order of arrival does not matter
        for first in range(0, len(events), 97):
            await collector.send(*events[first : first + 97], project=project)
        for c in conversations:
            for _ in range(rng.choice([0, 0, 0, 1, 2])):
                sentiment = rng.choice(["positive", "neutral", "negative"])
                status, answer = await collector.call(
                    "POST",
                    f"/v1/conversations/{c['cid']}/feedback",
                    project,
                    json={"sentiment": sentiment},
                )
                assert status == 201, answer
                c["feedback"].append(sentiment)
        for _ in range(4):
            filters = _filters(rng)
            tz = rng.choice(ZONES)
            params = {k: _stamp(v) if k in ("since", "until") else v for k, v in filters.items()}
            status, figures = await collector.call(
                "GET", "/v1/metrics", project, params={**params, "tz": tz}
            )
            assert status == 200, figures
            chosen = [c for c in conversations if _selected(c, filters)]
            expected = _expected(chosen, tz)
            for key, value in expected.items():
                assert figures[key] == value, (example, filters, tz, key)
