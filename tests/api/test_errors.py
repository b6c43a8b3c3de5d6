"""Bad arguments, configuration and network failures, checked before or instead of a request."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from agentsight import APIError, ConfigurationError, ValidationError
from agentsight.api import AsyncClient, Client, agentsight_api

pytestmark = pytest.mark.anyio

KEY = "ags_" + "0" * 32 + "_000000"


@contextlib.asynccontextmanager
async def _serving(answer: dict[str, Any], status: int) -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server answering *answer* to every request; its URL and what it got."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs}")
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


@pytest.fixture
async def counting() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server that records every request it gets (and answers 500)."""
    async with _serving({"error": "counting server"}, 500) as served:
        yield served


BAD_CALLS: list[tuple[str, Callable[[AsyncClient], Awaitable[Any]]]] = [
    ("conversation_id", lambda c: c.get_conversation("")),
    ("conversation_id", lambda c: c.get_conversation("   ")),
    ("conversation_id", lambda c: c.delete_conversation(None)),  # type: ignore[arg-type]
    ("name", lambda c: c.rename_conversation("c1", "")),
    ("is_marked", lambda c: c.mark_conversation("c1", "yes")),  # type: ignore[arg-type]
    ("metadata", lambda c: c.update_conversation("c1", metadata=[1])),  # type: ignore[arg-type]
    ("name, metadata, is_marked", lambda c: c.update_conversation("c1")),
    ("sentiment", lambda c: c.submit_feedback("c1", "angry")),  # type: ignore[arg-type]
    ("comment", lambda c: c.submit_feedback("c1", "neutral", 5)),  # type: ignore[arg-type]
    ("colour", lambda c: c.list_conversations(colour="red")),  # type: ignore[call-arg]
    ("device", lambda c: c.list_conversations(device="tablet")),  # type: ignore[arg-type]
    ("is_used", lambda c: c.list_conversations(is_used="yes")),  # type: ignore[arg-type]
    ("since", lambda c: c.list_conversations(since="yesterday")),
    ("until", lambda c: c.list_conversations(until=dt.date(2026, 1, 1))),  # type: ignore[arg-type]
    ("source", lambda c: c.list_conversations(source="")),
    ("limit", lambda c: c.list_conversations(limit=0)),
    ("limit", lambda c: c.list_conversations(limit=501)),
    ("cursor", lambda c: c.list_conversations(cursor="")),
]


@pytest.mark.parametrize(("argument", "call"), BAD_CALLS)
async def test_bad_arguments_raise_before_any_request(
    counting: tuple[str, list[str]], argument: str, call: Callable[[AsyncClient], Awaitable[Any]]
) -> None:
    """A bad argument raises ValidationError naming it, and nothing reaches the server."""
    url, seen = counting
    async with AsyncClient(KEY, url) as client:
        with anyio.fail_after(10), pytest.raises(ValidationError, match=f"^{argument}: "):
            await call(client)
    assert seen == []


async def test_bad_iteration_arguments_raise_before_any_request(
    counting: tuple[str, list[str]],
) -> None:
    """iter_conversations checks its filters before the first page, sync and async."""
    url, seen = counting
    async with AsyncClient(KEY, url) as client:
        with pytest.raises(ValidationError, match=r"^q: "):
            await client.iter_conversations(q="").__anext__()
    with (
        Client(KEY, url) as sync_client,
        pytest.raises(ValidationError, match=r"^page_size|^limit"),
    ):
        sync_client.iter_conversations(page_size=-1)
    assert seen == []


async def test_original_filter_names(counting: tuple[str, list[str]]) -> None:
    """fetch_conversations maps the original SDK's filter names and refuses unknown ones."""
    url, seen = counting
    agentsight_api.configure(api_key=KEY, endpoint=url)
    try:
        with pytest.raises(ValidationError, match=r"^colour: unknown filter"):
            agentsight_api.fetch_conversations(colour="x")  # type: ignore[call-arg]
        with pytest.raises(ValidationError, match=r"^page_size: given together with limit"):
            agentsight_api.fetch_conversations(page_size=2, limit=3)
        handle = agentsight_api.fetch_conversations(
            page_size=2, message_contains="hi", feedback_sentiment="neutral"
        )
        with anyio.fail_after(10), pytest.raises(APIError) as caught:
            await handle
        assert caught.value.status == 500
        assert seen == ["GET /v1/conversations?q=hi&sentiment=neutral&limit=2"]
    finally:
        await agentsight_api.close()
        agentsight_api.configure()


def test_configuration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyword arguments win over AGENTSIGHT_* variables, which win over the default."""
    assert AsyncClient().endpoint == "http://127.0.0.1:8787"
    assert AsyncClient().api_key is None
    monkeypatch.setenv("AGENTSIGHT_API_KEY", KEY)
    monkeypatch.setenv("AGENTSIGHT_API_ENDPOINT", "https://collector.example/")
    from_env = AsyncClient()
    assert (from_env.api_key, from_env.endpoint) == (KEY, "https://collector.example")
    explicit = AsyncClient("ags_other", "http://10.0.0.1:9000", timeout=2)
    assert (explicit.api_key, explicit.endpoint, explicit.timeout) == (
        "ags_other",
        "http://10.0.0.1:9000",
        2.0,
    )


def test_bad_configuration() -> None:
    """A non-http endpoint or a timeout <= 0 raises ConfigurationError at construction."""
    with pytest.raises(ConfigurationError, match=r"^endpoint: "):
        AsyncClient(KEY, "ftp://collector")
    with pytest.raises(ConfigurationError, match=r"^timeout: "):
        Client(KEY, timeout=0)


async def test_missing_key_raises_before_any_request(counting: tuple[str, list[str]]) -> None:
    """Without a key every call but health() raises ConfigurationError and sends nothing."""
    url, seen = counting
    async with AsyncClient(endpoint=url) as client:
        with pytest.raises(ConfigurationError, match=r"^api_key: "):
            await client.list_conversations()
    with Client(endpoint=url) as sync_client, pytest.raises(ConfigurationError):
        sync_client.get_conversation("c1")
    assert seen == []


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_network_error_is_chained_api_error() -> None:
    """An unreachable collector raises APIError chained (from) to aiohttp's error."""
    async with AsyncClient(KEY, _closed_port(), timeout=5) as client:
        with anyio.fail_after(10), pytest.raises(APIError) as caught:
            await client.get_conversation("c1")
    assert caught.value.status is None
    assert "unreachable" in str(caught.value)
    assert isinstance(caught.value.__cause__, (aiohttp.ClientError, OSError))


async def test_unreadable_answer_is_api_error() -> None:
    """A 200 that is not the expected JSON shape is an APIError, not a KeyError."""
    async with _serving({"unexpected": 1}, 200) as (url, seen), AsyncClient(KEY, url) as client:
        with anyio.fail_after(10), pytest.raises(APIError, match="unexpected answer"):
            await client.list_conversations()
    assert seen == ["GET /v1/conversations"]


def test_import_is_light() -> None:
    """import agentsight leaves agentsight.api unloaded; agentsight.api never loads the server."""
    code = (
        "import sys, threading, agentsight\n"
        "assert 'agentsight.api' not in sys.modules\n"
        "import agentsight.api\n"
        "assert not [m for m in sys.modules if m.startswith('agentsight.server')]\n"
        "assert threading.active_count() == 1\n"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_public_names() -> None:
    """agentsight.api.__all__ is sorted, unique, and every name in it is importable."""
    import agentsight.api

    names = agentsight.api.__all__
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(getattr(agentsight.api, name, None) is not None for name in names)
