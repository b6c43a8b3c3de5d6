"""Applying a redaction function (``redact=``, ``--redact``) to the fields that carry text.

One description of what is redacted, for the SDK (which applies the user's
function in the calling thread, before the event is queued) and the
collector (which applies ``agentsight.redact.pii`` after validation, before
storage): ``FIELDS``, by event kind, in wire names.  In those fields the
function gets every string: the field itself when it is text, and each
string value inside it, at any depth, when it is metadata, attachments or an
action's response object.  An integer of seven digits or more inside them is
passed as its decimal text too (a phone or card number kept as a number);
when the function changes that text, the value becomes the text it returned.
Keys of mappings, other numbers, and the ids, names of tools and enumerations
around them are not text a user typed, and stay.

The function comes from the application, and the values from its users: a
function that raises (or returns something other than a ``str``) never
makes a tracking call or an ingest fail.  Redaction fails closed: the value
it could not redact is replaced by ``FAILED``, never kept as it was.  The
first failure is logged (the exception's type and where it was raised, not
its message, which may quote the text), every one is counted.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["FAILED", "FIELDS", "Redactor"]

#: What replaces a value the function failed on.
FAILED = "[redaction failed]"

#: The fields redaction covers, by event kind (wire names; see ``docs/redaction.md``).
FIELDS: dict[str, tuple[str, ...]] = {
    "conversation": ("name", "metadata"),
    "interaction": ("name", "metadata"),
    "message": ("content", "metadata", "attachments"),
    "action": ("response", "error_msg", "metadata"),
    "button": ("label", "value", "metadata"),
    "token_usage": (),
    "score": ("comment", "metadata"),
}

# Deeper than this (or a container inside itself), a value is redacted as its
# repr, as the SDK's encoder would send it (see _encode._clean).
_MAX_DEPTH = 32
# Integers with fewer digits than 7 cannot be a phone or card number: not passed.
_SMALL = 10**6


class Redactor:
    """Applies *function* to text, and to the strings inside JSON-like values.

    Args:
        function: ``str -> str``, e.g. ``agentsight.redact.pii``.
        logger: where the first failure is logged.
    """

    def __init__(self, function: Callable[[str], str], logger: logging.Logger) -> None:
        self.function = function
        self.failures = 0
        self._logger = logger
        self._lock = threading.Lock()

    def text(self, value: str) -> str:
        """*value* redacted; ``FAILED`` when the function raises or returns no str."""
        try:
            result: object = self.function(value)
        except Exception as exc:
            return self._failed(exc)
        if type(result) is str:
            return result
        if isinstance(result, str):
            return str(result)
        return self._failed(TypeError(f"returned {type(result).__name__}, expected str"))

    def value(self, value: Any) -> Any:
        """A JSON-like value with each string in it redacted: a new value, keys kept."""
        return self._walk(value, 0, set())

    def mapping(self, value: Mapping[Any, Any]) -> dict[Any, Any]:
        """A metadata mapping (a copy) with each string value in it redacted."""
        # Flat values (most metadata) without a call of _walk each: the SDK runs
        # this in every tracking call when redacting.
        text = self.text
        redacted = {}
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                redacted[key] = text(item)
            elif item is None or kind is bool or kind is float or (kind is int and _small(item)):
                redacted[key] = item
            else:
                redacted[key] = self._walk(item, 1, set())
        return redacted

    def payload(self, kind: str, payload: dict[str, Any]) -> None:
        """Redact, in place, the fields of a validated event (the collector's side)."""
        for name in FIELDS.get(kind, ()):
            item = payload.get(name)
            if item is not None:
                payload[name] = self._walk(item, 0, set())

    def _walk(self, value: Any, depth: int, path: set[int]) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is int:
            return value if _small(value) else self._number(value)
        if value is None or kind is float or kind is bool:
            return value
        if kind is dict or kind is list or kind is tuple:
            if depth >= _MAX_DEPTH or id(value) in path:
                return self.text(_safe_repr(value))
            path.add(id(value))
            try:
                if kind is dict:
                    return {k: self._walk(v, depth + 1, path) for k, v in value.items()}
                return [self._walk(v, depth + 1, path) for v in value]
            finally:
                path.discard(id(value))
        if isinstance(value, str):
            return self.text(str(value))
        # Anything else (a datetime, a dataclass, a set...) as the encoder would send
        # it, so that no string inside it goes out unredacted.
        from ._encode import _clean

        return self._walk(_clean(value, depth), depth, path)

    def _number(self, value: int) -> int | str:
        text = str(value)
        redacted = self.text(text)
        return value if redacted == text else redacted

    def _failed(self, exc: BaseException) -> str:
        with self._lock:
            self.failures += 1
            first = self.failures == 1
        if first:
            frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" at {frame[0].filename}:{frame[0].lineno} in {frame[0].name}" if frame else ""
            self._logger.error(
                "the redact function failed (%s%s); the value was replaced by %r. Only the "
                "first failure is logged; all are counted",
                type(exc).__name__,
                where,
                FAILED,
            )
        return FAILED


def _small(number: int) -> bool:
    return -_SMALL < number < _SMALL


def _safe_repr(value: object) -> str:
    try:
        return repr(value)[:1000]
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
