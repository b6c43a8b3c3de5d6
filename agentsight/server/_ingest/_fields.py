"""Checks for single values of an event; each returns the value or raises ``Invalid``.

Messages start with the field name and say what was expected, as in
``content: expected a string``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from typing import Any

from ._time import EVENT_YEARS, parse_event_ts

__all__ = [
    "Check",
    "Invalid",
    "enum",
    "flag",
    "flat_within",
    "json_value",
    "number",
    "scalar",
    "storable",
    "text",
    "timestamp_text",
    "whole",
]

Check = Callable[[str, Any], Any]
_MAX_INT = 2**63 - 1


class Invalid(ValueError):
    """One value of an event is not acceptable; the message names the field."""


def text(max_chars: int, *, nullable: bool = True, min_chars: int = 0) -> Check:
    """A string of at most *max_chars* characters."""

    def check(name: str, value: Any) -> Any:
        if value is None and nullable:
            return None
        if type(value) is not str:
            raise Invalid(f"{name}: expected a string{' or null' if nullable else ''}")
        if not min_chars <= len(value) <= max_chars:
            raise Invalid(
                f"{name}: expected {min_chars} to {max_chars} characters, got {len(value)}"
            )
        return value

    return check


def enum(choices: Collection[str], *, nullable: bool) -> Check:
    """One of *choices*."""
    wanted = " or ".join(repr(c) for c in choices) + (" or null" if nullable else "")

    def check(name: str, value: Any) -> Any:
        if (value is None and nullable) or (type(value) is str and value in choices):
            return value
        raise Invalid(f"{name}: expected {wanted}")

    return check


def whole(maximum: int = _MAX_INT) -> Check:
    """An integer from 0 to *maximum* (``true``/``false`` are not integers here)."""

    def check(name: str, value: Any) -> Any:
        if type(value) is not int or not 0 <= value <= maximum:
            raise Invalid(f"{name}: expected an integer from 0 to {maximum}")
        return value

    return check


def number(maximum: float) -> Check:
    """A number from 0 to *maximum*, or null (bounded, so that sums and averages stay finite)."""

    def check(name: str, value: Any) -> Any:
        if value is None:
            return None
        if type(value) not in (int, float) or not _finite(value) or not 0 <= value <= maximum:
            raise Invalid(f"{name}: expected a number from 0 to {maximum:g} or null")
        return value

    return check


def scalar(max_chars: int) -> Check:
    """A score's value: a finite number, a boolean, or a string of 1 to *max_chars* characters."""

    def check(name: str, value: Any) -> Any:
        kind = type(value)
        if kind is bool or (kind in (int, float) and _finite(value) and abs(value) < 2**63):
            return value
        if kind is str and 0 < len(value) <= max_chars:
            return value
        raise Invalid(
            f"{name}: expected a finite number, true or false, or a string of 1 to"
            f" {max_chars} characters"
        )

    return check


def _finite(value: float) -> bool:
    """A float that is not inf or NaN, or an int that a float can hold."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float (10**400): not storable as a number
        return False


def flag(name: str, value: Any) -> Any:
    """A boolean."""
    if type(value) is not bool:
        raise Invalid(f"{name}: expected true or false")
    return value


def timestamp_text(name: str, value: Any) -> Any:
    """An RFC 3339 date-time string within ``EVENT_YEARS``, or null."""
    if value is None:
        return None
    if type(value) is not str or len(value) > 64 or parse_event_ts(value) is None:
        first, last = EVENT_YEARS
        raise Invalid(f"{name}: expected an RFC 3339 timestamp from {first} to {last} or null")
    return value


def storable(value: Any) -> bool:
    """Whether *value* encodes as UTF-8 (JSON's ``"\\ud800"`` is a lone surrogate, which cannot)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_value(max_chars: int, max_depth: int, *, kind: type | None = None) -> Check:
    """Any JSON value (or one of type *kind*, or null) within size and depth limits."""
    wanted = "an object" if kind is dict else "an array" if kind is list else "a JSON value"

    def check(name: str, value: Any) -> Any:
        if value is None:
            return None
        if kind is not None and type(value) is not kind:
            raise Invalid(f"{name}: expected {wanted} or null")
        _measure(name, value, max_chars, max_depth)
        return value

    return check


def _measure(name: str, value: Any, max_chars: int, max_depth: int) -> None:
    """Walk *value* without recursion, bounding its depth and rough size."""
    size, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise Invalid(f"{name}: nested deeper than {max_depth} levels")
        if type(item) is dict:
            size += 2 + sum(len(k) + 4 for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif type(item) is list:
            size += 2 + len(item)
            stack.extend((v, depth + 1) for v in item)
        elif type(item) is str:
            size += len(item) + 2
        else:
            size += 8
        if size > max_chars:
            raise Invalid(f"{name}: larger than {max_chars} characters")


def flat_within(value: dict[str, Any], max_chars: int, max_depth: int) -> bool:
    """Whether *value* is an object of plain values that ``json_value`` accepts.

    A shortcut for the common metadata: ``False`` means only "not decided
    here" (nested values, or too large), for the full check to say.
    """
    if max_depth < 2:
        return False
    size = 2
    for key, item in value.items():
        kind = type(item)
        if kind is str:
            size += len(key) + 6 + len(item)
        elif kind is dict or kind is list:
            return False
        else:
            size += len(key) + 12
    return size <= max_chars
