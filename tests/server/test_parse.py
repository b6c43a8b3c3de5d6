"""Parsing request bodies: the lone-surrogate flag and the refusals of bad JSON.

Every test runs twice: with orjson (the server extra) and with the stdlib's
decoder alone (a collector installed without the extra); the outcome must not
depend on which one decoded the body (refusals are always the stdlib's, in its
words), except for nesting past the stdlib's recursion limit (the last test).
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsight.server._http import _body
from agentsight.server._http._body import parse_json
from agentsight.server._http._errors import ApiError

# Strings around the escapes the flag looks for: lone and paired surrogates, other escapes.
PIECES = ["a", "é", "\\", "\\\\", "\\u", "\\ud", "\\uD", "\\ud800", "\\uDC00", "\\n", '\\"', "u"]


@pytest.fixture(params=["orjson", "stdlib"], autouse=True)
def decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib":
        monkeypatch.setattr(_body, "_fast_loads", None)
    else:
        assert _body._fast_loads is not None, "the dev extra installs orjson"
    return str(request.param)


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    return False


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


# The decoder fixture holds for every example on purpose (one decoder per test run).
@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=12))
def test_surrogate_flag_is_set_whenever_the_value_may_hold_a_lone_surrogate(
    pieces: list[str], decoder: str
) -> None:
    """The flag never misses a lone surrogate; without orjson it is the full scan for
    \\ud and \\uD (with orjson, a body it accepts has none: it refuses them)."""
    text = '{"a": "' + "".join(pieces) + '"}'
    try:
        value, suspect = parse_json(text.encode())
    except ApiError:
        return
    if _lone_surrogate(value):
        assert suspect
    if decoder == "stdlib":
        assert suspect == ("\\ud" in text or "\\uD" in text)


@pytest.mark.parametrize(
    ("raw", "value", "lone"),
    [
        (b'"\\ud800"', "\ud800", True),
        (b'"\\uDFFF"', "\udfff", True),
        (b'"\\ud83d\\ude00"', "\U0001f600", False),  # a pair is fine
        (b'"\\\\ud800"', "\\ud800", False),  # an escaped backslash, then text
        (b'"\\u00e9\\n"', "é\n", False),
        ('{"a": "é"}'.encode(), {"a": "é"}, False),
    ],
)
def test_escapes_parse_and_flag(raw: bytes, value: Any, lone: bool, decoder: str) -> None:
    """Escapes decode as JSON says; the flag asks the validator to check for lone surrogates."""
    parsed, suspect = parse_json(raw)
    assert parsed == value
    if lone:
        assert suspect
    if decoder == "stdlib":  # the plain scan flags any \ud escape
        assert suspect == (b"\\ud" in raw or b"\\uD" in raw)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xef\xbb\xbf{}", b'"\xff"', b"NaN", b"[Infinity]", b"1e999", b"[1,]", b"[" * 100_000],
)
def test_bad_json_is_400(raw: bytes) -> None:
    """No BOM, bad UTF-8, NaN, Infinity, 1e999, trailing commas or runaway nesting."""
    with pytest.raises(ApiError) as caught:
        parse_json(raw)
    assert caught.value.status == 400


def _tie(low: float, digits: int) -> str:
    """The exact midpoint of *low* and the next float, written with *digits* digits."""
    with decimal.localcontext() as context:
        context.prec = 2_000
        high = math.nextafter(low, math.inf)
        if math.isinf(high):  # the largest float: the midpoint below it instead
            high = math.nextafter(low, -math.inf)
        middle = (decimal.Decimal(low) + decimal.Decimal(high)) / 2
    mantissa, exponent = f"{middle:e}".split("e")
    mantissa += "" if "." in mantissa else "."
    padding = digits - (len(mantissa) - 1 - mantissa.startswith("-"))
    return mantissa + "0" * max(padding, 0) + "e" + exponent


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"n": 2**70, "m": -(2**64)}).encode(),
        b'{"n":-9223372036854775809}',  # 19 digits: one below the smallest 64-bit integer
        b'{"n":18446744073709551616}',  # one above the largest unsigned one
        b'{"n" :\n\t 123456789012345678901234567890}',
        b"[1,-99999999999999999999]",
        b"  123456789012345678901234567890",  # a body that is a number
        b"-123456789012345678901",
        # Exact ties between two floats written past 768 digits: the stdlib rounds to
        # even, orjson (which reads 768 digits) would round up.
        b'{"x": 1.00000000000000011102230246251565404236316680908203125' + b"0" * 715 + b"}",
        b"[9.007199254740993" + b"0" * 753 + b"e15]",
        b"[" + _tie(0.0, 800).encode() + b"]",  # halfway between 0.0 and 5e-324
    ],
)
def test_numbers_only_the_stdlib_reads_exactly(raw: bytes) -> None:
    """Integers beyond 64 bits come back exact, as Python integers, and numbers of more
    than 768 digits round as the stdlib rounds them (orjson would differ on both: such
    bodies go to the stdlib's decoder)."""
    value, _ = parse_json(raw)
    assert _same(value, json.loads(raw))


_numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-(10**20), 10**20), st.integers(-330, 310)),
    st.builds(  # exact ties written at and past orjson's 768 digits
        _tie, st.floats(allow_nan=False, allow_infinity=False), st.integers(700, 900)
    ),
)
_strings = st.text(st.characters(codec="utf-8") | st.sampled_from('\ud800\udfff\\"/'), max_size=20)
_json_values = st.recursive(
    st.none() | st.booleans() | _numbers | _strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_strings, inner),
    max_leaves=20,
)
_space = st.text(" \t\n\r", max_size=2)


