"""Every route of the application, for every key scope and user role (issue 17).

The expected rights are written here, route by route, and the test first
checks that they name exactly the routes of the application's router: a
new route fails this test until someone decides who may call it.  Then each
caller calls each route, on SQLite and PostgreSQL: a caller that may gets
neither 401 nor 403; one that may not gets 403 (401 without credentials)
with a message naming why, and nothing it tried changed anything.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web

from tests.server.access_helpers import (
    Credentials,
    add_key,
    add_user,
    key_credentials,
    sign_in,
)
from tests.server.collector_helpers import Collector, batch, conversation, message

from .helpers import run_secured

pytestmark = pytest.mark.anyio

ONE = "/v1/conversations/{conversation_id}"
READERS = frozenset({"read key", "admin key", "viewer", "admin user"})
MANAGERS = frozenset({"admin key", "admin user"})
INGESTERS = frozenset({"ingest key", "admin key"})
_OFFICIAL_WRITES = ("conversations", "track", "action_logs", "buttons", "attachments", "ingest")
_PK = "/api/conversations/{pk}/"
EVERYONE = frozenset({"nobody", "ingest key", "read key", "admin key", "viewer", "admin user"})
#: Who may call each route.  "nobody" is a caller without credentials.
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/batch"): frozenset({"ingest key", "admin key"}),
    ("POST", "/v1/traces"): frozenset({"ingest key", "admin key"}),
    ("GET", "/v1/conversations"): READERS,
    ("GET", ONE): READERS,
    ("PATCH", ONE): MANAGERS,
    ("DELETE", ONE): MANAGERS,
    ("POST", ONE + "/feedback"): MANAGERS,
    ("POST", ONE + "/scores"): MANAGERS,
    ("GET", "/v1/metrics"): READERS,
    ("GET", "/v1/metrics/summary"): READERS,
    ("GET", "/v1/metrics/unhandled"): READERS,
    ("GET", "/v1/metrics/metadata"): READERS,
    ("GET", "/v1/customers"): READERS,
    ("GET", "/v1/filter-values"): READERS,
    ("GET", "/v1/retention"): READERS,
    ("PUT", "/v1/retention"): MANAGERS,
    ("POST", "/v1/erasure"): MANAGERS,
    ("GET", "/v1/audit"): MANAGERS,
    ("GET", "/v1/users"): frozenset({"admin user"}),
    ("PUT", "/v1/users/{user_id}/projects"): frozenset({"admin user"}),
    ("GET", "/v1/session"): frozenset({"viewer", "admin user"}),
    ("DELETE", "/v1/session"): frozenset({"viewer", "admin user"}),
    ("POST", "/v1/session"): EVERYONE,
    ("GET", "/v1/health"): EVERYONE,
    ("GET", "/v1/openapi.json"): EVERYONE,
    ("GET", "/"): EVERYONE,
    ("GET", "/static/{name}"): EVERYONE,
    ("GET", ONE + "/attachments/{event_id}/{index}"): READERS,
    # The official SDKs' routes (server/_compat), as on /v1; GET /api/me/ takes keys only.
    **{("POST", f"/api/{name}/"): INGESTERS for name in _OFFICIAL_WRITES},
    ("POST", "/api/conversation-feedbacks/"): MANAGERS,
    ("POST", "/api/feedbacks/"): MANAGERS,
    ("GET", "/api/conversations/lookup/"): READERS,
    ("PATCH", _PK + "rename/"): MANAGERS,
    ("POST", _PK + "mark/"): MANAGERS,
    ("PATCH", _PK + "update/"): MANAGERS,
    ("DELETE", _PK + "delete/"): MANAGERS,
    ("GET", "/api/conversations/"): READERS,
    ("GET", _PK): READERS,
    ("GET", _PK + "attachments/"): READERS,
    ("GET", "/api/me/"): frozenset({"ingest key", "read key", "admin key"}),
}
SECRET = "a-secret-customer"
VIEWER, ADMIN = "viewer@example.com", "admin@example.com"


def _routes(app: web.Application) -> set[tuple[str, str]]:
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    # //api/... are the same handlers as /api/...; any other /api/ path (method *) is a 404.
    return {(m, t) for m, t in routes if not t.startswith("//") and m != "*"}


def _bodies(allowed: bool) -> dict[tuple[str, str], Any]:
    """A real body per route: harmless when the caller may, damaging when it may not."""
    cid = "ghost" if allowed else "victim"
    return {
        ("POST", "/v1/batch"): batch(message(f"{cid}-batch", 5, 5.0)),
        ("POST", "/v1/traces"): _otlp_json(f"{cid}-traces"),
        ("PATCH", ONE): {"name": "stolen", "is_marked": True},
        ("POST", ONE + "/feedback"): {"sentiment": "negative"},
        ("POST", ONE + "/scores"): {"name": "quality", "value": 1},
        ("PUT", "/v1/retention"): {"retention_days": None if allowed else 1},
        ("POST", "/v1/erasure"): {"customer_id": "nobody" if allowed else SECRET},
        ("PUT", "/v1/users/{user_id}/projects"): {"projects": ["A"] if allowed else ["A", "B"]},
        ("POST", "/v1/session"): {"email": VIEWER, "password": "correct horse battery staple"},
    }


def _otlp_json(session_id: str) -> dict[str, Any]:
    """An OTLP/JSON request: one model call of conversation *session_id*."""
    attributes = {"gen_ai.operation.name": "chat", "session.id": session_id}
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": "1796460072000000000",
        "endTimeUnixNano": "1796460073000000000",
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


@attrs.define
class World:
    collector: Collector
    app: web.Application
    callers: dict[str, Credentials]
    viewer_id: int


@contextlib.asynccontextmanager
async def _world(db: Path | str) -> AsyncIterator[World]:
    async with run_secured(db) as secured:  # type: ignore[arg-type]
        collector = secured.collector
        storage = collector.storage
        callers = {"nobody": Credentials("nobody", {})}
        for scope in ("ingest", "read", "admin"):
            callers[f"{scope} key"] = key_credentials(scope, await add_key(storage, "A", scope))
        viewer_id = await add_user(storage, VIEWER, "viewer", ("A",))
        await add_user(storage, ADMIN, "admin")
        for name, email in (("viewer", VIEWER), ("admin user", ADMIN)):
            status, answer, credentials = await sign_in(collector.session, email)
            assert status == 200 and credentials is not None, answer
            callers[name] = credentials
        await collector.send(
            conversation("victim", 0, 0.0, customer_id=SECRET), message("victim", 1, 1.0, SECRET)
        )
        yield World(collector, secured.app, callers, viewer_id)


def _path(template: str, allowed: bool, world: World) -> str:
    path = template.replace("{conversation_id}", "ghost" if allowed else "victim")
    path = path.replace("{user_id}", str(world.viewer_id))
    path = path.replace("{pk}", "999999" if allowed else "1")  # 1: the victim
    path = path.replace("{event_id}", "0" * 32).replace("{index}", "0")
    return re.sub(r"\{name\}", "app.js", path)


async def _call(
    world: World, caller: Credentials, method: str, template: str, allowed: bool
) -> tuple[int, str]:
    body = _bodies(allowed).get((method, template))
    headers = caller.headers if method == "GET" else caller.for_change()
    path = _path(template, allowed, world)
    session = world.collector.session
    async with session.request(method, path, json=body, headers=headers) as response:
        return response.status, await response.text()


def _error(text: str) -> str:
    """The message of an error: ``error`` on /v1, ``detail`` (as the official API) on /api,
    OTLP's Status ``message`` on /v1/traces."""
    answer = json.loads(text)
    return str(answer.get("error") or answer.get("detail") or answer["message"])


