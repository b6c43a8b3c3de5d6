"""A strict check of real JSON answers against the schemas of the served OpenAPI document.

Strict where a generated client would be wrong: an object schema without
``additionalProperties`` is taken as closed, so a field the answer has and
the document does not name is an error (a bare ``{"type": "object"}``
documents no field at all); ``true`` or a schema there says the object is
open on purpose (free-form metadata).  ``integer`` is a JSON number without
a fraction or exponent (``1.0`` is not one).  A keyword the checker does not
know is an error too, so nothing passes because it was not understood.

Resolves ``$ref`` (within the document), ``oneOf`` (exactly one branch),
``anyOf``, ``allOf``, ``type`` as a name or a list, OpenAPI 3.0's
``nullable``, ``const``, ``enum``, ``required``, ``properties``,
``additionalProperties``, ``items``, and the bounds of numbers, texts and
arrays; ``format`` checks ``date-time`` and ``date``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.server.collector_helpers import Collector

__all__ = ["answer_schema", "assert_matches", "mismatches", "served_document"]

#: Keywords that describe and never constrain (``readOnly``: a field of answers only, so
#: nothing to check in one).
_ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "default",
        "examples",
        "example",
        "discriminator",
        "deprecated",
        "readOnly",
    }
)
_CHECKED = frozenset(
    {
        "$ref",
        "type",
        "nullable",
        "const",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "oneOf",
        "anyOf",
        "allOf",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "format",
    }
)
_FORMATS = {
    "date-time": re.compile(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
    ),
    "date": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
}


def _is(kind: str, value: Any) -> bool:
    """*value* (parsed from JSON) is of the JSON Schema type *kind*."""
    if kind == "null":
        return value is None
    if kind == "boolean":
        return type(value) is bool
    if kind == "integer":
        return type(value) is int
    if kind == "number":
        return type(value) in (int, float)
    if kind == "string":
        return type(value) is str
    if kind == "array":
        return type(value) is list
    if kind == "object":
        return type(value) is dict
    raise AssertionError(f"the checker knows no type {kind!r}")


def _resolve(document: Mapping[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise AssertionError(f"$ref {ref!r}: only references within the document are checked")
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            raise AssertionError(f"$ref {ref!r}: no {part!r} in the document")
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


class _Checker:
    """Walks a value along a schema, collecting every mismatch with where it is."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def errors(self, schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
        unknown = set(schema) - _CHECKED - _ANNOTATIONS
        if unknown:
            raise AssertionError(f"{where}: the checker knows no keyword {sorted(unknown)}")
        if "$ref" in schema:
            own = {k: v for k, v in schema.items() if k != "$ref"}
            found = self.errors(_resolve(self.document, schema["$ref"]), value, where)
            return found + self.errors(own, value, where)
        if value is None and schema.get("nullable") is True:
            return []
        found = self._type(schema, value, where)
        if found:
            return found
        for check in (self._choices, self._combined, self._bounds):
            found += check(schema, value, where)
        if type(value) is dict and _about_objects(schema):
            found += self._object(schema, value, where)
        if type(value) is list and "items" in schema:
            for index, item in enumerate(value):
                found += self.errors(schema["items"], item, f"{where}[{index}]")
        return found

    @staticmethod
    def _type(schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
        if "type" not in schema:
            return []
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if any(_is(kind, value) for kind in kinds):
            return []
        return [f"{where}: expected {' or '.join(kinds)}, got {type(value).__name__} {value!r:.60}"]

    @staticmethod
    def _choices(schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
        def same(a: Any, b: Any) -> bool:  # 1 == True in Python, not in JSON
            return type(a) is type(b) and a == b

        if "const" in schema and not same(schema["const"], value):
            return [f"{where}: expected {schema['const']!r}, got {value!r:.60}"]
        if "enum" in schema and not any(same(option, value) for option in schema["enum"]):
            return [f"{where}: expected one of {schema['enum']!r}, got {value!r:.60}"]
        return []

    def _combined(self, schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
        found: list[str] = []
        for branch in schema.get("allOf", ()):
            found += self.errors(branch, value, where)
        for keyword in ("oneOf", "anyOf"):
            if keyword not in schema:
                continue
            branches = schema[keyword]
            outcomes = [self.errors(branch, value, where) for branch in branches]
            matching = sum(1 for errors in outcomes if not errors)
            chosen = _discriminated(schema, branches, value)
            if matching == 0 and chosen is not None:
                found += outcomes[chosen]  # the branch the value names: its own errors
            elif matching == 0:
                detail = "; ".join(f"branch {i}: {' | '.join(e)}" for i, e in enumerate(outcomes))
                found.append(f"{where}: matches no branch of {keyword} ({detail})")
            elif keyword == "oneOf" and matching > 1:
                found.append(f"{where}: matches {matching} branches of oneOf, not exactly one")
        return found

    @staticmethod
    def _bounds(schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
        found = []
        if type(value) in (int, float):
            if "minimum" in schema and value < schema["minimum"]:
                found.append(f"{where}: {value} is below the minimum {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                found.append(f"{where}: {value} is above the maximum {schema['maximum']}")
        if type(value) in (str, list):
            low, high = (
                ("minLength", "maxLength") if type(value) is str else ("minItems", "maxItems")
            )
            if low in schema and len(value) < schema[low]:
                found.append(f"{where}: {len(value)} long, {low} is {schema[low]}")
            if high in schema and len(value) > schema[high]:
                found.append(f"{where}: {len(value)} long, {high} is {schema[high]}")
        if type(value) is str:
            if "pattern" in schema and re.search(schema["pattern"], value) is None:
                found.append(f"{where}: {value!r:.60} does not match {schema['pattern']!r}")
            form = _FORMATS.get(schema.get("format", ""))
            if form is not None and form.fullmatch(value) is None:
                found.append(f"{where}: {value!r:.60} is not a {schema['format']}")
        return found

    def _object(self, schema: Mapping[str, Any], value: dict[str, Any], where: str) -> list[str]:
        properties: Mapping[str, Any] = schema.get("properties", {})
        found = [
            f"{where}: the required field {name!r} is missing"
            for name in schema.get("required", ())
            if name not in value
        ]
        extra = schema.get("additionalProperties", False)
        if not properties and "additionalProperties" not in schema and _combines(schema):
            return found  # the branches of oneOf, anyOf or allOf name the fields
        for name, item in value.items():
            if name in properties:
                found += self.errors(properties[name], item, f"{where}.{name}")
            elif extra is False:
                found.append(f"{where}: the field {name!r} is not in the document")
            elif extra is not True:
                found += self.errors(extra, item, f"{where}.{name}")
        return found


def _discriminated(schema: Mapping[str, Any], branches: list[Any], value: Any) -> int | None:
    """The index of the branch the discriminator of *schema* picks for *value*, if any."""
    discriminator = schema.get("discriminator")
    if discriminator is None or type(value) is not dict:
        return None
    target = discriminator.get("mapping", {}).get(value.get(discriminator["propertyName"]))
    refs = [branch.get("$ref") for branch in branches]
    return refs.index(target) if target in refs else None


def _about_objects(schema: Mapping[str, Any]) -> bool:
    """*schema* says what an object holds (a bare ``{"type": "object"}``: nothing)."""
    kinds = schema.get("type", ())
    if "object" in (kinds if isinstance(kinds, list) else [kinds]):
        return True
    return any(k in schema for k in ("properties", "required", "additionalProperties"))


def _combines(schema: Mapping[str, Any]) -> bool:
    return any(keyword in schema for keyword in ("oneOf", "anyOf", "allOf"))


def mismatches(document: Mapping[str, Any], schema: Mapping[str, Any], value: Any) -> list[str]:
    """Every way *value* departs from *schema* (``$ref`` resolved in *document*)."""
    return _Checker(document).errors(schema, value, "$")


def answer_schema(
    document: Mapping[str, Any], path: str, method: str = "get", status: str = "200"
) -> dict[str, Any]:
    """The JSON schema of the *status* answer of *method* *path* in *document*."""
    answer = document["paths"][path][method]["responses"][status]
    if "$ref" in answer:
        answer = _resolve(document, answer["$ref"])
    schema: dict[str, Any] = answer["content"]["application/json"]["schema"]
    return schema


async def served_document(collector: Collector) -> dict[str, Any]:
    """The OpenAPI document *collector* serves."""
    status, document = await collector.call("GET", "/v1/openapi.json", project=None)
    assert status == 200, document
    served: dict[str, Any] = document
    return served


def assert_matches(
    document: Mapping[str, Any], path: str, answer: Any, method: str = "get", status: str = "200"
) -> None:
    """Fail, naming every mismatch, unless *answer* is what *document* says *path* answers."""
    found = mismatches(document, answer_schema(document, path, method, status), answer)
    assert not found, f"{method.upper()} {path} departs from the document:\n" + "\n".join(found)
