"""Argument checks for the tracking calls.

Mistakes of the calling code raise ``ValidationError`` naming the argument,
what was expected and what arrived.  Values that come from end users (an IP
address, the text of a message, a language code) never raise: they are
cleaned, truncated or dropped, with a debug log.

The hot path calls these only when the cheap ``type(x) is str`` test fails,
so each check may take its time.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
from collections.abc import Mapping
from typing import Any

from ._wire import DEVICES, ENVIRONMENTS, EVENT_YEARS, LONG, MAX_DURATION_MS, MAX_TOKENS, SHORT
from .exceptions import ValidationError

logger = logging.getLogger("agentsight")

MAX_ID_LENGTH = SHORT


def _got(value: object) -> str:
    return f"got {type(value).__name__} {value!r}"[:200]


def identifier(name: str, value: object) -> str:
    """A conversation or customer id: a non-empty str (an int is turned into one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{name}: expected a non-empty str, {_got(value)}")
    if not value.strip():
        raise ValidationError(f"{name}: expected a non-empty str, got {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(
            f"{name}: expected at most {MAX_ID_LENGTH} characters, got {len(value)}"
        )
    return value


def optional_identifier(name: str, value: object) -> str | None:
    return None if value is None else identifier(name, value)


def text(name: str, value: object, limit: int) -> str | None:
    """An attribute string or None; longer than the wire's *limit* (it may come from
    users) it is truncated."""
    if value is None:
        return None
    return required_text(name, value, limit, empty=True)


def required_text(name: str, value: object, limit: int, *, empty: bool = False) -> str:
    """A str (non-empty unless *empty*), truncated to the wire's *limit*."""
    if not isinstance(value, str):
        raise ValidationError(f"{name}: expected a str, {_got(value)}")
    if not empty and not value.strip():
        raise ValidationError(f"{name}: expected a non-empty str, got {value!r}")
    if len(value) > limit:
        logger.debug("%s truncated from %d characters", name, len(value))
        return value[:limit]
    return value


def message(name: str, value: object) -> str:
    """The content of a message: a str.  (Called only when ``type(value) is not str``.)"""
    if isinstance(value, str):  # a str subclass
        return str(value)
    raise ValidationError(f"{name}: expected a str, {_got(value)}")


def metadata(name: str, value: object) -> dict[str, Any]:
    """A mapping, copied so later changes by the caller do not leak into the event."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name}: expected a mapping (dict) or None, {_got(value)}")
    return dict(value)


def attachments(name: str, value: object) -> list[Any]:
    """A list (or tuple) of attachment descriptions."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValidationError(f"{name}: expected a list of attachments or None, {_got(value)}")
    return list(value)


def environment(value: object) -> str:
    if value not in ENVIRONMENTS:
        raise ValidationError(
            f"environment: expected one of {', '.join(map(repr, ENVIRONMENTS))}, {_got(value)}"
        )
    return str(value)


def device(value: object) -> str | None:
    if value is None:
        return None
    if value not in DEVICES:
        raise ValidationError(
            f"device: expected one of {', '.join(map(repr, DEVICES))} or None, {_got(value)}"
        )
    return str(value)


def ip_address(value: object) -> str | None:
    """An IP address from an end user: an unparseable one is stored as absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"customer_ip_address: expected a str or None, {_got(value)}")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        logger.debug("customer_ip_address %r is not an IP address; stored as absent", value[:64])
        return None


def token_count(name: str, value: object) -> int:
    """A token count: an int from 0 to the wire's ``MAX_TOKENS``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name}: expected an int from 0 to {MAX_TOKENS}, {_got(value)}")
    if not 0 <= value <= MAX_TOKENS:
        raise ValidationError(f"{name}: expected an int from 0 to {MAX_TOKENS}, got {value}")
    return value


def duration_ms(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"duration_ms: expected a number >= 0 or None, {_got(value)}")
    if not math.isfinite(value) or not 0 <= value <= MAX_DURATION_MS:
        raise ValidationError(
            f"duration_ms: expected a number from 0 to {MAX_DURATION_MS:g}, got {value!r}"
        )
    return float(value) if isinstance(value, float) else value


def timestamp(name: str, value: object) -> str | None:
    """``started_at``/``ended_at``: an ISO 8601 string or a datetime (naive means UTC)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        _in_event_years(name, value)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"{name}: expected an ISO 8601 timestamp or a datetime, got {value!r}"
            ) from None
        _in_event_years(name, parsed)
        return value
    raise ValidationError(f"{name}: expected an ISO 8601 str or a datetime, {_got(value)}")


def _in_event_years(name: str, when: dt.datetime) -> None:
    first, last = EVENT_YEARS
    if not first <= when.year <= last:
        raise ValidationError(f"{name}: expected a time from {first} to {last}, got {when}")


def score_value(value: object) -> float | bool | str:
    """A score: a finite number, a bool, or a category of 1 to 256 characters."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        number = float(value) if isinstance(value, float) else int(value)
        if math.isfinite(number) and abs(number) < 2**63:
            return number
        raise ValidationError(f"value: expected a finite number, got {value!r}")
    if isinstance(value, str) and value.strip():
        return value[:256]
    raise ValidationError(
        f"value: expected a number, a bool or a non-empty str (a category), {_got(value)}"
    )


def button_value(name: str, value: object) -> str:
    """A button's label or value: a non-empty str (numbers are turned into one)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return required_text(name, value, LONG)


def error_message(value: object) -> str | None:
    """``error_msg``: a str, or an exception (its type and message are kept)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise ValidationError(f"error_msg: expected a str, an exception or None, {_got(value)}")
