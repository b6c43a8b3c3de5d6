"""The wire schema is written once (agentsight._wire): the docs and the collector follow it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentsight import _wire as wire
from agentsight.server._ingest._validate import Validator
from agentsight.server._openapi import openapi_document
from agentsight.server._options import ServerOptions

ROOT = Path(__file__).parents[1]


def _type(field: wire.Field) -> str:
    if field.choices:
        shown = " or ".join(f"`{c}`" for c in field.choices)
    else:
        names = {"timestamp": "RFC 3339 string", "any": "any JSON"}
        names |= {"integer": "integer ≥ 0", "number": "number ≥ 0"}
        names |= {"scalar": "number, boolean or string"}
        shown = names.get(field.kind, field.kind)
    return f"{shown} or null" if field.nullable and field.kind != "any" else shown


def _missing(field: wire.Field) -> str:
    if field.default is wire.REQUIRED:
        return "required"
    if field.default is None:
        return "null"
    return f"`{str(field.default).lower()}`"


def _limit(field: wire.Field) -> str:
    if field.name == "id":
        return f"`{wire.EVENT_ID_PATTERN}`"
    if field.kind == "timestamp":
        return f"{wire.EVENT_YEARS[0]} to {wire.EVENT_YEARS[1]}"
    if field.limit == wire.CONTENT:
        return "`max_content_chars`"
    if field.limit == wire.JSON:
        return "`max_json_chars`, `max_depth`"
    if field.limit is None:
        return ""
    unit = " characters" if field.kind in ("string", "scalar") else ""
    return f"{field.limit:,}{unit}"


def rows() -> list[str]:
    """The docs' table of fields, as the wire module says it must read."""
    lines = []
    for kind, fields in (("every event", wire.COMMON), *wire.SPECS.items()):
        for field in fields:
            where = kind if kind == "every event" else f"`{kind}`"
            cells = (where, f"`{field.name}`", _type(field), _missing(field), _limit(field))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def test_docs_table_of_fields_matches_the_wire_module() -> None:
    """docs/wire-schema.md lists every kind's fields, types, defaults and limits as _wire."""
    text = (ROOT / "docs" / "wire-schema.md").read_text()
    table = text.split("<!-- wire-fields -->")[1].split("<!-- /wire-fields -->")[0]
    documented = [row for row in table.splitlines() if row.startswith("| ") and "---" not in row]
    assert documented[1:] == rows(), "\n".join(rows())
    assert f"Wire schema, version {wire.SCHEMA_VERSION}" in text


def test_openapi_events_are_the_wire_kinds() -> None:
    """The OpenAPI document has one event schema per kind with the wire's fields in order,
    then only read-only ones (what the collector adds to the events it answers)."""
    schemas = openapi_document()["components"]["schemas"]
    mapping = schemas["Event"]["discriminator"]["mapping"]
    assert list(mapping) == list(wire.KINDS)
    for kind, ref in mapping.items():
        properties = schemas[ref.rsplit("/", 1)[1]]["properties"]
        own = list(properties)[len(wire.COMMON) :]
        assert own[: len(wire.FIELDS[kind])] == list(wire.FIELDS[kind])
        added = own[len(wire.FIELDS[kind]) :]
        assert all(properties[name]["readOnly"] is True for name in added), added


@pytest.mark.parametrize("kind", wire.KINDS)
def test_validator_requires_what_the_wire_requires(kind: str) -> None:
    """An event with only its required fields is accepted with the wire's defaults; without
    any one of them it is rejected, naming that field."""
    validator = Validator(ServerOptions())
    sample = {
        "string": "x",
        "integer": 1,
        "timestamp": "2026-12-04T10:00:00Z",
        "scalar": 0.5,
        "array": [],
    }
    event = {
        "id": "0" * 32,
        "type": kind,
        "conversation_id": "c",
        "seq": 0,
        "timestamp": "2026-12-04T10:00:00.000001Z",
    }
    for field in wire.SPECS[kind]:
        if field.default is wire.REQUIRED:
            event[field.name] = field.choices[0] if field.choices else sample[field.kind]
    stored = validator.check_event(dict(event))
    for field in wire.SPECS[kind]:
        if field.default is not wire.REQUIRED:
            assert stored.payload[field.name] == field.default, field.name
    for name in [f.name for f in (*wire.COMMON, *wire.SPECS[kind]) if f.default is wire.REQUIRED]:
        partial = {k: v for k, v in event.items() if k != name}
        with pytest.raises(ValueError, match=re.escape(name)):
            validator.check_event(partial)
