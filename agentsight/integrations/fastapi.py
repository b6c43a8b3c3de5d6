"""FastAPI (and Starlette): run the tracker with the app, one conversation per request.

    from fastapi import Depends, FastAPI
    from agentsight import ConversationTracker
    from agentsight.integrations.fastapi import conversation_dependency, tracker_lifespan

    tracker = ConversationTracker()                    # AGENTSIGHT_API_KEY, ..._ENDPOINT
    app = FastAPI(lifespan=tracker_lifespan(tracker))  # started in the app's loop
    in_conversation = conversation_dependency(tracker, header="X-Conversation-Id", source="web")

    @app.post("/chat")
    async def chat(text: str, conversation_id: str = Depends(in_conversation)) -> dict:
        await tracker.track_human_message(text)       # lands in conversation_id
        ...

``tracker_lifespan`` enters ``async with tracker`` when the app starts, so the
tracker's background task runs in the server's event loop (asyncio or trio),
and leaving it at shutdown delivers what is buffered.  ``conversation_dependency``
and ``ConversationMiddleware`` find the conversation id of a request (path
parameter, header, cookie, query parameter or a callable of yours) and run the
request inside ``tracker.conversation(id, **attributes)``: every tracking call
of the request belongs to it and, when the request ends, the previous
conversation (usually none) is current again.  Each request records one
``conversation`` event (the collector keeps the first value of each attribute).

Where the current conversation is visible, and where it is not
--------------------------------------------------------------
The current conversation is a ``ContextVar``.  A value set in one place is
seen by code that runs in that context or in a *copy made later*, never by
code whose context was copied before, nor by the caller of a copy:

- The async dependency above: seen by the endpoint, async or ``def`` (FastAPI
  runs a ``def`` endpoint in a thread pool with a copy of the request's
  context, made after the dependency ran), and by the dependencies that
  depend on it.
- A **sync** (``def``) dependency that calls ``get_or_create_conversation``
  runs in the thread pool in a *copy* of the context: the endpoint never
  sees its conversation.  Use the async dependency, or pass ``conversation_id=``.
- ``ConversationMiddleware`` (plain ASGI): seen by everything below it,
  routing, dependencies, endpoint.  It runs before routing, so it cannot read
  path parameters; use the dependency for those.  A ``BaseHTTPMiddleware``
  sees the conversation of middleware above it, but what an endpoint sets is
  never visible back in the middleware.
- ``BackgroundTasks``: whether they still run inside the dependency's block
  depends on the FastAPI version (in recent ones, 0.165 is tested, the block
  ends after them; versions from 0.106 to about 0.117 ended it before them).  Tasks started with
  ``asyncio.create_task`` or a thread pool of yours see the conversation as
  it was when they were created.  The pattern that always works: capture the
  id in the endpoint (``tracker.current_conversation_id`` or the value the
  dependency returned) and pass ``conversation_id=`` to the tracking calls
  made in the background.
- Tests driving the app through ``httpx.ASGITransport`` run each request in
  the *caller's* task: a conversation set without a block (plain
  ``get_or_create_conversation`` in an endpoint) leaks into the next request
  of the same task.  The dependency and the middleware restore it.

.. versionadded:: 0.2
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

try:
    from fastapi import HTTPException
    from starlette.requests import HTTPConnection
    from starlette.types import ASGIApp, Receive, Scope, Send
except ImportError as error:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "agentsight.integrations.fastapi needs FastAPI: pip install 'agentsight[fastapi]'"
    ) from error

from .._tracker import ConversationTracker, conversation_tracker
from ..helpers import generate_conversation_id

__all__ = ["ConversationMiddleware", "conversation_dependency", "tracker_lifespan"]

Resolver = Callable[[HTTPConnection], "str | Awaitable[str | None] | None"]
"""Finds the conversation id of a request; may be ``async``.  ``None``: not found."""
AttributesOf = Callable[[HTTPConnection], Mapping[str, Any]]
"""Per-request conversation attributes, e.g. ``customer_ip_address`` from the client."""
Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def tracker_lifespan(
    tracker: ConversationTracker | None = None, lifespan: Lifespan | None = None
) -> Lifespan:
    """A FastAPI/Starlette ``lifespan`` that runs *tracker* with the app.

    The tracker is entered (``async with``) before the app serves and left
    after it stopped, delivering what is buffered within ``shutdown_timeout``.

    Args:
        tracker: the tracker to run; default the module-level ``conversation_tracker``.
        lifespan: your own lifespan, entered inside the tracker's (what it
            yields, such as a state dict, is passed on).

    Returns:
        The function to pass as ``FastAPI(lifespan=...)``.
    """
    chosen = conversation_tracker if tracker is None else tracker

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[Any]:
        async with chosen:
            if lifespan is None:
                yield None
            else:
                async with lifespan(app) as state:
                    yield state

    return run


def _path_param(connection: HTTPConnection, name: str) -> Any:
    return connection.path_params.get(name)


def _header(connection: HTTPConnection, name: str) -> str | None:
    return connection.headers.get(name)


def _cookie(connection: HTTPConnection, name: str) -> str | None:
    return connection.cookies.get(name)


def _query_param(connection: HTTPConnection, name: str) -> str | None:
    return connection.query_params.get(name)


class _Lookup:
    """Where a request's conversation id is looked for, in this order."""

    def __init__(
        self,
        path_param: str | None,
        header: str | None,
        cookie: str | None,
        query_param: str | None,
        resolve: Resolver | None,
    ) -> None:
        given = [
            ("path parameter", path_param, _path_param),
            ("header", header, _header),
            ("cookie", cookie, _cookie),
            ("query parameter", query_param, _query_param),
        ]
        self.places = [(kind, name, read) for kind, name, read in given if name is not None]
        self.resolve = resolve
        if not self.places and resolve is None:
            raise TypeError("give at least one of path_param, header, cookie, query_param, resolve")

    async def find(self, connection: HTTPConnection) -> str | None:
        for _, name, read in self.places:
            value = read(connection, name)
            if value:
                return str(value)
        if self.resolve is not None:
            found = self.resolve(connection)
            if inspect.isawaitable(found):
                found = await found
            if found:
                return str(found)
        return None

    def describe(self) -> str:
        named = [f"{kind} {name!r}" for kind, name, _ in self.places]
        return " or ".join(named + (["the resolve callable"] if self.resolve else []))


