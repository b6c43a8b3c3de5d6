"""The collector's shortcuts for common input give exactly what the general path gives.

Plain messages are checked in one go, and timestamps whose second was seen
before come from a cache; both must accept, reject (with the same message) and
produce the same values as the field-by-field path for any input, near
misses included.  Payloads are stored as orjson writes them when that is the
stdlib's text, character for character.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentsight.server import ServerOptions
from agentsight.server._ingest import _time
from agentsight.server._ingest._fields import Invalid
from agentsight.server._ingest._time import parse_ts
from agentsight.server._ingest._validate import Validator
from agentsight.server.storage.sqlite import _write as _sqlite_write

_VALID = {
    "id": "0123456789abcdef0123456789abcdef",
    "type": "message",
    "conversation_id": "c1",
    "seq": 3,
    "timestamp": "2026-11-27T01:11:30.830522Z",
    "sender": "end_user",
    "content": "Where is my order?",
    "metadata": {"model": "gpt-4o", "latency_ms": 412, "ok": True, "x": None, "f": 0.5},
    "attachments": None,
    "truncated": False,
}
_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(["", "agent", "end_user", "x" * 300, "2026-11-27T01:11:30.83052Z"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=4),
    st.dictionaries(st.text(max_size=3), st.dictionaries(st.text(max_size=3), st.none())),
)


def _outcome(check: Any, raw: Any) -> Any:
    try:
        return attrs.asdict(check(raw))
    except Invalid as exc:
        return f"Invalid: {exc}"


def _options(small: bool) -> ServerOptions:
    if small:  # limits the shortcut's own size arithmetic meets
        return ServerOptions(max_content_chars=20, max_json_chars=60, max_depth=2)
    return ServerOptions()


@settings(max_examples=400)
@given(
    changes=st.dictionaries(st.sampled_from(sorted(_VALID)), _ODD_VALUES, max_size=3),
    missing=st.sets(st.sampled_from(sorted(_VALID)), max_size=2),
    small=st.booleans(),
)
def test_plain_message_shortcut_equals_the_full_check(
    changes: dict[str, Any], missing: set[str], small: bool
) -> None:
    """Any near-valid message: same event or same rejection message, with or without it."""
    raw = {**_VALID, **changes}
    for name in missing:
        raw.pop(name, None)
    validator = Validator(_options(small))
    assert _outcome(validator.check_event, raw) == _outcome(validator.check_fields, raw)


_BAD = ["12345xZ", "+12345Z", "1_2345Z", "123456ZZ"]  # not RFC 3339


@given(
    moment=st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)),
    fraction=st.sampled_from(
        ["123456Z", "000000Z", "999999Z", "12345Z", "1234567Z", "123456z", "٣" * 6 + "Z", *_BAD]
    ),
)
def test_cached_seconds_parse_as_the_first_time(moment: dt.datetime, fraction: str) -> None:
    """After its second is cached, a timestamp parses (or is refused) as before."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + fraction
    _time._SECONDS.clear()
    unseen = parse_ts(text)
    parse_ts(text[:20] + "000000Z")  # its second is now cached
    assert text[:19] in _time._SECONDS
    assert parse_ts(text) == unseen
    assert (unseen is None) == (fraction in _BAD)


@pytest.mark.parametrize("plain", [0, 7, True, None, 0.5, "text"])
def test_metadata_at_the_size_limit_is_decided_alike(plain: Any) -> None:
    """Metadata one character below, at and above the limit: the same outcome both ways."""
    validator = Validator(_options(small=True))
    for length in range(30, 70):
        raw = {**_VALID, "metadata": {"k": plain, "s": "x" * (length - 20)}}
        assert _outcome(validator.check_event, raw) == _outcome(validator.check_fields, raw)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@example({"small": 1e-05, "large": 1e16, "big": 2**64, "sender": "agent"})
@example({"metadata": {"p": 1e-07, "s": "x"}, "attachments": None})
@example({"metadata": {"nested": {"p": 0.5}}})
@given(st.dictionaries(st.text(), _JSON, max_size=5))
def test_stored_payload_text_is_the_stdlib_text(payload: dict[str, Any]) -> None:
    """Whatever the values, the payload text stored is the stdlib encoder's."""
    assert _sqlite_write._encode(payload) == _sqlite_write._dumps(payload)
