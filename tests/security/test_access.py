"""Unauthenticated and cross-project access, on every route the application has."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp import web

from agentsight._keys import generate_key, hash_key, redact
from tests.server.collector_helpers import batch, conversation, message

from .helpers import Secured

pytestmark = pytest.mark.anyio

#: The only routes open without a key (no data: liveness, the API document, the
#: dashboard's page and files); anything else must ask for one.
PUBLIC = {
    ("GET", "/v1/health"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/"),
    ("GET", "/static/{name}"),
    ("POST", "/v1/session"),  # signing in: an e-mail address and a password
}
#: The routes that read or write a project's conversations.
DATA = ("/v1/batch", "/v1/conversations", "/v1/metrics")
SECRET = "a-secret-customer"  # in project A's data; never in an answer to anyone else
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/batch"): batch(conversation("victim", 0, 0.0), message("victim", 1, 1.0)),
    ("PATCH", "/v1/conversations/{conversation_id}"): {"name": "stolen", "is_marked": True},
    ("POST", "/v1/conversations/{conversation_id}/feedback"): {"sentiment": "negative"},
    ("POST", "/v1/conversations/{conversation_id}/scores"): {"name": "quality", "value": 0},
}


def _routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path template) of *app*; a new route cannot escape these tests."""
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    assert routes, "no routes"
    return sorted(routes)


def _path(template: str, conversation_id: str = "victim") -> str:
    return re.sub(r"\{[^}]+\}", conversation_id, template)


async def _call(secured: Secured, method: str, template: str, headers: dict[str, str]) -> Any:
    body = BODIES.get((method, template))
    data = None if body is None else json.dumps(body).encode()
    session = secured.collector.session
    async with session.request(method, _path(template), data=data, headers=headers) as response:
        return response.status, response.headers, await response.text()


async def _seed(secured: Secured) -> None:
    """Project A has conversation ``victim`` with a secret customer id and a message."""
    await secured.collector.send(
        conversation("victim", 0, 0.0, customer_id=SECRET), message("victim", 1, 1.0, SECRET)
    )


async def _victim_untouched(secured: Secured) -> None:
    answer = await secured.collector.conversation("victim", "A")
    conv = answer["conversation"]
    assert (conv["customer_id"], conv["name"], conv["is_marked"]) == (SECRET, None, False)
    assert conv["feedback"] == []
    assert [e["seq"] for e in answer["events"]] == [0, 1]


async def test_only_the_listed_routes_are_public(secured: Secured) -> None:
    """Without a key only health, the OpenAPI document and the dashboard answer; all else 401."""
    await _seed(secured)
    public = set()
    for method, template in _routes(secured.app):
        status, headers, text = await _call(secured, method, template, {})
        assert SECRET not in text, (method, template)
        if status != 401:
            public.add((method, template))
        else:
            assert headers["WWW-Authenticate"].startswith("Bearer")
            assert "error" in json.loads(text)
    assert public == PUBLIC
    for method, template in sorted(PUBLIC - {("GET", "/static/{name}"), ("POST", "/v1/session")}):
        assert (await _call(secured, method, template, {}))[0] == 200, template
    await _victim_untouched(secured)


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Token ags_x",
        "Basic dXNlcjpwYXNz",
        "Bearer ags_0123",
        "Bearer " + generate_key()[:-1] + "0",  # checksum broken
        "Bearer " + generate_key().upper(),
        "Bearer " + generate_key() + "x",
        "Bearer " + generate_key(),  # well formed, never issued
        "Bearer ags_' OR 1=1 --",
    ],
)
async def test_every_private_route_refuses_missing_or_malformed_keys(
    secured: Secured, authorization: str
) -> None:
    """A missing, malformed or unknown key gets 401 on every non-public route, nothing changes."""
    await _seed(secured)
    for method, template in _routes(secured.app):
        if (method, template) in PUBLIC:
            continue
        status, _, text = await _call(secured, method, template, {"Authorization": authorization})
        assert status == 401, (method, template, status, text)
        assert SECRET not in text
    await _victim_untouched(secured)


async def test_every_private_route_refuses_a_revoked_key(secured: Secured) -> None:
    """A revoked key of project A itself gets 401 on every non-public route, nothing changes."""
    await _seed(secured)
    revoked = generate_key()
    await secured.collector.storage.create_key(
        "A", hash_key(revoked), redact(revoked), scope="admin"
    )
    assert await secured.collector.storage.revoke_key(hash_key(revoked))
    for method, template in _routes(secured.app):
        if (method, template) in PUBLIC:
            continue
        headers = {"Authorization": f"Bearer {revoked}"}
        status, _, text = await _call(secured, method, template, headers)
        assert status == 401, (method, template, status, text)
        assert SECRET not in text
    await _victim_untouched(secured)


async def test_another_projects_key_finds_no_conversation(secured: Secured) -> None:
    """B's key gets 404 on every route naming A's conversation; A's data never shown or changed."""
    await _seed(secured)
    named = 0
    # The routes naming a conversation first: B's batch then writes B's own "victim".
    routes = sorted(_routes(secured.app), key=lambda r: "{conversation_id}" not in r[1])
    for method, template in routes:
        if (method, template) in PUBLIC or not template.startswith(DATA):
            continue
        status, _, text = await _call(secured, method, template, secured.collector.auth("B"))
        assert SECRET not in text, (method, template)
        if "{conversation_id}" in template:
            named += 1
            assert status == 404, (method, template, status, text)
        else:  # the listing and the batch: B's own data (a conversation "victim" of B's)
            assert status == 200, (method, template, status, text)
    assert named >= 4
    await _victim_untouched(secured)
    listed = await secured.collector.listing("B")
    assert SECRET not in json.dumps(listed)
