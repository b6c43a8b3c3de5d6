"""Differential test: the quick path of validation changes no outcome.

``Validator.check_batch`` first tries the quick check of ``_quick.py`` on
every event and falls back to the field-by-field path (``check_fields``) for
the rest.  For generated batches of every event kind, well-formed or with
faults of every sort (wrong types, strings at and past their limits, bad ids
and timestamps, metadata too deep or too large, lone surrogates, unknown and
missing fields, booleans where integers belong, huge integers, floats, NaN),
the outcome must be exactly what the field-by-field path alone gives: the
same accepted events (same values, same types, same field order) and the
same rejections (index, id, message), or the same exception.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agentsight.server import ServerOptions
from agentsight.server import _validate as v
from agentsight.server._fields import Invalid
from agentsight.server._quick import quick_check

SMALL = ServerOptions(max_content_chars=20, max_json_chars=60, max_depth=2)
TINY = ServerOptions(max_content_chars=5, max_json_chars=40, max_depth=1)
DEFAULT = ServerOptions()
# One validator per limits for the whole run: its cache of seconds carries
# over from example to example, as in a long-running collector.
VALIDATORS = {
    "small": v.Validator(SMALL),
    "tiny": v.Validator(TINY),
    "default": v.Validator(DEFAULT),
}

SECONDS = [
    "2026-11-27T01:11:30.",
    "2026-11-27T01:11:31.",
    "1970-01-01T00:00:00.",
    "9999-12-31T23:59:59.",
]
# Right after a second is cached, near misses with the same first 20 characters.
BAD_FRACTIONS = [
    "12345Z",
    "1234567Z",
    "٣٣٣٣٣٣Z",
    "+12345Z",
    " 12345Z",
    "1_2345Z",
    "123456ZZ",
    "123456Z ",
    "12345\n",
    "123456",
    "-12345Z",
    "\uff11\uff12\uff13\uff14\uff15\uff16Z",
]
RFC3339 = [
    "2026-11-27T01:11:30Z",
    "2026-11-27t01:11:30.5z",
    "2026-11-27T01:11:30.830522z",
    "2026-11-27T02:11:30.123456789+01:00",
    "1970-01-01T00:00:00.5+01:00",
]
BAD_STAMPS = [
    "2026-02-30T00:00:00.000000Z",
    "2026-11-27T24:00:00.000000Z",
    "2026-11-27",
    "1969-12-31T23:59:59.999999Z",
    "2026-W48-5T01:11:30Z",
    "",
    "0000-01-01T00:00:00Z",
    "2026-11-27T01:11:30.830522Z" + " " * 40,
    "\uff12\uff10\uff12\uff16-11-27T01:11:30.830522Z",
]
stamps = st.one_of(
    st.builds(lambda s, n: f"{s}{n:06d}Z", st.sampled_from(SECONDS), st.integers(0, 999_999)),
    st.sampled_from(RFC3339),
)
bad_stamps = st.one_of(
    st.builds(lambda s, f: s + f, st.sampled_from(SECONDS), st.sampled_from(BAD_FRACTIONS)),
    st.sampled_from(BAD_STAMPS),
)
ids = st.text("0123456789abcdef", min_size=32, max_size=32)
bad_ids = st.sampled_from(
    [
        "A" * 32,
        "0" * 31,
        "0" * 33,
        "0x" + "0" * 30,
        "g" * 32,
        "٣" * 32,
        " " + "0" * 31,
        "0" * 16 + "\n" + "0" * 15,
        "x" * 300,
        "0" * 32 + "\n",
    ]
)
texts = st.text(max_size=3) | st.text(max_size=20)  # mostly within the limits
odd_texts = st.one_of(
    st.sampled_from(["\ud800", "a\udfff", "😀", "\x00", ""]),
    st.builds(lambda n: "x" * n, st.sampled_from([1, 2, 19, 20, 21, 255, 256, 257, 4096, 4097])),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**63 - 1, 2**63, 10**12, 10**12 + 1, 10**400]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.5, 1.0, sys.float_info.max]),
    texts,
    odd_texts,
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


plain_metadata = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=4), st.none() | st.booleans() | st.integers() | texts,
                    max_size=3),
    st.just({"model": "gpt-4o", "latency_ms": 412, "channel": "web", "lang": "en"}),
)  # fmt: skip
odd_metadata = st.one_of(
    st.dictionaries(st.text(max_size=4), json_values, max_size=4),
    st.builds(lambda n: {"k": "x" * n}, st.integers(0, 55)),  # SMALL's limit is 60
    st.builds(lambda n: {"k": "x" * (2**20 - 9 + n)}, st.integers(-1, 1)),  # DEFAULT's
    st.builds(_nested, st.sampled_from([1, 2, 3, 63, 64, 65])),
    st.just({}),
)
odd = st.one_of(scalars, json_values, bad_ids, bad_stamps, odd_metadata)

COMMON = {"id": ids, "conversation_id": texts.filter(bool), "seq": st.integers(0, 2**63 - 1),
          "timestamp": stamps}  # fmt: skip
WELL_FORMED: dict[str, dict[str, Any]] = {
    "message": {
        "sender": st.sampled_from(["end_user", "agent"]),
        "content": texts,
        "metadata": plain_metadata,
        "attachments": st.none() | st.lists(texts, max_size=2),
        "truncated": st.booleans(),
    },
    "action": {
        "action_name": texts.filter(bool),
        "started_at": st.none() | stamps,
        "ended_at": st.none() | stamps,
        "duration_ms": st.none() | st.integers(0, 10**6) | st.floats(0, 1e6),
        "tools_used": st.none() | st.lists(texts, max_size=2),
        "response": st.none() | texts,
        "error_msg": st.none() | texts,
        "metadata": plain_metadata,
    },
    "button": {"button_event": texts, "label": texts, "value": texts, "metadata": plain_metadata},
    "token_usage": {
        name: st.integers(0, 10**12)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens", "embedding_tokens")
    },
    **{
        kind: {
            "customer_id": st.none() | texts,
            "customer_ip_address": st.none() | st.sampled_from(["203.0.113.7", "::1"]),
            "device": st.sampled_from([None, "desktop", "mobile"]),
            "source": st.none() | texts,
            "language": st.none() | texts,
            "name": st.none() | texts,
            "environment": st.sampled_from(["production", "development"]),
            "metadata": plain_metadata,
            "is_used": st.just(kind == "conversation"),
        }
        for kind in ("conversation", "interaction")
    },
}
KINDS = sorted(WELL_FORMED)
FIELDS = sorted({name for fields in WELL_FORMED.values() for name in fields} | {*COMMON, "type"})


@st.composite
def events(draw: st.DrawFn) -> Any:
    """An event of any kind: well-formed, or with a fault or two in its own fields."""
    kind = draw(st.sampled_from(KINDS))
    fields = {**COMMON, **WELL_FORMED[kind]}
    raw: dict[str, Any] = {name: draw(s) for name, s in fields.items()}
    raw = {"id": raw.pop("id"), "type": kind, **raw}  # the SDK's order
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        name = draw(st.sampled_from(list(raw)) | st.sampled_from([*FIELDS, "unknown"]))
        fault = draw(st.sampled_from(["odd", "odd", "missing", "kind"]))
        if fault == "missing":
            raw.pop(name, None)
        else:
            raw[name] = draw(odd if fault == "odd" else st.sampled_from([*KINDS, "Message"]))
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from([[raw], None, "event", 7, 1.5, True]))
    return raw


def _typed(value: Any) -> str:
    """A text that differs whenever types or order differ (``1 == True``, ``1 == 1.0``)."""
    return json.dumps(value, default=repr)


def _outcome(run: Any, *args: Any) -> Any:
    try:
        checked = run(*args)
    except Exception as exc:  # OverflowError included: it must be the same
        return f"{type(exc).__name__}: {exc}"
    return [_typed(attrs.asdict(e)) for e in checked.events], checked.rejected


def _with_quick_path(validator: v.Validator, body: dict[str, Any], suspect: bool) -> v.Checked:
    return validator.check_batch(body, unicode_suspect=suspect)


def _field_by_field(validator: v.Validator, body: dict[str, Any], suspect: bool) -> v.Checked:
    """``check_batch`` as it was before the quick path: every event field by field."""
    accepted, rejected = [], []
    for index, raw in enumerate(body["events"]):
        try:
            event = validator.check_fields(raw)
            if suspect:
                v._check_unicode(event)
        except Invalid as exc:
            rejected.append({"index": index, "id": v._usable_id(raw), "error": str(exc)})
        else:
            accepted.append(event)
    return v.Checked(accepted, rejected)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(events(), max_size=6),
    suspect=st.booleans(),
    limits=st.sampled_from(sorted(VALIDATORS)),
)
@example(  # a huge duration: both ways the same OverflowError, not a rejection
    batch=[{"id": "0" * 32, "type": "action", "conversation_id": "c", "seq": 0, "action_name": "a",
            "timestamp": "2026-11-27T01:11:30.830522Z", "duration_ms": 10**400}],
    suspect=False,
    limits="default",
)  # fmt: skip
def test_batches_come_out_as_field_by_field(batch: list[Any], suspect: bool, limits: str) -> None:
    """Any batch: the same events, rejections or exception with or without the quick path."""
    validator = VALIDATORS[limits]
    body = {"schema": 1, "events": batch}
    expected = _outcome(_field_by_field, validator, body, suspect)
    assert _outcome(_with_quick_path, validator, body, suspect) == expected
    for raw in batch:  # and event by event, the quick check alone
        quick = validator._quick(raw)
        if quick is not None:
            assert _typed(attrs.asdict(quick)) == _typed(attrs.asdict(validator.check_fields(raw)))


def _sdk_event(kind: str) -> dict[str, Any]:
    head = {"id": "0123456789abcdef0123456789abcdef", "type": kind, "conversation_id": "c1"}
    head |= {"seq": 3, "timestamp": "2026-11-27T01:11:30.830522Z"}
    return (
        head
        | {
            "message": {
                "sender": "agent",
                "content": "Hi",
                "metadata": {"model": "gpt-4o"},
                "attachments": None,
                "truncated": False,
            },
            "action": {
                "action_name": "db",
                "started_at": None,
                "ended_at": None,
                "duration_ms": 150,
                "tools_used": ["sql"],
                "response": "ok",
                "error_msg": None,
                "metadata": None,
            },
            "button": {"button_event": "rate", "label": "Good", "value": "up", "metadata": {}},
            "token_usage": {
                "prompt_tokens": 50,
                "completion_tokens": 20,
                "total_tokens": 70,
                "embedding_tokens": 0,
            },
            "conversation": {
                "customer_id": "u",
                "customer_ip_address": "203.0.113.7",
                "device": "mobile",
                "source": "web",
                "language": "en",
                "name": None,
                "environment": "development",
                "metadata": None,
                "is_used": True,
            },
            "interaction": {
                "customer_id": None,
                "customer_ip_address": None,
                "device": None,
                "source": None,
                "language": None,
                "name": None,
                "environment": "production",
                "metadata": None,
                "is_used": False,
            },
        }[kind]
    )


@pytest.mark.parametrize("kind", sorted(WELL_FORMED))
@pytest.mark.parametrize("leave_out", [None, "metadata", "truncated", "attachments"])
def test_quick_path_takes_what_the_sdk_sends(kind: str, leave_out: str | None) -> None:
    """Well-formed events of every kind, optional fields left out or not, take the quick path."""
    raw = _sdk_event(kind)
    raw.pop(leave_out or "", None)
    for stamp in ("2026-11-27T01:11:30.830522Z", "2026-11-27T01:11:30.000001Z"):  # cached
        raw["timestamp"] = stamp
        quick = quick_check(DEFAULT)(raw)
        assert quick is not None
        assert _typed(attrs.asdict(quick)) == _typed(
            attrs.asdict(VALIDATORS["default"].check_fields(raw))
        )


# Every value below, in every field of every kind (and every field left out).
FAULTS = [
    None, True, False, 0, 1, -1, 1.0, 0.5, -0.0, math.nan, math.inf, -math.inf, 2**63 - 1,
    2**63, 10**12, 10**12 + 1, 10**400, -(2**70), sys.float_info.max, "", "1", "true",
    "\ud800", "a\udfff", "😀", "\x00", "x" * 5, "x" * 6, "x" * 20, "x" * 21, "x" * 255, "x" * 256,
    "x" * 257, "x" * 4096, "x" * 4097, "end_user", "agent", "desktop", "mobile", "tablet",
    "production", "development", "staging", "message", "Message", *KINDS,
    "0123456789abcdef0123456789abcdef", "A" * 32, "0" * 31, "0" * 33, "0x" + "0" * 30, "g" * 32,
    "٣" * 32, " " + "0" * 31, "0" * 16 + "\n" + "0" * 15, "0" * 32 + "\n",
    *(SECONDS[0] + fraction for fraction in ["830522Z", "000001Z", *BAD_FRACTIONS]),
    *RFC3339, *BAD_STAMPS,
    [], ["sql"], [1, [2, [3]]], ["x" * 50], {}, {"k": None}, {"k": "x" * 20}, {"k": "x" * 30},
    {"k": [1]}, {"k": {}}, {"k": {"k": 1}}, _nested(63), _nested(64), _nested(65),
    {"k": "x" * (2**20 - 9)}, {"k": "x" * (2**20 - 8)}, {"model": "gpt-4o", "n": 1.5, "ok": True},
]  # fmt: skip


@pytest.mark.parametrize("limits", sorted(VALIDATORS))
@pytest.mark.parametrize("kind", KINDS)
def test_every_single_fault_comes_out_as_field_by_field(kind: str, limits: str) -> None:
    """A well-formed event with one field changed to any value above, or left out: same outcome."""
    validator = VALIDATORS[limits]
    event = _sdk_event(kind)
    validator.check_batch({"schema": 1, "events": [event]})  # its second is now cached
    for name in [*event, "unknown"]:
        for value in [_LEFT_OUT, *FAULTS]:
            raw = {**event, name: value}
            if value is _LEFT_OUT:
                del raw[name]
            body = {"schema": 1, "events": [event, raw]}
            for suspect in (False, True):
                expected = _outcome(_field_by_field, validator, body, suspect)
                assert _outcome(_with_quick_path, validator, body, suspect) == expected, (
                    name,
                    value,
                )


_LEFT_OUT = object()
