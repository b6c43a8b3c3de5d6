"""Parsing request bodies: the lone-surrogate flag and the refusals of bad JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentsight.server._body import parse_json
from agentsight.server._errors import ApiError

# Strings around the escapes the flag looks for: lone and paired surrogates, other escapes.
PIECES = ["a", "é", "\\", "\\\\", "\\u", "\\ud", "\\uD", "\\ud800", "\\uDC00", "\\n", '\\"', "u"]


@settings(max_examples=500)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=12))
def test_surrogate_flag_is_set_exactly_when_the_text_has_a_surrogate_escape(
    pieces: list[str],
) -> None:
    """The flag is the full scan for \\ud and \\uD, whether or not the body parses."""
    text = '{"a": "' + "".join(pieces) + '"}'
    try:
        _, suspect = parse_json(text.encode())
    except ApiError:
        return
    assert suspect == ("\\ud" in text or "\\uD" in text)


@pytest.mark.parametrize(
    ("raw", "value", "suspect"),
    [
        (b'"\\ud800"', "\ud800", True),
        (b'"\\uDFFF"', "\udfff", True),
        (b'"\\ud83d\\ude00"', "\U0001f600", True),  # a pair is fine, but flagged for the check
        (b'"\\\\ud800"', "\\ud800", True),  # an escaped backslash: flagged, harmless
        (b'"\\u00e9\\n"', "é\n", False),
        ('{"a": "é"}'.encode(), {"a": "é"}, False),
    ],
)
def test_escapes_parse_and_flag(raw: bytes, value: Any, suspect: bool) -> None:
    """Escapes decode as JSON says; the flag asks the validator to check for lone surrogates."""
    assert parse_json(raw) == (value, suspect)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xef\xbb\xbf{}", b'"\xff"', b"NaN", b"[Infinity]", b"1e999", b"[1,]", b"[" * 100_000],
)
def test_bad_json_is_400(raw: bytes) -> None:
    """No BOM, bad UTF-8, NaN, Infinity, 1e999, trailing commas or runaway nesting."""
    with pytest.raises(ApiError) as caught:
        parse_json(raw)
    assert caught.value.status == 400


def test_big_integers_stay_integers() -> None:
    """Integers beyond 64 bits come back exact, as Python integers."""
    value, _ = parse_json(json.dumps({"n": 2**70, "m": -(2**64)}).encode())
    assert value == {"n": 2**70, "m": -(2**64)}
    assert type(value["n"]) is int
