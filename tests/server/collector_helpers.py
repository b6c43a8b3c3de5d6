"""Helpers of the collector tests: building events and batches, running a collector."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from agentsight._keys import generate_key, hash_key, redact
from agentsight.server import ServerOptions, Storage, create_app, open_storage

BASE_SECONDS = 1_795_731_245  # 2026-11-26T22:14:05Z


async def mark_and_rate(db: Path | str) -> None:
    """Project 1 of *db*: conversation ``c3`` marked, ``c4`` given negative feedback."""
    from agentsight.server.storage import ConversationChanges, Feedback

    storage = await open_storage(db)
    try:
        await storage.update_conversation(1, "c3", ConversationChanges(is_marked=True))
        await storage.add_feedback(1, "c4", Feedback("negative"))
    finally:
        await storage.aclose()


async def every_page(storage: Storage, query: Any) -> tuple[list[str], int | None]:
    """Every page of the list *query* (a ``ConversationQuery``) in project 1, each after
    the cursor of the one before: the ids in order, and the first page's total."""
    found: list[str] = []
    page = await storage.list_conversations(1, query)
    total = page.total
    while True:
        found += [c["conversation_id"] for c in page.conversations]
        if page.next_before is None:
            return found, total
        query = attrs.evolve(query, before=page.next_before, after=page.next_value, count=False)
        page = await storage.list_conversations(1, query)


def new_id() -> str:
    """A fresh event id."""
    return uuid.uuid4().hex


def ts(offset: float = 0.0) -> str:
    """An RFC 3339 timestamp *offset* seconds after a fixed base."""
    micros = BASE_SECONDS * 1_000_000 + round(offset * 1_000_000)
    seconds, fraction = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:06d}Z"


def _event(kind: str, cid: str, seq: int, at: float, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id(),
        "type": kind,
        "conversation_id": cid,
        "seq": seq,
        "timestamp": ts(at),
        **fields,
    }


def conversation(
    cid: str, seq: int = 0, at: float = 0.0, *, used: bool = True, **attributes: Any
) -> dict[str, Any]:
    """A ``conversation`` (or, with ``used=False``, ``interaction``) event."""
    fields: dict[str, Any] = dict.fromkeys(
        ("customer_id", "customer_ip_address", "device", "source", "language", "name", "metadata")
    )
    fields.update(environment="production", is_used=used)
    fields.update(attributes)
    return _event("conversation" if used else "interaction", cid, seq, at, fields)


def message(
    cid: str, seq: int, at: float, content: str = "hello", sender: str = "end_user"
) -> dict[str, Any]:
    """A ``message`` event."""
    fields = {
        "sender": sender,
        "content": content,
        "metadata": None,
        "attachments": None,
        "truncated": False,
    }
    return _event("message", cid, seq, at, fields)


def action(cid: str, seq: int, at: float, name: str = "lookup", **more: Any) -> dict[str, Any]:
    """An ``action`` event (*more*: version 2's ``step_id``, ``parent_id``)."""
    fields = {
        "action_name": name,
        "started_at": ts(at),
        "ended_at": ts(at + 0.15),
        "duration_ms": 150,
        "tools_used": ["db"],
        "response": "found",
        "error_msg": None,
        "metadata": {"k": "v"},
        "step_id": None,
        "parent_id": None,
    }
    return _event("action", cid, seq, at, {**fields, **more})


def button(cid: str, seq: int, at: float) -> dict[str, Any]:
    """A ``button`` event."""
    fields = {"button_event": "rate", "label": "Good", "value": "up", "metadata": None}
    return _event("button", cid, seq, at, fields)


def tokens(
    cid: str, seq: int, at: float, prompt: int = 5, completion: int = 3, **more: Any
) -> dict[str, Any]:
    """A ``token_usage`` event (*more*: version 2's model, provider, step...)."""
    fields = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "embedding_tokens": 0,
        "model": None,
        "provider": None,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
        "started_at": None,
        "duration_ms": None,
        "step_id": None,
        "parent_id": None,
    }
    return _event("token_usage", cid, seq, at, {**fields, **more})