def _text(value: Any, space: st.DrawFn) -> str:
    """JSON text with random whitespace; numbers given as strings (``"12e-5"``) are
    written as bare numbers, strings with lone surrogates as escapes."""
    if isinstance(value, str) and value[:1] in "-0123456789" and "e" in value:
        return value
    if isinstance(value, dict):
        items = (_text(k, space) + space(_space) + ":" + _text(v, space) for k, v in value.items())
        return "{" + ("," + space(_space)).join(items) + "}"
    if isinstance(value, list):
        return (
            "[" + space(_space) + ("," + space(_space)).join(_text(v, space) for v in value) + "]"
        )
    return json.dumps(value, ensure_ascii=not _encodable(value))


def _encodable(value: Any) -> bool:
    return not isinstance(value, str) or not _lone_surrogate(value)


@settings(max_examples=400)
@given(value=_json_values, data=st.data())
def test_orjson_and_the_stdlib_decode_every_body_alike(value: Any, data: st.DataObject) -> None:
    """The same value, to the type, whichever decoder the collector has, and a flag that
    never misses a lone surrogate; or both refuse."""
    raw = _text(value, data.draw).encode()  # type: ignore[arg-type]  # a DrawFn
    try:
        expected = json.loads(raw, parse_float=_body._finite)
    except ValueError:  # a float beyond range (1e400), or not a number at all: both refuse
        with pytest.raises(ApiError):
            parse_json(raw)
        return
    parsed, suspect = parse_json(raw)
    assert _same(parsed, expected)
    if _lone_surrogate(parsed):
        assert suspect


def test_nesting_past_the_stdlibs_limit_is_never_stored(decoder: str) -> None:
    """1,010 levels: the stdlib refuses the body (recursion limit); orjson decodes it and
    the validator rejects the event, naming the field (a value under a key it does not
    read it ignores, as any unknown field).  Nothing that deep is stored."""
    from agentsight.server import ServerOptions
    from agentsight.server._ingest._validate import Validator

    deep = "[" * 1_010 + "]" * 1_010
    event = (
        '{"id": "0123456789abcdef0123456789abcdef", "type": "message", "conversation_id": "c",'
        ' "seq": 1, "timestamp": "2026-01-01T00:00:00Z", "sender": "agent", "content": "x",'
        ' "metadata": {"a": ' + deep + "}}"
    )
    raw = ('{"schema": 1, "events": [' + event + "]}").encode()
    if decoder == "stdlib":
        with pytest.raises(ApiError) as caught:
            parse_json(raw)
        assert caught.value.status == 400
        return
    value, suspect = parse_json(raw)
    checked = Validator(ServerOptions()).check_batch(value, unicode_suspect=suspect)
    assert checked.events == []
    assert checked.rejected[0]["error"] == "metadata: nested deeper than 64 levels"
