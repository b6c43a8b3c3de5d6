"""The query and management API: filters, pagination, detail, patch, delete, feedback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.collector_helpers import Collector, conversation, message, ts

pytestmark = pytest.mark.anyio

# id: (attributes, offset in seconds of its first event, message text)
DATA_SET: dict[str, tuple[dict[str, Any], float, str]] = {
    "c1": (
        {
            "customer_id": "u1",
            "source": "web",
            "device": "desktop",
            "language": "en",
            "environment": "production",
            "customer_ip_address": "8.8.8.8",
        },
        100.0,
        "I want a Refund for my order",
    ),
    "c2": (
        {
            "customer_id": "u2",
            "source": "mobile_app",
            "device": "mobile",
            "language": "de",
            "environment": "development",
            "customer_ip_address": "81.2.69.160",
            "used": False,
        },
        200.0,
        "Hallo, 100% sicher_ oder?",
    ),
    "c3": (
        {"customer_id": "u1", "source": "slack", "language": "fr", "environment": "production"},
        300.0,
        "refund please",
    ),
}


async def _load(collector: Collector) -> None:
    for cid, (attributes, at, text) in DATA_SET.items():
        await collector.send(conversation(cid, 0, at, **attributes), message(cid, 1, at + 1, text))


async def _ids(collector: Collector, **params: Any) -> list[str]:
    return [c["conversation_id"] for c in (await collector.listing(**params))["conversations"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["c3", "c2", "c1"]),
        ({"customer_id": "u1"}, ["c3", "c1"]),
        ({"source": "mobile_app"}, ["c2"]),
        ({"device": "desktop"}, ["c1"]),
        ({"language": "fr"}, ["c3"]),
        ({"environment": "development"}, ["c2"]),
        ({"country": "US"}, ["c1"]),
        ({"country": "GB"}, ["c2"]),
        ({"is_used": "true"}, ["c3", "c1"]),
        ({"is_used": "false"}, ["c2"]),
        ({"since": ts(200.0)}, ["c3", "c2"]),
        ({"until": ts(200.0)}, ["c1"]),
        ({"since": ts(150.0), "until": ts(250.0)}, ["c2"]),
        ({"q": "refund"}, ["c3", "c1"]),
        ({"q": "100%"}, ["c2"]),
        ({"q": "sicher_"}, ["c2"]),
        ({"q": "%"}, ["c2"]),
        ({"q": "nothing like this"}, []),
        ({"customer_id": "u1", "language": "en"}, ["c1"]),
    ],
)
async def test_filters(collector: Collector, params: dict[str, str], expected: list[str]) -> None:
    """Each filter of GET /v1/conversations selects exactly the matching conversations."""
    await _load(collector)
    assert await _ids(collector, **params) == expected


async def test_marked_and_sentiment_filters(collector: Collector) -> None:
    """is_marked and sentiment follow PATCH and feedback."""
    await _load(collector)
    assert (await collector.call("PATCH", "/v1/conversations/c2", json={"is_marked": True}))[
        0
    ] == 200
    feedback = {"sentiment": "negative", "comment": "slow"}
    assert (await collector.call("POST", "/v1/conversations/c1/feedback", json=feedback))[0] == 201
    assert await _ids(collector, is_marked="true") == ["c2"]
    assert await _ids(collector, is_marked="false") == ["c3", "c1"]
    assert await _ids(collector, sentiment="negative") == ["c1"]
    assert await _ids(collector, sentiment="positive") == []


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"device": "tablet"}, "device"),
        ({"is_used": "maybe"}, "is_used"),
        ({"since": "last week"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"q": ""}, "q"),
        ({"sentiment": "angry"}, "sentiment"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_query_parameter_is_named(
    collector: Collector, params: dict[str, str], name: str
) -> None:
    """A bad or unknown query parameter gives 400 with a message naming it."""
    status, answer = await collector.call("GET", "/v1/conversations", params=params)
    assert status == 400
    assert answer["error"].startswith(f"{name}: ")


async def _page_through(collector: Collector, limit: int, between: Any = None) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        page = await collector.listing(**params)
        seen += [c["conversation_id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        if between is not None:
            await between()


async def test_pagination_is_stable_while_rows_are_inserted(collector: Collector) -> None:
    """Paging sees every conversation that existed at the start exactly once, whatever is added."""
    original = [f"c{i:02d}" for i in range(25)]
    for i, cid in enumerate(original):
        await collector.send(conversation(cid, 0, float(i)))
    added = iter(range(100))

    async def insert_more() -> None:
        for _ in range(3):
            n = next(added)
            await collector.send(
                conversation(f"new{n}", 0, 1000.0 + n), message(original[n], 5, 0.0)
            )

    seen = await _page_through(collector, 10, insert_more)
    assert len(seen) == len(set(seen))
    assert [c for c in seen if c in original] == original[::-1]


async def test_pagination_without_changes_splits_evenly(collector: Collector) -> None:
    """Pages of size 2 over 5 conversations: 2, 2, 1, and no cursor after the last."""
    for i in range(5):
        await collector.send(conversation(f"c{i}", 0, float(i)))
    first = await collector.listing(limit=2)
    assert [c["conversation_id"] for c in first["conversations"]] == ["c4", "c3"]
    assert await _page_through(collector, 2) == ["c4", "c3", "c2", "c1", "c0"]


async def test_patch_renames_marks_and_merges_metadata(collector: Collector) -> None:
    """PATCH sets name and is_marked and merge-patches metadata."""
    await collector.send(conversation("c1", 0, 0.0, name="old", metadata={"a": 1, "b": 2}))
    body = {"name": "new", "is_marked": True, "metadata": {"b": None, "c": 3}}
    status, answer = await collector.call("PATCH", "/v1/conversations/c1", json=body)
    assert status == 200
    conv = answer["conversation"]
    assert (conv["name"], conv["is_marked"], conv["metadata"]) == ("new", True, {"a": 1, "c": 3})
    # A later conversation event does not undo the rename.
    await collector.send(conversation("c1", 1, 1.0, name="from the bot"))
    assert (await collector.conversation("c1"))["conversation"]["name"] == "new"


@pytest.mark.parametrize(
    "body",
    [{"name": 5}, {"is_marked": "yes"}, {"metadata": [1]}, {"colour": "red"}, [1, 2], "text"],
)
async def test_patch_with_bad_body_is_400(collector: Collector, body: Any) -> None:
    """A PATCH body with a wrong type or unknown field is refused with 400."""
    await collector.send(conversation("c1", 0, 0.0))
    status, answer = await collector.call("PATCH", "/v1/conversations/c1", json=body)
    assert status == 400, answer


async def test_feedback_is_listed_on_the_conversation(collector: Collector) -> None:
    """Feedback entries come back with the conversation, oldest first."""
    await collector.send(conversation("c1", 0, 0.0))
    for sentiment in ("positive", "neutral"):
        body = {"sentiment": sentiment, "comment": "ok", "metadata": {"by": "qa"}}
        status, _ = await collector.call("POST", "/v1/conversations/c1/feedback", json=body)
        assert status == 201
    feedback = (await collector.conversation("c1"))["conversation"]["feedback"]
    assert [f["sentiment"] for f in feedback] == ["positive", "neutral"]
    assert feedback[0]["metadata"] == {"by": "qa"}


async def test_feedback_with_bad_sentiment_is_400(collector: Collector) -> None:
    """sentiment must be positive, neutral or negative."""
    await collector.send(conversation("c1", 0, 0.0))
    status, answer = await collector.call(
        "POST", "/v1/conversations/c1/feedback", json={"sentiment": "meh"}
    )
    assert (status, answer["error"].split(":")[0]) == (400, "sentiment")


async def test_delete_removes_conversation_and_events(collector: Collector) -> None:
    """DELETE removes the conversation; a second DELETE is 404."""
    await collector.send(conversation("c1", 0, 0.0), message("c1", 1, 1.0))
    assert (await collector.call("DELETE", "/v1/conversations/c1"))[0] == 200
    assert (await collector.call("GET", "/v1/conversations/c1"))[0] == 404
    assert (await collector.call("DELETE", "/v1/conversations/c1"))[0] == 404
    assert await _ids(collector) == []


async def test_unknown_conversation_is_404_json(collector: Collector) -> None:
    """Every per-conversation route answers 404 with a JSON error for an unknown id."""
    for method, path, body in [
        ("GET", "/v1/conversations/nope", None),
        ("PATCH", "/v1/conversations/nope", {"name": "x"}),
        ("DELETE", "/v1/conversations/nope", None),
        ("POST", "/v1/conversations/nope/feedback", {"sentiment": "positive"}),
    ]:
        status, answer = await collector.call(method, path, json=body)
        assert (status, "error" in answer) == (404, True), (method, path)


async def test_health_needs_no_key(collector: Collector) -> None:
    """GET /v1/health answers without authentication."""
    assert await collector.call("GET", "/v1/health", project=None) == (200, {"status": "ok"})


async def test_openapi_describes_every_route(collector: Collector) -> None:
    """Every route of the application appears, with its method, in /v1/openapi.json."""
    status, document = await collector.call("GET", "/v1/openapi.json", project=None)
    assert status == 200
    assert document["openapi"].startswith("3.1")
    from agentsight.server import ServerOptions, create_app

    app = create_app(collector.storage, options=ServerOptions())
    routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.resource}
    # The official SDKs' routes are theirs (docs/coming-from-agentsight.md), not ours.
    routes = {(m, p) for m, p in routes if not p.startswith(("/api/", "//api/"))}
    documented = {(m, p) for p, ops in document["paths"].items() for m in ops if m != "parameters"}
    assert routes == documented


@pytest.mark.parametrize("cid", ["a/b", "with space", "ünïcödé", "50%", "x?y#z", "a" * 256])
async def test_any_conversation_id_is_reachable_percent_encoded(
    collector: Collector, cid: str
) -> None:
    """Ids with slashes, spaces, percent signs or Unicode work when percent-encoded in the path."""
    from urllib.parse import quote

    await collector.send(conversation(cid, 0, 0.0))
    path = f"/v1/conversations/{quote(cid, safe='')}"
    status, answer = await collector.call("GET", path)
    assert status == 200, answer
    assert answer["conversation"]["conversation_id"] == cid
    assert (await collector.call("POST", f"{path}/feedback", json={"sentiment": "positive"}))[
        0
    ] == 201
    assert (await collector.call("DELETE", path))[0] == 200


async def test_openapi_describes_every_field_of_a_conversation(collector: Collector) -> None:
    """Each key of a conversation, listed or in detail, is a property of the document's
    schema for it, Conversation or ConversationWithFeedback (a client generated from it
    sees every field)."""
    await collector.send(
        conversation("c1", 0, 0.0, customer_id="ann"), message("c1", 1, 1.0, "hello")
    )
    status, document = await collector.call("GET", "/v1/openapi.json", project=None)
    assert status == 200
    schemas = document["components"]["schemas"]
    described = set(schemas["Conversation"]["properties"])
    [listed] = (await collector.listing())["conversations"]
    detail = (await collector.conversation("c1"))["conversation"]
    assert set(listed) - described == set()
    assert set(detail) - set(schemas["ConversationWithFeedback"]["properties"]) == set()