def score(cid: str, seq: int, at: float, name: str, value: Any, **more: Any) -> dict[str, Any]:
    """A ``score`` event (version 2)."""
    fields = {
        "name": name,
        "value": value,
        "comment": None,
        "message_id": None,
        "source": "sdk",
        "metadata": None,
    }
    return _event("score", cid, seq, at, {**fields, **more})


def attachment(
    cid: str, seq: int, at: float, *files: dict[str, Any], **more: Any
) -> dict[str, Any]:
    """An ``attachment`` event (version 2) carrying *files*."""
    fields = {"sender": None, "message_id": None, "files": list(files), "metadata": None}
    return _event("attachment", cid, seq, at, {**fields, **more})


def batch(*events: dict[str, Any], schema: int = 2) -> dict[str, Any]:
    """A wire batch around *events*."""
    return {"schema": schema, "sent_at": ts(), "events": list(events)}


@attrs.define
class Collector:
    """A running collector and a client session to talk to it."""

    url: str
    session: aiohttp.ClientSession
    keys: dict[str, str]
    storage: Storage
    db: Path | str  # a SQLite file, or a PostgreSQL URL
    app: web.Application | None = None

    def auth(self, project: str = "A") -> dict[str, str]:
        """The Authorization header of *project*'s key."""
        return {"Authorization": f"Bearer {self.keys[project]}"}

    async def post_raw(
        self, body: bytes, headers: dict[str, str] | None = None, project: str = "A"
    ) -> tuple[int, Any]:
        """POST raw bytes to /v1/batch; the status and the JSON answer."""
        # aiohttp warns about large bytes bodies; a BytesIO is sent the same way.
        data = io.BytesIO(body) if len(body) > 512 * 1024 else body
        headers = {**self.auth(project), **(headers or {})}
        async with self.session.post("/v1/batch", data=data, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def send(
        self, *events: dict[str, Any], project: str = "A", compress: bool = False
    ) -> dict[str, Any]:
        """POST a batch of *events*, expecting 200; the answer."""
        body = json.dumps(batch(*events)).encode()
        headers = {"Content-Type": "application/json"}
        if compress:
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        status, answer = await self.post_raw(body, headers, project)
        assert status == 200, answer
        return dict(answer)

    async def call(
        self, method: str, path: str, project: str | None = "A", **kwargs: Any
    ) -> tuple[int, Any]:
        """Any API call; the status and the JSON answer."""
        headers = self.auth(project) if project else {}
        async with self.session.request(method, path, headers=headers, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def conversation(self, cid: str, project: str = "A") -> dict[str, Any]:
        """GET one conversation (expecting 200): ``{"conversation": ..., "events": ...}``."""
        status, answer = await self.call("GET", f"/v1/conversations/{cid}", project)
        assert status == 200, answer
        return dict(answer)

    async def listing(self, project: str = "A", **params: Any) -> dict[str, Any]:
        """GET /v1/conversations with *params* (expecting 200)."""
        status, answer = await self.call("GET", "/v1/conversations", project, params=params)
        assert status == 200, answer
        return dict(answer)


@contextlib.asynccontextmanager
async def run_collector(
    db: Path | str, options: ServerOptions | None = None, **storage_options: Any
) -> AsyncIterator[Collector]:
    """Run a collector on 127.0.0.1 (a free port) over *db* with projects A and B.

    *db* is a SQLite file or a PostgreSQL URL (see the ``database`` fixture).
    """
    storage = await open_storage(db, **storage_options)
    keys = {}
    for project in ("A", "B"):
        key = generate_key()
        await storage.create_key(project, hash_key(key), redact(key), scope="admin")
        keys[project] = key
    app = create_app(storage, options=options)
    runner = web.AppRunner(app, access_log=None, auto_decompress=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession(url) as session:
            yield Collector(url, session, keys, storage, db, app)
    finally:
        await runner.cleanup()
