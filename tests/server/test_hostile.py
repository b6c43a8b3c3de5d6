"""Property test: hostile and malformed batches never cause a 500 or a half-stored batch."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentsight.server import ServerOptions
from tests.server.collector_helpers import (
    Collector,
    action,
    button,
    conversation,
    message,
    run_collector,
    tokens,
)
from tests.server.pg_helpers import Database

pytestmark = pytest.mark.anyio

ID_MARK, CID_MARK = "<id>", "<cid>"  # replaced by fresh values in each example
HOSTILE_TEXT = [
    "'; DROP TABLE events; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM conversations WHERE ('1'='1",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "%",
    "_",
    "\\",
    "\x00",
    "\ud800",
    "\udfff",
    "\ud83d",
    "😀",
    "\u202e",
    "",
    "ags_0123456789abcdef0123456789abcdef_000000",
    "x" * 5000,
]
OPTIONS = ServerOptions(
    max_body_bytes=256 * 1024,
    max_decompressed_bytes=512 * 1024,
    max_events=50,
    max_content_chars=1000,
    max_json_chars=2000,
    max_depth=16,
)

texts = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=30))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"k": [value]}
    return value


hostile = st.one_of(values, st.integers(10, 40).map(_nested))
BUILDERS = [
    lambda: conversation(CID_MARK, 0, 0.0, customer_ip_address="8.8.8.8", metadata={"a": 1}),
    lambda: conversation(CID_MARK, 0, 0.0, used=False),
    lambda: message(CID_MARK, 1, 1.0),
    lambda: action(CID_MARK, 2, 2.0),
    lambda: button(CID_MARK, 3, 3.0),
    lambda: tokens(CID_MARK, 4, 4.0),
]


@st.composite
def events(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """An event, and whether it was left valid; a mutated one may or may not still be valid."""
    event = draw(st.sampled_from(BUILDERS))()
    event["id"] = ID_MARK
    mutation = draw(st.sampled_from(["none", "none", "replace", "delete", "add"]))
    field = draw(st.sampled_from(sorted(event)))
    if mutation == "replace":
        event[field] = draw(hostile)
    elif mutation == "delete":
        del event[field]
    elif mutation == "add":
        event[draw(texts)] = draw(hostile)
    return event, mutation == "none"


batches = st.lists(st.one_of(events(), hostile.map(lambda v: (v, False))), max_size=12)
corruptions = st.sampled_from(
    [
        "none",
        "none",
        "none",
        "gzip",
        "truncated-gzip",
        "bad-utf8",
        "not-json",
        "deep",
        "wrong-schema",
        "junk-gzip",
    ]
)


def _instantiate(template: Any, cid: str) -> Any:
    if not isinstance(template, dict):
        return template
    event = dict(template)
    if event.get("id") == ID_MARK:
        event["id"] = uuid.uuid4().hex
    if event.get("conversation_id") == CID_MARK:
        event["conversation_id"] = cid
    return event


def _encode(body: dict[str, Any], corruption: str, position: int) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    at = position % max(len(raw), 1)
    match corruption:
        case "gzip":
            return gzip.compress(raw), {"Content-Encoding": "gzip"}
        case "truncated-gzip":
            packed = gzip.compress(raw)
            return packed[: at % len(packed)], {"Content-Encoding": "gzip"}
        case "junk-gzip":
            return raw, {"Content-Encoding": "gzip"} if at % 2 else {"Content-Encoding": "deflate"}
        case "bad-utf8":
            return raw[:at] + b"\xff\xc3(" + raw[at:], {}
        case "not-json":
            return raw[:at], {}
        case "deep":
            return b'{"schema": 1, "events": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", {}
        case "wrong-schema":
            return json.dumps({**body, "schema": [1]}).encode(), {}
    return raw, {}


@pytest.fixture
async def hardened(database: Database) -> AsyncIterator[Collector]:
    """A collector with small limits, so that hostile sizes are cheap to reach."""
    async with run_collector(database("hostile"), OPTIONS) as running:
        yield running


@settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=batches, corruption=corruptions, position=st.integers(0, 10**6))
async def test_no_hostile_body_gives_500_or_half_stores(
    hardened: Collector, items: list[tuple[Any, bool]], corruption: str, position: int
) -> None:
    """Any body: never a 500; valid events of a 200 are stored, nothing of a refused batch is."""
    cid = f"hostile-{uuid.uuid4().hex}"
    sent = [_instantiate(template, cid) for template, _ in items]
    body, headers = _encode({"schema": 1, "events": sent}, corruption, position)
    status, answer = await hardened.post_raw(body, headers)
    assert status in (200, 400, 413, 415), (status, answer)
    got, detail = await hardened.call("GET", f"/v1/conversations/{cid}")
    stored = {e["id"] for e in detail["events"]} if got == 200 else set()
    if status != 200:
        assert stored == set(), "a refused batch stored events"
        return
    rejected = {r["index"] for r in answer["rejected"]}
    assert answer["accepted"] + answer["duplicates"] + len(rejected) == len(sent)
    assert answer["duplicates"] == 0
    assert not any(valid for i, (_, valid) in enumerate(items) if i in rejected), answer["rejected"]
    ours = {
        e["id"]
        for i, e in enumerate(sent)
        if i not in rejected and isinstance(e, dict) and e.get("conversation_id") == cid
    }
    assert stored == ours
