"""Who may call what: API key scopes, dashboard sessions and their roles, CSRF.

Every route declares what it needs (``Need``, in ``_views.ROUTES``); a
request brings either an API key (``Authorization``) or a dashboard session
(the ``agentsight_session`` cookie), and gets 401 without one, 403 when what
it brought may not do that:

==========  ======  ====  ======  ======  ======
need        ingest  read  admin   viewer  admin
            key     key   key     user    user
==========  ======  ====  ======  ======  ======
INGEST      yes     no    yes     no      no
READ        no      yes   yes     yes     yes
MANAGE      no      no    yes     no      yes
USERS       no      no    no      no      yes
SESSION     no      no    no      yes     yes
==========  ======  ====  ======  ======  ======

A key works in its own project only.  A session names its project in the
``X-AgentSight-Project`` header (percent-encoded): a viewer may open the
projects granted to it, an admin every project.  A session's request that
changes anything must carry the session's CSRF token in ``X-CSRF-Token``
(a page of another origin cannot read it, nor add the header without a CORS
preflight that the collector never allows), and must not come from another
origin (``Origin``, ``Sec-Fetch-Site``); the cookie itself is
``SameSite=Strict`` and ``HttpOnly``, so the browser does not even send it
from another site, and no script can read it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import urllib.parse
from typing import Any, Literal

import attrs
from aiohttp import web

from .._ingest._time import now_micros
from .._state import OPTIONS, STORAGE
from .._usage import USAGE
from ..storage import AuditEntry, SessionRecord
from ._auth import CHALLENGE, authenticate
from ._clientip import _parse, _trusted
from ._errors import ApiError
from ._ratelimit import RATE_LIMITER, too_many

__all__ = [
    "CSRF_HEADER",
    "PROJECT_HEADER",
    "SESSION_COOKIE",
    "Caller",
    "Need",
    "ProjectMode",
    "authorize",
    "csrf_for",
    "ended_cookie",
    "is_https",
    "same_origin",
    "token_hash",
]


class Need(enum.Enum):
    """What a route needs of its caller."""

    PUBLIC = "public"  #: nothing (health, the API document, the dashboard's files, login)
    #: sending events (POST /v1/batch, /v1/traces and the official SDKs' /api/ writes):
    #: a key of scope ingest or admin
    INGEST = "ingest"
    READ = "read"  #: the GET routes: a key of scope read or admin, any user
    MANAGE = "manage"  #: changes and deletions: an admin key, an admin user
    USERS = "users"  #: the collector's users: an admin user
    SESSION = "session"  #: the session itself: any signed-in user


#: Whether a route works in one project: keys always name theirs; a session
#: names it in the header, which a "required" route must have.
ProjectMode = Literal["required", "optional", "none"]

KEY_RIGHTS = {
    "ingest": frozenset({Need.INGEST}),
    "read": frozenset({Need.READ}),
    "admin": frozenset({Need.INGEST, Need.READ, Need.MANAGE}),
}
ROLE_RIGHTS = {
    "viewer": frozenset({Need.READ, Need.SESSION}),
    "admin": frozenset({Need.READ, Need.MANAGE, Need.USERS, Need.SESSION}),
}
SESSION_COOKIE = "agentsight_session"
PROJECT_HEADER = "X-AgentSight-Project"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_INGEST_ONLY = (
    ", which may only send events: POST /v1/batch, /v1/traces and the official SDKs' /api/ writes"
)
_KEY_NEEDS = {
    Need.INGEST: "sending events needs a key of scope ingest or admin",
    Need.READ: "reading needs a key of scope read or admin",
    Need.MANAGE: "changes, deletions and the audit log need a key of scope admin",
    Need.USERS: "users are managed by admin users of the dashboard or with"
    " `agentsight users`, never with an API key",
    Need.SESSION: "this is the dashboard's session, which an API key does not have",
}


def token_hash(token: str) -> str:
    """The form a session token is stored in: hex SHA-256 (tokens are random: no salt)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_for(token: str) -> str:
    """The CSRF token of the session *token*: derived, so it needs no storage of its own."""
    return hashlib.sha256(b"agentsight csrf\x00" + token.encode("utf-8")).hexdigest()


@attrs.frozen
class Caller:
    """Who is calling, as far as the route is concerned.

    ``actor`` is how the audit log names it: ``key 3 ags_…_abc123`` or the
    user's e-mail address.  ``project_id`` is the key's project, or the one
    a session named (``None`` when it named none).
    """

    kind: Literal["key", "user"]
    role: str  # the key's scope, or the user's role
    actor: str
    project_id: int | None
    address: str | None
    session: SessionRecord | None = None
    csrf_token: str | None = None
    token_hash: str | None = None

    @property
    def project(self) -> int:
        """The project of a route that needs one (``ProjectMode`` "required")."""
        assert self.project_id is not None, "the route declares no project"
        return self.project_id

    def entry(
        self,
        action: str,
        target: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        project_id: int | None = None,
    ) -> AuditEntry:
        """An audit entry of this caller (in its project unless another is given)."""
        project = self.project_id if project_id is None else project_id
        return AuditEntry(self.actor, action, project, target, details, self.address)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource else request.path}"


def ended_cookie() -> str:
    """A ``Set-Cookie`` value that makes the browser forget the session cookie."""
    return f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"


