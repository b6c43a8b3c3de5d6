"""Administration: retention, erasure of one customer, the audit log, users' projects.

``GET|PUT /v1/retention``, ``POST /v1/erasure`` and ``GET /v1/audit`` work
in the caller's project (an admin key's, or the one a session names);
``GET /v1/users`` and ``PUT /v1/users/{user_id}/projects`` are the
collector's, for admin users only.  Every change is written to the audit
log, with who made it and from which address.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from aiohttp import web

from .._http._access import Caller
from .._http._errors import ApiError, json_response
from .._ingest import _fields as f
from .._retention import MAX_RETENTION_DAYS, erase_customer
from .._state import STORAGE
from ..storage import Storage, UserInfo
from ._conversations import object_body

__all__ = [
    "customer_reference",
    "get_audit",
    "get_retention",
    "list_users",
    "post_erasure",
    "put_grants",
    "put_retention",
]

_DIGITS = re.compile(r"[0-9]{1,18}")
_LIMIT = re.compile(r"[0-9]{1,3}")


def customer_reference(customer_id: str) -> str:
    """How the audit log names an erased customer: a hash, not the identifier itself.

    The log keeps no personal data of someone who asked to be forgotten,
    and whoever knows the identifier can still find the erasure.
    """
    return "sha256:" + hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:32]


async def _project_name(request: web.Request, project_id: int) -> str:
    storage = request.app[STORAGE]
    projects = await storage.list_projects()
    return next(p.name for p in projects if p.id == project_id)


async def _retention_days(storage: Storage, project_id: int) -> int | None:
    projects = await storage.list_projects()
    return next(p.retention_days for p in projects if p.id == project_id)


async def get_retention(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/retention``: the project's retention period in days (``null``: for ever)."""
    storage = request.app[STORAGE]
    days = await _retention_days(storage, caller.project)
    name = await _project_name(request, caller.project)
    return json_response({"project": name, "retention_days": days})


def _days(body: dict[str, Any]) -> int | None:
    if "retention_days" not in body:
        raise ApiError(400, "retention_days: required (a number of days, or null for ever)")
    days = body["retention_days"]
    if days is None:
        return None
    if type(days) is not int or not 1 <= days <= MAX_RETENTION_DAYS:
        raise ApiError(
            400,
            f"retention_days: expected an integer from 1 to {MAX_RETENTION_DAYS},"
            f" or null for ever; got {str(days)[:40]}",
        )
    return days


async def put_retention(request: web.Request, caller: Caller) -> web.Response:
    """``PUT /v1/retention``: ``{"retention_days": 30}`` (or ``null``: keep for ever)."""
    days = _days(await object_body(request, ("retention_days",)))
    storage = request.app[STORAGE]
    project_id = caller.project
    before = await _retention_days(storage, project_id)
    await storage.set_retention(project_id, days)
    entry = caller.entry("retention.set", details={"days": days, "was": before})
    await storage.add_audit(entry)
    name = await _project_name(request, project_id)
    return json_response({"project": name, "retention_days": days})


async def post_erasure(request: web.Request, caller: Caller) -> web.Response:
    """``POST /v1/erasure``: ``{"customer_id": ...}``: every conversation, event and
    feedback of that customer in the project, deleted; the counts (GDPR article 17).
    """
    body = await object_body(request, ("customer_id",))
    customer_id = body.get("customer_id")
    if (
        type(customer_id) is not str
        or not 1 <= len(customer_id) <= 256
        or "\x00" in customer_id
        or not f.storable(customer_id)
    ):
        raise ApiError(
            400, "customer_id: expected 1 to 256 characters of valid Unicode, without U+0000"
        )
    storage = request.app[STORAGE]
    done = await erase_customer(storage, caller.project, customer_id)
    entry = caller.entry("customer.erase", customer_reference(customer_id), done.as_dict())
    await storage.add_audit(entry)
    return json_response({"customer_id": customer_id, **done.as_dict()})


def _audit_params(request: web.Request) -> tuple[int, int | None]:
    limit, before = 100, None
    for name in request.query:
        value = request.query.getall(name)
        if name not in ("limit", "before") or len(value) > 1:
            raise ApiError(
                400, f"{name[:64]}: unknown or repeated parameter; expected limit, before"
            )
        if name == "limit":
            if _LIMIT.fullmatch(value[0]) is None or not 1 <= int(value[0]) <= 500:
                raise ApiError(400, "limit: expected an integer from 1 to 500 in ASCII digits")
            limit = int(value[0])
        elif _DIGITS.fullmatch(value[0]) is None:
            raise ApiError(400, "before: expected an entry id (the next_before of a page)")
        else:
            before = int(value[0])
    return limit, before


async def get_audit(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/audit``: newest first; an admin key sees its project's entries, an admin
    user the named project's with the collector's own (users), or (naming none) everything.
    """
    limit, before = _audit_params(request)
    storage = request.app[STORAGE]
    wide = caller.kind == "user"
    entries = await storage.list_audit(caller.project_id, limit + 1, before, collector_wide=wide)
    next_before = entries[limit - 1]["id"] if len(entries) > limit else None
    return json_response({"entries": entries[:limit], "next_before": next_before})


def _user(user: UserInfo) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "role": user.role,
        "created_at": user.created_at,
        "projects": list(user.projects),
    }


async def list_users(request: web.Request, caller: Caller) -> web.Response:
    """``GET /v1/users``: every user with its role and granted projects."""
    storage = request.app[STORAGE]
    users = await storage.list_users()
    return json_response({"users": [_user(u) for u in users]})


async def put_grants(request: web.Request, caller: Caller) -> web.Response:
    """``PUT /v1/users/{user_id}/projects``: ``{"projects": [names]}``, the projects a viewer
    may open (an admin opens every project whatever it is granted).
    """
    raw = request.match_info["user_id"]
    body = await object_body(request, ("projects",))
    names = body.get("projects")
    if type(names) is not list or not all(type(n) is str for n in names) or len(names) > 10_000:
        raise ApiError(400, "projects: expected a list of project names")
    storage = request.app[STORAGE]
    known = {p.name: p.id for p in await storage.list_projects()}
    missing = [n for n in names if n not in known]
    if missing:
        raise ApiError(400, f"projects: no project named {missing[0][:256]!r}")
    users = {u.id: u for u in await storage.list_users()}
    user = users.get(int(raw)) if _DIGITS.fullmatch(raw) else None
    if user is None:
        raise ApiError(404, f"user_id: no user {raw[:32]!r}")
    ids = [known[n] for n in names]
    await storage.set_grants(user.id, ids)
    entry = caller.entry("user.grant", user.email, {"projects": sorted(set(names))})
    await storage.add_audit(entry)
    granted = tuple(n for n in known if n in set(names))
    changed = UserInfo(user.id, user.email, user.role, user.created_at, granted)
    return json_response({"user": _user(changed)})