def _attributes_of(
    connection: HTTPConnection, static: dict[str, Any], dynamic: AttributesOf | None
) -> dict[str, Any]:
    return static if dynamic is None else {**static, **dynamic(connection)}


def conversation_dependency(
    tracker: ConversationTracker | None = None,
    *,
    path_param: str | None = None,
    header: str | None = None,
    cookie: str | None = None,
    query_param: str | None = None,
    resolve: Resolver | None = None,
    attributes: AttributesOf | None = None,
    generate_missing: bool = False,
    **static_attributes: Any,
) -> Callable[[HTTPConnection], AsyncIterator[str]]:
    """A FastAPI dependency that runs the request inside its conversation.

    Use it as ``Depends(...)`` (it yields the conversation id) or in a route's
    ``dependencies=[...]``.  Works for HTTP and WebSocket routes.

    Args:
        tracker: default the module-level ``conversation_tracker``.
        path_param, header, cookie, query_param: where the id may be, tried in
            this order; the first non-empty value wins.
        resolve: tried last: ``resolve(request) -> id | None`` (may be async).
        attributes: ``attributes(request) -> mapping`` of per-request
            attributes (``customer_id``, ``customer_ip_address``...).
        generate_missing: no id found: generate one (``generate_conversation_id``)
            instead of answering 400.
        **static_attributes: attributes of every conversation (``source="web"``...).

    Returns:
        The dependency (an async generator function).

    Raises:
        TypeError: no place to look for the id was given.
    """
    chosen = conversation_tracker if tracker is None else tracker
    lookup = _Lookup(path_param, header, cookie, query_param, resolve)

    async def in_conversation(connection: HTTPConnection) -> AsyncIterator[str]:
        cid = await lookup.find(connection)
        if cid is None:
            if not generate_missing:
                raise HTTPException(400, f"no conversation id: expected {lookup.describe()}")
            cid = generate_conversation_id()
        async with chosen.conversation(
            cid, **_attributes_of(connection, static_attributes, attributes)
        ):
            yield cid

    return in_conversation


class ConversationMiddleware:
    """ASGI middleware: each HTTP or WebSocket request runs inside its conversation.

    ``app.add_middleware(ConversationMiddleware, tracker=tracker, header="X-Conversation-Id")``.
    It runs before routing: path parameters are not known yet (use
    ``conversation_dependency`` for them).  A request whose id is not found
    runs without a conversation, unless ``generate_missing`` is true.

    Args:
        app: the ASGI app it wraps.
        tracker, header, cookie, query_param, resolve, attributes,
            generate_missing, **static_attributes: as for ``conversation_dependency``.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        *,
        tracker: ConversationTracker | None = None,
        header: str | None = None,
        cookie: str | None = None,
        query_param: str | None = None,
        resolve: Resolver | None = None,
        attributes: AttributesOf | None = None,
        generate_missing: bool = False,
        **static_attributes: Any,
    ) -> None:
        self.app = app
        self.tracker = conversation_tracker if tracker is None else tracker
        self._lookup = _Lookup(None, header, cookie, query_param, resolve)
        self._attributes = attributes
        self._static = static_attributes
        self._generate = generate_missing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        cid = await self._lookup.find(connection)
        if cid is None and self._generate:
            cid = generate_conversation_id()
        if cid is None:
            await self.app(scope, receive, send)
            return
        attributes = _attributes_of(connection, self._static, self._attributes)
        async with self.tracker.conversation(cid, **attributes):
            await self.app(scope, receive, send)
