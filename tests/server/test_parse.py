"""Request bodies parsed by orjson give exactly what the stdlib's parser gives.

orjson is only a shortcut: for any bytes, ``parse_json`` must accept and
refuse what the stdlib path does, with the same error message, and return
equal values of the same types in the same key order.  The risky corners:
integers beyond 64 bits (orjson turns them into floats), lone surrogates
(orjson refuses them), NaN and Infinity, 1e999, duplicate keys, deep nesting,
bad UTF-8 and a byte order mark.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from collector_helpers import Collector, batch, message
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentsight.server import _body
from agentsight.server._errors import ApiError

pytestmark = pytest.mark.anyio


def _outcome(raw: bytes) -> Any:
    """What ``parse_json`` gives, in a form that tells ``1`` from ``1.0`` and key orders apart."""
    try:
        value, suspect = _body.parse_json(raw)
    except ApiError as exc:
        return ("refused", exc.status, exc.message)
    return ("parsed", repr(value), suspect)


def _both(raw: bytes) -> tuple[Any, Any]:
    """The outcome with orjson, and with the stdlib alone."""
    fast = _outcome(raw)
    with mock.patch.object(_body, "_fast_loads", None):
        slow = _outcome(raw)
    return fast, slow


def _same(raw: bytes) -> None:
    fast, slow = _both(raw)
    assert fast == slow, raw[:200]


def test_orjson_is_installed() -> None:
    """The server extra brings orjson, so the tests below compare two parsers, not one."""
    assert _body._fast_loads is not None


EDGE_CASES = [
    b"18446744073709551615",  # 2**64 - 1: orjson's largest integer
    b"18446744073709551616",  # 2**64: a float from orjson, an int from the stdlib
    b"-9223372036854775808",
    b"-9223372036854775809",
    b'{"schema": 1, "events": [], "n": 123456789012345678901234567890}',
    b"[1e19, -1e19, 9.3e18, 9.2e18, 1.7976931348623157e308]",
    b"1" * 5000,  # beyond the stdlib's 4300 digits
    b"1e999",
    b"-1e999",
    b"1e-999",
    b"-0",
    b"-0.0",
    b"[0.1, 1E5, 1e-7, 2.2250738585072011e-308, 5e-324, 1.0000000000000000000001]",
    b"NaN",
    b"[Infinity]",
    b"-Infinity",
    b'"\\ud800"',
    b'"\\udc00"',
    b'"\\ud800\\u0041"',
    b'"\\ud83d\\ude00"',
    b'{"a": "\\uD800"}',
    b'{"a": 1, "b": 2, "a": 3}',
    b'{"a": {"x": 1}, "a": [2]}',
    b"\xef\xbb\xbf{}",  # a byte order mark
    b'"\xff"',
    b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8
    b'"\xc0\xaf"',  # an overlong encoding
    b'"\xf4\x90\x80\x80"',  # beyond U+10FFFF
    b'"\x1f"',
    b'"\x7f"',
    b" \t\r\n{}\n ",
    b"\x0c{}",
    b"",
    b"[1,]",
    b'{"a":1,}',
    b"01",
    b"{} {}",
    b'"\\u0000"',
    b'["\\/", "\\b\\f\\n\\r\\t", "\\"\\\\"]',
    "« très »".encode(),
]


@pytest.mark.parametrize("raw", EDGE_CASES)
def test_edge_cases_parse_the_same(raw: bytes) -> None:
    """Each edge case: the same value, or the same refusal, with orjson or without."""
    _same(raw)


def _nested(depth: int) -> Iterator[bytes]:
    yield b"[" * depth + b"]" * depth
    yield b'{"a":' * depth + b"1" + b"}" * depth
    yield b'{"schema": 1, "events": [], "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 500, 1023, 1024, 1025, 100_000])
def test_nesting_parses_the_same(depth: int) -> None:
    """Deep nesting, around orjson's limit and the stdlib's: the same either way."""
    for raw in _nested(depth):
        _same(raw)


def test_orjson_refusing_lone_surrogates_is_relied_on() -> None:
    """A lone surrogate is refused by orjson (the stdlib then parses, and flags it)."""
    assert _body._fast_loads is not None
    with pytest.raises(ValueError, match="surrogate"):
        _body._fast_loads(b'"\\ud800"')
    assert _outcome(b'"\\ud800"') == ("parsed", repr("\ud800"), True)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)


@settings(max_examples=400)
@given(value=json_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_any_json_value_parses_the_same(value: Any, ascii_only: bool, indent: int | None) -> None:
    """Any JSON document, as the stdlib writes it: the same value with orjson or without."""
    _same(json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode())


_NUMBER = r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,4})?"


@settings(max_examples=400)
@given(number=st.from_regex(_NUMBER, fullmatch=True))
def test_any_number_parses_the_same(number: str) -> None:
    """Any JSON number text (long digit runs, tiny and huge exponents): the same value."""
    _same(number.encode())
    _same(f'{{"n": [{number}]}}'.encode())


TOKENS = [
    "{", "}", "[", "]", ",", ":", " ", "\n", '"a"', '"b"', "1", "-0", "0.5", "1e999",
    "18446744073709551616", "-9223372036854775809", "1e19", "NaN", "Infinity", "true",
    "null", '"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"\\u00e9"', '"\\x"', "\ufeff",
    "\x00", "é", '"é"', "'a'",
]  # fmt: skip


@settings(max_examples=600)
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=16))
@example(tokens=["[", '"\\ud800"', ",", "18446744073709551616", "]"])
@example(tokens=["{", '"a"', ":", "1", ",", '"a"', ":", "[", "]", "}"])
def test_token_soup_parses_the_same(tokens: list[str]) -> None:
    """Any mix of JSON tokens, mostly not JSON at all: the same outcome with orjson or without."""
    _same("".join(tokens).encode())


@settings(max_examples=300)
@given(raw=st.binary(max_size=24))
def test_any_bytes_parse_the_same(raw: bytes) -> None:
    """Arbitrary bytes (bad UTF-8 and all): the same outcome with orjson or without."""
    _same(raw)


@pytest.mark.parametrize("fast", [True, False], ids=["orjson", "stdlib"])
async def test_collector_answers_the_same_without_orjson(
    collector: Collector, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector stores a batch and refuses bad bodies the same way on the stdlib alone."""
    if not fast:
        monkeypatch.setattr(_body, "_fast_loads", None)
    good = {**message("c1", 1, 1.0), "metadata": {"n": 18446744073709551616, "f": 0.5}}
    lone = message("c1", 2, 2.0, content="\ud800")
    body = json.dumps(batch(good, lone)).encode()
    status, answer = await collector.post_raw(body)
    assert status == 200
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [1]
    _, detail = await collector.call("GET", "/v1/conversations/c1")
    assert detail["events"][0]["metadata"] == {"n": 18446744073709551616, "f": 0.5}
    status, answer = await collector.post_raw(b'{"schema": 1, "events": [1e999]}')
    assert status == 400
    assert answer["error"].startswith("body: not valid JSON")