async def _nothing_changed(world: World) -> None:
    storage = world.collector.storage
    answer = await world.collector.conversation("victim", "A")
    conv = answer["conversation"]
    assert (conv["customer_id"], conv["name"], conv["is_marked"]) == (SECRET, None, False)
    assert conv["feedback"] == []
    assert [e["seq"] for e in answer["events"]] == [0, 1]
    projects = {p.name: p.retention_days for p in await storage.list_projects()}
    assert projects["A"] is None
    users = {u.email: u.projects for u in await storage.list_users()}
    assert users[VIEWER] == ("A",)
    listing = json.dumps(await world.collector.listing("A"))
    assert "victim-batch" not in listing and "victim-traces" not in listing
    actions = [e["action"] for e in await storage.list_audit(None, 500)]
    assert actions.count("customer.erase") <= 2  # the allowed erasures of "nobody" only
    assert "conversation.delete" not in actions  # the allowed deletes found no "ghost"


def test_the_expected_rights_name_every_route() -> None:
    """A route added to the application without a line here fails this test."""
    from agentsight.server._compat import COMPAT_ROUTES
    from agentsight.server._views import ROUTES

    official = {(m, re.sub(r"\{pk:[^}]+\}", "{pk}", p)) for m, p, *_ in COMPAT_ROUTES}
    official.add(("GET", "/api/me/"))
    assert {(r.method, r.path) for r in ROUTES} | official == set(EXPECTED)


async def test_every_route_for_every_scope_and_role(database_url: Path | str) -> None:
    """Each caller gets exactly the routes it may call; a refusal changes nothing."""
    async with _world(database_url) as world:
        assert _routes(world.app) == set(EXPECTED)
        # Signing out last: the sessions must live through every other route.
        order = sorted(EXPECTED, key=lambda r: r == ("DELETE", "/v1/session"))
        for name, caller in world.callers.items():
            for method, template in order:
                allowed = name in EXPECTED[(method, template)]
                status, text = await _call(world, caller, method, template, allowed)
                where = (name, method, template, status, text[:300])
                assert status < 500, where
                if allowed:
                    assert status not in (401, 403), where
                elif name == "nobody" or template == "/api/me/":
                    assert status == 401, where
                    assert "Authorization" in _error(text), where
                else:
                    assert status == 403, where
                    error = _error(text)
                    assert any(w in error for w in ("scope", "role", "API key")), where
        await _nothing_changed(world)


async def test_a_viewer_opens_only_its_projects(database_url: Path | str) -> None:
    """A viewer naming a project not granted gets 403, naming none 400; an admin opens any."""
    async with _world(database_url) as world:
        viewer, admin = world.callers["viewer"], world.callers["admin user"]
        session = world.collector.session
        for headers, expected in [
            ({**viewer.headers, "X-AgentSight-Project": "B"}, 403),
            ({**viewer.headers, "X-AgentSight-Project": "nonexistent"}, 403),
            ({k: v for k, v in viewer.headers.items() if k != "X-AgentSight-Project"}, 400),
            ({**admin.headers, "X-AgentSight-Project": "B"}, 200),
            ({**viewer.headers, "X-AgentSight-Project": "%ff"}, 400),
        ]:
            async with session.get("/v1/conversations", headers=headers) as response:
                answer = await response.json()
                assert response.status == expected, (headers, answer)
                if expected != 200:
                    assert "X-AgentSight-Project" in answer["error"]
        async with session.get("/v1/session", headers=viewer.headers) as response:
            assert (await response.json())["projects"] == ["A"]
        async with session.get("/v1/session", headers=admin.headers) as response:
            assert (await response.json())["projects"] == ["A", "B"]
