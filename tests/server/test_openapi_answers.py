"""The answers are what the served OpenAPI document says, field by field.

A real collector (SQLite and PostgreSQL) tracks conversations with customers,
metadata, escalations, negative feedback and priced and unpriced model calls;
each report route is called with and without its options, as are the
changes, the users', the session's and the batch's routes, and each real
answer is checked against the schema of the document the collector serves,
strictly (``tests/server/openapi_helpers.py``): a field the document does not
name, a required field missing or a value of another type fails.  The
metrics' sections are in ``test_openapi_metrics.py``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from agentsight.server.storage._reports import CUSTOMER_SORTS
from tests.server.access_helpers import PASSWORD, add_user, sign_in
from tests.server.collector_helpers import (
    Collector,
    action,
    attachment,
    batch,
    button,
    conversation,
    message,
    score,
    tokens,
    ts,
)
from tests.server.openapi_helpers import answer_schema, assert_matches, mismatches, served_document

pytestmark = pytest.mark.anyio

_METADATA = {
    "plan": "pro",
    "seats": 3,
    "ratio": 0.5,
    "trial": False,
    "note": None,
    "tags": ["a", "b"],
    "owner": {"team": "support"},
}


def _said(cid: str, seq: int, at: float, text: str, metadata: dict[str, Any]) -> dict[str, Any]:
    return {**message(cid, seq, at, text), "metadata": metadata}


async def _tracked(collector: Collector) -> Collector:
    """ann: two conversations (one escalated, one with negative feedback), priced calls;
    bob: an escalation and only unpriced calls (his cost is null); one with no customer."""
    await collector.send(
        conversation(
            "c1",
            0,
            0.0,
            customer_id="ann",
            source="web",
            language="en",
            device="desktop",
            customer_ip_address="8.8.8.8",
            metadata=_METADATA,
        ),
        _said("c1", 1, 1.0, "Where is my order?", {"intent": "order", "confidence": 0.9}),
        message("c1", 2, 2.0, "Let me check.", "agent"),
        action("c1", 3, 3.0, "fallback_to_human"),
        tokens("c1", 4, 4.0, 1000, 100, model="gpt-4o", provider="openai"),
        conversation("c2", 0, 10.0, customer_id="ann", source="whatsapp", metadata={"plan": 2}),
        _said("c2", 1, 11.0, "  where is MY order!! ", {"intent": "order"}),
        message("c2", 2, 12.0, "It left today.", "agent"),
        tokens("c2", 3, 13.0, 50, 5, model="no-such-model-anywhere"),
        conversation("c3", 0, 20.0, customer_id="bob", source="web", device="mobile"),
        message("c3", 1, 21.0, "cancel my plan"),
        action("c3", 2, 22.0, "open_ticket"),
        tokens("c3", 3, 23.0, 10, 10),
        conversation("c4", 0, 30.0, source="telegram", metadata={"plan": "free"}),
        message("c4", 1, 31.0, "refund please"),
        conversation("c5", 0, 40.0, used=False, customer_id="carol"),
    )
    for cid, sentiment in (("c2", "negative"), ("c4", "negative"), ("c1", "positive")):
        status, answer = await collector.call(
            "POST", f"/v1/conversations/{cid}/feedback", json={"sentiment": sentiment}
        )
        assert status == 201, answer
    return collector


async def _answers(
    collector: Collector, path: str, options: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """The answers of GET *path* with each of *options*, checked against the document."""
    document = await served_document(collector)
    answers = []
    for params in options:
        status, answer = await collector.call("GET", path, params=params)
        assert status == 200, (params, answer)
        assert_matches(document, path, answer)
        answers.append(answer)
    return answers


async def test_customers_answers_are_documented(collector: Collector) -> None:
    """Each customers page, whatever its sort, page or filters, is the document's CustomerPage."""
    options: list[dict[str, str]] = [
        {},
        *({"sort": sort} for sort in CUSTOMER_SORTS),
        {"limit": "1", "offset": "1"},
        {"offset": "50"},
        {"source": "web", "tz": "Europe/Berlin", "escalation_actions": "open_ticket"},
        {"since": ts(0), "until": ts(15), "customer_id": "ann"},
    ]
    answers = await _answers(await _tracked(collector), "/v1/customers", options)
    costs = [c["cost"]["usd"] for c in answers[0]["customers"]]
    assert answers[0]["total"] == 3  # carol's conversation was only initialised
    assert None in costs  # bob's calls were all unpriced
    assert answers[-3]["customers"] == []