def _signed_out(message: str) -> ApiError:
    return ApiError(401, message, {**CHALLENGE, "Set-Cookie": ended_cookie()})


def same_origin(request: web.Request) -> None:
    """Refuse (403) a browser request that says it comes from another origin."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise ApiError(403, f"Sec-Fetch-Site: {site[:32]}: only this dashboard may do that")
    origin = request.headers.get("Origin")
    # Host names only: a proxy may forward Host without the port the browser used
    # (nginx's $host).  Another port of this host is still refused: by
    # Sec-Fetch-Site (same-site), and always by the CSRF token.
    if origin is not None and (_host(origin) or "?") != _host("//" + request.host):
        raise ApiError(403, f"Origin: {origin[:100]} is not this collector: only its dashboard")


def _host(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:  # a malformed Origin or Host: matches nothing
        return None


def _check_csrf(request: web.Request, expected: str) -> None:
    same_origin(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode("utf-8", "replace"), expected.encode("ascii")):
        raise ApiError(
            403,
            f"{CSRF_HEADER}: missing or wrong; a change made with a dashboard session must"
            " carry the session's csrf_token (GET /v1/session)",
        )


async def _session(request: web.Request) -> tuple[SessionRecord, str, str]:
    """The live session of the cookie: the record, the token's hash, its CSRF token."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not 20 <= len(token) <= 100:
        raise _signed_out(f"{SESSION_COOKIE}: not a session of this collector; sign in again")
    hashed = token_hash(token)
    record = await request.app[STORAGE].find_session(hashed)
    if record is None:
        raise _signed_out("session: unknown or ended; sign in again")
    now = now_micros()
    seen = max(record.last_seen_at, request.app[USAGE].session_seen(hashed) or 0)
    idle = round(request.app[OPTIONS].session_idle * 1_000_000)
    if now >= record.expires_at or now - seen >= idle:
        raise _signed_out("session: expired; sign in again")
    return record, hashed, csrf_for(token)


def _project(request: web.Request, record: SessionRecord, mode: ProjectMode) -> int | None:
    """The project a session's request names in the header, when it may open it."""
    raw = request.headers.get(PROJECT_HEADER)
    if raw is None:
        if mode == "required":
            names = ", ".join(repr(n) for n in list(record.projects)[:20]) or "none"
            raise ApiError(
                400, f"{PROJECT_HEADER}: expected the name of a project you may open ({names})"
            )
        return None
    try:
        name = urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise ApiError(400, f"{PROJECT_HEADER}: expected a percent-encoded UTF-8 name") from None
    project_id = record.projects.get(name)
    if project_id is None:
        raise ApiError(403, f"{PROJECT_HEADER}: you may not open a project {name[:256]!r}")
    return project_id


async def authorize(request: web.Request, need: Need, mode: ProjectMode) -> Caller:
    """The caller of *request*, when it may do what the route needs.

    Raises:
        ApiError: 401 without a valid key or session; 403 when the key's
            scope or the user's role does not allow it, a session's change
            lacks its CSRF token, or names a project it may not open; 400
            when a session names no project where one is needed; 429 past
            the rate limit.
    """
    if "Authorization" in request.headers or SESSION_COOKIE not in request.cookies:
        key = await authenticate(request)
        if need not in KEY_RIGHTS[key.scope]:
            only = _INGEST_ONLY if key.scope == "ingest" else ""
            raise ApiError(
                403,
                f"{_route(request)}: this API key has scope {key.scope!r}{only};"
                f" {_KEY_NEEDS[need]}",
            )
        request.app[USAGE].key_used(key.id)
        actor = f"key {key.id} {key.redacted}"
        return Caller("key", key.scope, actor, key.project_id, request.remote)
    record, hashed, csrf = await _session(request)
    if request.method not in _SAFE_METHODS:
        _check_csrf(request, csrf)
    if need not in ROLE_RIGHTS[record.role]:
        if need is Need.INGEST:
            why = "it takes an API key of scope ingest or admin, not a dashboard session"
        else:
            why = f"user {record.email} has role {record.role!r}; this needs an admin"
        raise ApiError(403, f"{_route(request)}: {why}")
    project_id = None if mode == "none" else _project(request, record, mode)
    limiter = request.app.get(RATE_LIMITER)
    if limiter is not None and (wait := limiter.take(f"user:{record.user_id}")) > 0:
        raise too_many(wait, "for this user")
    request.app[USAGE].session_used(hashed)
    return Caller(
        "user", record.role, record.email, project_id, request.remote, record, csrf, hashed
    )


def is_https(request: web.Request) -> bool:
    """Whether the browser reached us over TLS: directly, or as a trusted proxy says.

    A proxy's ``X-Forwarded-Proto`` is believed only from ``trusted_proxies``
    (the rightmost value: the one the proxy next to us set).
    """
    if request.secure:
        return True
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    trusted = request.app[OPTIONS].trusted_proxies
    if not peer or not trusted:
        return False
    address = _parse(str(peer[0]))
    if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return False
    if not _trusted(address, trusted):
        return False
    values = request.headers.getall("X-Forwarded-Proto", ())
    last = ",".join(values).split(",")[-1].strip().lower() if values else ""
    return last == "https"
