"""Keys and projects: authentication, revocation, isolation."""

from __future__ import annotations

import json

import pytest

from agentsight._keys import generate_key, hash_key
from agentsight.server.storage import ConversationQuery
from tests.server.collector_helpers import Collector, batch, conversation, message

pytestmark = pytest.mark.anyio


async def _post_with(collector: Collector, authorization: str | None) -> tuple[int, object]:
    body = json.dumps(batch(conversation("c1", 0, 0.0), message("c1", 1, 1.0))).encode()
    headers = {} if authorization is None else {"Authorization": authorization}
    async with collector.session.post("/v1/batch", data=body, headers=headers) as response:
        return response.status, await response.json()


def _last_character_changed(key: str) -> str:
    return key[:-1] + ("1" if key.endswith("0") else "0")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer ags_0123",
        "Bearer " + _last_character_changed(generate_key()),  # checksum broken
        "Bearer " + generate_key(),  # well formed, never issued
        "Bearer ags_' OR 1=1 --",
    ],
)
async def test_missing_or_wrong_key_is_401_and_stores_nothing(
    collector: Collector, authorization: str | None
) -> None:
    """No, malformed, or unknown keys get a 401 JSON error and nothing is stored."""
    status, answer = await _post_with(collector, authorization)
    assert status == 401
    assert isinstance(answer, dict)
    assert "error" in answer
    for project in ("A", "B"):
        assert (await collector.listing(project))["conversations"] == []


async def test_a_key_with_one_wrong_character_is_told_apart(collector: Collector) -> None:
    """A key of the right shape whose checksum fails says so, not "not a key": a typo."""
    key = generate_key()
    typo = key[:8] + ("1" if key[8] == "0" else "0") + key[9:]
    status, answer = await _post_with(collector, f"Bearer {typo}")
    assert status == 401 and isinstance(answer, dict)
    assert "checksum does not match: a character is wrong" in answer["error"]
    status, answer = await _post_with(collector, "Bearer ags_0123")
    assert status == 401 and isinstance(answer, dict)
    assert "expected an AgentSight key" in answer["error"]


@pytest.mark.parametrize("scheme", ["Bearer", "Api-Key", "bearer", "API-KEY"])
async def test_both_schemes_are_accepted(collector: Collector, scheme: str) -> None:
    """Authorization: Bearer KEY and Api-Key KEY both work, scheme case-insensitive."""
    status, _ = await _post_with(collector, f"{scheme} {collector.keys['A']}")
    assert status == 200


async def test_revoked_key_is_401_and_stores_nothing(collector: Collector) -> None:
    """A revoked key is refused at once; a key of the same project still works."""
    assert await collector.storage.revoke_key(hash_key(collector.keys["A"]))
    status, _ = await _post_with(collector, f"Bearer {collector.keys['A']}")
    assert status == 401
    status, _ = await collector.call("GET", "/v1/conversations")
    assert status == 401
    page = await collector.storage.list_conversations(1, ConversationQuery())
    assert page.conversations == []


async def test_projects_are_isolated(collector: Collector) -> None:
    """A key of B neither sees nor changes A's conversations; each lists only its own."""
    await collector.send(conversation("shared-id", 0, 0.0, customer_id="a-user"), project="A")
    await collector.send(conversation("only-b", 0, 0.0, customer_id="b-user"), project="B")
    calls = [
        ("GET", "/v1/conversations/shared-id", None),
        ("PATCH", "/v1/conversations/shared-id", {"name": "stolen"}),
        ("POST", "/v1/conversations/shared-id/feedback", {"sentiment": "negative"}),
        ("DELETE", "/v1/conversations/shared-id", None),
    ]
    for method, path, body in calls:
        status, _ = await collector.call(method, path, project="B", json=body)
        assert status == 404, (method, path)
    conv = (await collector.conversation("shared-id", project="A"))["conversation"]
    assert (conv["name"], conv["feedback"]) == (None, [])
    assert [c["conversation_id"] for c in (await collector.listing("A"))["conversations"]] == [
        "shared-id"
    ]
    assert [c["conversation_id"] for c in (await collector.listing("B"))["conversations"]] == [
        "only-b"
    ]


async def test_same_conversation_id_in_two_projects_is_two_conversations(
    collector: Collector,
) -> None:
    """Conversation ids are scoped to the project: B's events do not touch A's conversation."""
    await collector.send(conversation("c1", 0, 0.0, customer_id="from-a"), project="A")
    await collector.send(
        conversation("c1", 0, 0.0, customer_id="from-b"), message("c1", 1, 1.0), project="B"
    )
    a = (await collector.conversation("c1", "A"))["conversation"]
    b = (await collector.conversation("c1", "B"))["conversation"]
    assert (a["customer_id"], a["message_count"]) == ("from-a", 0)
    assert (b["customer_id"], b["message_count"]) == ("from-b", 1)