async def test_unhandled_answers_are_documented(collector: Collector) -> None:
    """The unhandled messages, grouped or none, are the document's Unhandled."""
    options: list[dict[str, str]] = [
        {},
        {"limit": "1"},
        {"escalation_actions": "open_ticket,fallback_to_human", "tz": "Asia/Tokyo"},
        {"customer_id": "nobody"},
    ]
    answers = await _answers(await _tracked(collector), "/v1/metrics/unhandled", options)
    assert [g["text"] for g in answers[0]["groups"]] == [
        "where is my order",  # c1 escalated, c2 negative
        "cancel my plan",
        "refund please",
    ]
    assert answers[-1] == {"messages": 0, "groups": []}


async def test_metadata_answers_are_documented(collector: Collector) -> None:
    """The keys present and a key's values of any JSON type are the document's MetadataReport."""
    options: list[dict[str, str]] = [
        {},
        {"of": "messages"},
        *({"key": key} for key in _METADATA),
        {"key": "intent", "of": "messages"},
        {"key": "confidence", "of": "messages", "source": "web"},
        {"key": "absent"},
        {"key": "plan", "customer_id": "nobody"},
    ]
    answers = await _answers(await _tracked(collector), "/v1/metrics/metadata", options)
    assert answers[0]["key"] is None
    assert {k["key"] for k in answers[0]["keys"]} == set(_METADATA)
    values = [v["value"] for answer in answers[2:] for v in answer.get("values", ())]
    assert {type(v) for v in values} == {str, int, float, bool, type(None)}


async def test_filter_values_answer_is_documented(collector: Collector) -> None:
    """The pick-lists' values are the document's FilterValues."""
    [answer] = await _answers(await _tracked(collector), "/v1/filter-values", [{}])
    assert answer["device"] == [
        {"value": "desktop", "conversations": 1},
        {"value": "mobile", "conversations": 1},
    ]


async def test_costs_are_documented(collector: Collector) -> None:
    """Every cost (the metrics', a conversation's, a listed row's), priced or not, is documented."""
    await _tracked(collector)
    document = await served_document(collector)
    schemas = document["components"]["schemas"]
    for params in ({}, {"customer_id": "bob"}, {"source": "nowhere"}):
        status, figures = await collector.call("GET", "/v1/metrics", params=params)
        assert status == 200, figures
        assert mismatches(document, schemas["Metrics"]["properties"]["cost"], figures["cost"]) == []
    listed = await collector.listing()
    assert_matches(document, "/v1/conversations", listed)
    assert {row["cost"]["usd"] is None for row in listed["conversations"]} == {True, False}
    for cid in ("c1", "c3"):
        detail = await collector.conversation(cid)
        assert_matches(document, "/v1/conversations/{conversation_id}", detail)


async def test_the_check_is_strict(collector: Collector) -> None:
    """A field the document does not name, or a required field missing, fails the check."""
    await _tracked(collector)
    document = await served_document(collector)
    status, answer = await collector.call("GET", "/v1/customers")
    assert status == 200
    schema = document["paths"]["/v1/customers"]["get"]["responses"]["200"]
    schema = schema["content"]["application/json"]["schema"]
    assert mismatches(document, schema, answer) == []
    first = answer["customers"][0]
    extra = {**answer, "customers": [{**first, "region": "EU"}]}
    assert mismatches(document, schema, extra) == [
        "$.customers[0]: the field 'region' is not in the document"
    ]
    missing = {**answer, "customers": [{k: v for k, v in first.items() if k != "cost"}]}
    assert mismatches(document, schema, missing) == [
        "$.customers[0]: the required field 'cost' is missing"
    ]
    status, keys = await collector.call("GET", "/v1/metrics/metadata")
    assert status == 200
    schema = document["paths"]["/v1/metrics/metadata"]["get"]["responses"]["200"]
    schema = schema["content"]["application/json"]["schema"]
    # Keys and values at once is neither of the report's two shapes.
    [found] = mismatches(document, schema, {**keys, "values": [], "missing": 0, "other": 0})
    assert found.startswith("$: matches no branch of oneOf")


