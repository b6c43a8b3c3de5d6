"""What the OpenAPI document's answer schemas are built of: references, closed objects,
lists, and the figures several answers share."""

from __future__ import annotations

from typing import Any

__all__ = [
    "COST_FIELDS",
    "COUNT",
    "DATE",
    "NULL_TEXT",
    "SENTIMENTS",
    "TIME",
    "array",
    "closed",
    "ref",
]

COUNT = {"type": "integer", "minimum": 0}
TIME = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}
NULL_TEXT = {"type": ["string", "null"]}
SENTIMENTS = ("positive", "neutral", "negative")
#: The figures of a cost, shared by ``Cost`` and the metrics' entries that carry them flat.
COST_FIELDS: dict[str, Any] = {
    "usd": {
        "type": ["number", "null"],
        "minimum": 0,
        "description": "US dollars of the priced calls; null when every model call was"
        " unpriced (an unknown price is never shown as zero).",
    },
    "priced_calls": COUNT,
    "unpriced_calls": COUNT,
}


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema *name*."""
    return {"$ref": f"#/components/schemas/{name}"}


def closed(
    properties: dict[str, Any], description: str = "", optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An object with exactly *properties*, each required but the *optional* ones."""
    schema: dict[str, Any] = {"type": "object"}
    if description:
        schema["description"] = description
    return schema | {
        "required": [name for name in properties if name not in optional],
        "properties": properties,
        "additionalProperties": False,
    }


def array(items: dict[str, Any], description: str = "", most: int | None = None) -> dict[str, Any]:
    """A list of *items*, of at most *most* of them when given."""
    schema: dict[str, Any] = {"type": "array", "items": items}
    if most is not None:
        schema["maxItems"] = most
    return schema | ({"description": description} if description else {})
