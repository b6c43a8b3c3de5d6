"""OTLP attribute values as plain Python values, read only where the mapping needs them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Attributes", "plain"]


def plain(value: Any) -> Any:
    """An ``AnyValue`` as a plain value: str, bool, int, float, bytes, list, dict or None.

    Protobuf bounds the nesting (100 levels), so the recursion is bounded too.
    """
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [plain(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


class Attributes:
    """The attributes of a span (or event, or resource) by key, decoded on demand."""

    def __init__(self, key_values: Iterable[Any]) -> None:
        self._raw: dict[str, Any] = {kv.key: kv.value for kv in key_values}
        self._plain: dict[str, Any] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def keys(self) -> Iterable[str]:
        """Every key, in the order sent."""
        return self._raw.keys()

    def get(self, key: str) -> Any:
        """The plain value of *key*, or ``None``."""
        if key not in self._plain:
            raw = self._raw.get(key)
            self._plain[key] = None if raw is None else plain(raw)
        return self._plain[key]

    def text(self, *keys: str) -> str | None:
        """The first of *keys* holding a non-empty value, as text."""
        for key in keys:
            value = self.get(key)
            if value is None or value == "" or isinstance(value, (list, dict, bytes)):
                continue
            return value if isinstance(value, str) else json.dumps(value)
        return None

    def count(self, *keys: str) -> int | None:
        """The first of *keys* holding a whole number >= 0 (a string of digits too)."""
        for key in keys:
            value = self.get(key)
            if (isinstance(value, str) and value.isdigit()) or (
                isinstance(value, float) and value.is_integer()
            ):
                value = int(value)
            if type(value) is int and value >= 0:
                return value
        return None

    def structured(self, key: str) -> Any:
        """The value of *key*, parsed when it is a JSON string (``None`` when it is not JSON)."""
        value = self.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return None
        return value

    def prefixed(self, prefix: str) -> Mapping[str, Any]:
        """The keys under *prefix* (``llm.input_messages.``) with the prefix removed."""
        return {key[len(prefix) :]: self.get(key) for key in self._raw if key.startswith(prefix)}