async def test_change_answers_are_documented(collector: Collector) -> None:
    """Deletion, feedback, score, retention, erasure, audit and health answers are documented."""
    await _tracked(collector)
    document = await served_document(collector)
    one = "/v1/conversations/{conversation_id}"
    calls: list[tuple[str, str, str, dict[str, Any] | None, int]] = [
        ("post", one + "/feedback", "c1", {"sentiment": "neutral", "comment": "ok"}, 201),
        ("post", one + "/scores", "c1", {"name": "helpful", "value": 0.5}, 201),
        ("post", one + "/scores", "c3", {"name": "topic", "value": "x", "source": "human"}, 201),
        ("delete", one, "c4", None, 200),
        ("get", "/v1/retention", "", None, 200),
        ("put", "/v1/retention", "", {"retention_days": 30}, 200),
        ("put", "/v1/retention", "", {"retention_days": None}, 200),
        ("post", "/v1/erasure", "", {"customer_id": "bob"}, 200),
        ("get", "/v1/audit", "", None, 200),
        ("get", "/v1/health", "", None, 200),
    ]
    for method, path, cid, body, expected in calls:
        status, answer = await collector.call(
            method.upper(), path.replace("{conversation_id}", cid), json=body
        )
        assert status == expected, (path, answer)
        assert_matches(document, path, answer, method, str(expected))
    status, audit = await collector.call("GET", "/v1/audit", params={"limit": "1"})
    assert status == 200
    assert_matches(document, "/v1/audit", audit)
    assert audit["next_before"] is not None


def _bare(document: Mapping[str, Any], schema: Any, where: str, seen: set[str]) -> Iterator[str]:
    """Where *schema* (and what it refers to) has an object that names no field."""
    if not isinstance(schema, Mapping):
        return
    if "$ref" in schema:
        name = schema["$ref"]
        if name not in seen:
            seen.add(name)
            target: Any = document
            for part in name[2:].split("/"):
                target = target[part]
            yield from _bare(document, target, name, seen)
        return
    kinds = schema.get("type", ())
    named = ("properties", "additionalProperties", "oneOf", "anyOf", "allOf")
    if "object" in (kinds if isinstance(kinds, list) else [kinds]) and not any(
        keyword in schema for keyword in named
    ):
        yield where
    for name, inner in schema.get("properties", {}).items():
        yield from _bare(document, inner, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        yield from _bare(document, schema.get(key), f"{where}[]", seen)
    for key in ("oneOf", "anyOf", "allOf"):
        for index, inner in enumerate(schema.get(key, ())):
            yield from _bare(document, inner, f"{where}/{key}/{index}", seen)


async def test_every_answer_names_its_fields(collector: Collector) -> None:
    """No answer of the document is a bare object, but OpenTelemetry's and the document's own."""
    document = await served_document(collector)
    bare = []
    for path, methods in document["paths"].items():
        if path in ("/v1/traces", "/v1/openapi.json"):  # OTLP's messages; this document
            continue
        for method, operation in methods.items():
            if method == "parameters":
                continue
            for status, answer in operation["responses"].items():
                if "$ref" in answer:
                    answer = answer_schema(document, path, method, status)
                else:
                    answer = answer.get("content", {}).get("application/json", {}).get("schema")
                where = f"{method.upper()} {path} {status}"
                bare += [f"{where}: {found}" for found in _bare(document, answer, "$", set())]
    assert not bare, "objects that name no field:\n" + "\n".join(bare)


async def test_account_answers_are_documented(collector: Collector) -> None:
    """Signing in and out, the session, the users and a change of grants are documented."""
    document = await served_document(collector)
    storage = collector.storage
    viewer = await add_user(storage, "viewer@example.com", "viewer", ("A",))
    await add_user(storage, "admin@example.com", "admin")
    status, answer, admin = await sign_in(collector.session, "admin@example.com")
    assert status == 200 and admin is not None, answer
    assert_matches(document, "/v1/session", answer, "post")
    path = "/v1/users/{user_id}/projects"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("get", "/v1/session", None),
        ("get", "/v1/users", None),
        ("put", path, {"projects": ["A", "B"]}),
        ("put", path, {"projects": []}),
        ("delete", "/v1/session", None),
    ]
    answers = []
    for method, template, body in calls:
        headers = admin.for_change() if method != "get" else admin.headers
        url = template.replace("{user_id}", str(viewer))
        async with collector.session.request(
            method.upper(), url, json=body, headers=headers
        ) as response:
            assert response.status == 200, (template, await response.text())
            answers.append(await response.json())
        assert_matches(document, template, answers[-1], method)
    assert {u["email"]: u["projects"] for u in answers[1]["users"]} == {
        "viewer@example.com": ["A"],
        "admin@example.com": [],
    }
    assert answers[-1] == {"signed_out": True}


async def test_batch_answers_are_documented(collector: Collector) -> None:
    """A batch's answer, with rejections with and without an id, is BatchAnswer, strictly."""
    document = await served_document(collector)
    good = conversation("b1")
    bad_id = {**message("b1", 1, 1.0), "id": 12345}  # not echoed: not an id
    bad_field = {**message("b1", 2, 2.0), "sender": "robot"}
    await collector.send(good)
    body = json.dumps(batch(good, bad_id, bad_field, message("b1", 3, 3.0))).encode()
    status, answer = await collector.post_raw(body, {"Content-Type": "application/json"})
    assert status == 200, answer
    assert_matches(document, "/v1/batch", answer, "post")
    assert [(r["index"], r["id"]) for r in answer["rejected"]] == [(1, None), (2, bad_field["id"])]
    schema = answer_schema(document, "/v1/batch", "post")
    first = answer["rejected"][0]
    unnamed = {**answer, "rejected": [{k: v for k, v in first.items() if k != "id"}]}
    assert mismatches(document, schema, unnamed) == [
        "$.rejected[0]: the required field 'id' is missing"
    ]
    assert mismatches(document, schema, {**answer, "spooled": 0}) == [
        "$: the field 'spooled' is not in the document"
    ]


async def test_stored_events_name_every_field(collector: Collector) -> None:
    """Each event of a conversation, its cost_usd included, has only fields the document names."""
    await collector.send(
        conversation("e1", customer_id="ann", metadata={"plan": "pro"}),
        conversation("e1", 1, 0.5, used=False),
        message("e1", 2, 1.0),
        action("e1", 3, 2.0, step_id="s1"),
        button("e1", 4, 3.0),
        tokens("e1", 5, 4.0, 1000, 100, model="gpt-4o", provider="openai"),
        tokens("e1", 6, 5.0),
        score("e1", 7, 6.0, "topic", "billing"),
        attachment("e1", 8, 7.0, {"filename": "a.txt", "mime_type": "text/plain", "data": "aGk="}),
    )
    document = copy.deepcopy(await served_document(collector))
    schemas = document["components"]["schemas"]
    for name in schemas["Event"]["discriminator"]["mapping"].values():
        # The kinds stay open to fields of a later wire schema; closed here, so that a
        # field the collector writes and the document does not name shows.
        schemas[name.rpartition("/")[2]]["additionalProperties"] = False
    detail = await collector.conversation("e1")
    assert_matches(document, "/v1/conversations/{conversation_id}", detail)
    costs = [e["cost_usd"] for e in detail["events"] if e["type"] == "token_usage"]
    assert costs[1] is None and costs[0] > 0


def _component(document: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The component *schema* refers to, failing unless it is a named one."""
    assert "$ref" in schema, f"an inline schema, not a named component: {schema}"
    target: dict[str, Any] = document["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return target


async def test_conversation_answers_are_documented(collector: Collector) -> None:
    """A conversation and a change of it answer named, closed schemas with their fields required."""
    await collector.send(
        conversation("d1", customer_id="ann", metadata={"plan": "pro"}),
        message("d1", 1, 1.0, "Where is my order?"),
        message("d1", 2, 2.0, "Let me check.", "agent"),
        action("d1", 3, 3.0, "fallback_to_human"),
        button("d1", 4, 4.0),
        tokens("d1", 5, 5.0, 1000, 100, model="gpt-4o", provider="openai"),
        score("d1", 6, 6.0, "topic", "billing"),
        attachment("d1", 7, 7.0, {"filename": "a.txt", "mime_type": "text/plain", "data": "aGk="}),
        conversation("d2", 0, 10.0, used=False),
    )
    one = "/v1/conversations/{conversation_id}"
    for body in ({"sentiment": "negative", "comment": "slow"}, {"sentiment": "positive"}):
        status, answer = await collector.call("POST", "/v1/conversations/d1/feedback", json=body)
        assert status == 201, answer
    status, answer = await collector.call(
        "POST", "/v1/conversations/d1/scores", json={"name": "helpful", "value": True}
    )
    assert status == 201, answer
    document = await served_document(collector)
    detail = await collector.conversation("d1")
    assert_matches(document, one, detail)
    assert {e["type"] for e in detail["events"]} >= {
        "conversation",
        "message",
        "action",
        "button",
        "token_usage",
        "score",
        "attachment",
    }
    assert [f["sentiment"] for f in detail["conversation"]["feedback"]] == ["negative", "positive"]
    assert_matches(document, one, await collector.conversation("d2"))  # no events but its own
    patched = []
    changes: list[tuple[str, dict[str, Any]]] = [
        ("d1", {"name": "Order", "is_marked": True, "metadata": {"plan": None, "seats": 2}}),
        ("d1", {}),
        ("d2", {"metadata": {"note": "x"}}),
    ]
    for cid, body in changes:
        status, answer = await collector.call("PATCH", f"/v1/conversations/{cid}", json=body)
        assert status == 200, answer
        assert_matches(document, one, answer, "patch")
        patched.append(answer)
    assert patched[0]["conversation"]["metadata"] == {"seats": 2}
    assert patched[0]["conversation"]["is_marked"] is True
    for method, answer in (("get", detail), ("patch", patched[0])):
        schema = answer_schema(document, one, method)
        row = {k: v for k, v in answer["conversation"].items() if k != "feedback"}
        assert mismatches(document, schema, {**answer, "conversation": row}) == [
            "$.conversation: the required field 'feedback' is missing"
        ]
        named = _component(document, answer_schema(document, one, method))
        assert named["additionalProperties"] is False
        assert set(named["required"]) == set(answer)
        inner = _component(document, named["properties"]["conversation"])
        assert inner["additionalProperties"] is False
        assert set(inner["required"]) == set(answer["conversation"])


async def test_request_bodies_say_what_is_required(collector: Collector) -> None:
    """Each JSON body lists the fields its route refuses to go without, and is closed when the
    route refuses a field it does not know."""
    document = await served_document(collector)
    said = message("r1", 1, 1.0)
    await collector.send(conversation("r1"), said)
    viewer = await add_user(collector.storage, "viewer@example.com", "viewer")
    await add_user(collector.storage, "admin@example.com", "admin")
    status, answer, admin = await sign_in(collector.session, "admin@example.com")
    assert status == 200 and admin is not None, answer
    key = collector.auth()
    one = "/v1/conversations/{conversation_id}"
    # Each route with a JSON body: a body with every field, and the headers it needs.
    bodies: dict[tuple[str, str], tuple[dict[str, Any], dict[str, str]]] = {
        ("post", "/v1/batch"): (batch(conversation("r1")), key),
        ("patch", one): ({"name": "n", "metadata": {"a": 1}, "is_marked": True}, key),
        ("post", one + "/feedback"): (
            {"sentiment": "positive", "comment": "c", "metadata": {"a": 1}},
            key,
        ),
        ("post", one + "/scores"): (
            {
                "name": "s",
                "value": 1,
                "comment": "c",
                "message_id": said["id"],
                "source": "human",
                "metadata": {"a": 1},
            },
            key,
        ),
        ("put", "/v1/retention"): ({"retention_days": 30}, key),
        ("post", "/v1/erasure"): ({"customer_id": "nobody"}, key),
        ("put", "/v1/users/{user_id}/projects"): ({"projects": ["A"]}, admin.for_change()),
        ("post", "/v1/session"): ({"email": "admin@example.com", "password": PASSWORD}, {}),
    }
    routes = {
        (method, path)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method != "parameters"
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    }
    assert routes - {("post", "/v1/traces")} == set(bodies)  # OTLP's own message

    async def status_of(method: str, path: str, body: dict[str, Any], headers: Any) -> int:
        url = path.replace("{conversation_id}", "r1").replace("{user_id}", str(viewer))
        async with collector.session.request(
            method.upper(), url, json=body, headers=headers
        ) as response:
            return response.status

    for (method, path), (full, headers) in bodies.items():
        where = f"{method.upper()} {path}"
        schema = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        schema = schema["schema"]
        schema = _component(document, schema) if "$ref" in schema else schema
        assert set(schema["properties"]) == set(full), where
        assert await status_of(method, path, full, headers) in (200, 201), where
        refused = {
            name
            for name in full
            if await status_of(method, path, {k: v for k, v in full.items() if k != name}, headers)
            == 400
        }
        assert set(schema.get("required", ())) == refused, where
        unknown = await status_of(method, path, {**full, "unknown_field": 1}, headers)
        assert unknown == 400, where  # every route refuses what it does not know
        assert schema.get("additionalProperties") is False, where
