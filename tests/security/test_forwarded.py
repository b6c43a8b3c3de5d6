"""X-Forwarded-For is believed only from trusted proxies, and only up to the first untrusted hop."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from aiohttp import web

from agentsight._keys import generate_key
from agentsight.server import RateLimit, ServerOptions
from agentsight.server._http._clientip import client_address
from agentsight.server._state import OPTIONS

from .helpers import Secured, run_secured

pytestmark = pytest.mark.anyio
XFF = "X-Forwarded-For"


def _nets(*texts: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return ServerOptions(trusted_proxies=texts).trusted_proxies


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("127.0.0.1", ["203.0.113.9"], (), "127.0.0.1"),  # nothing trusted: header ignored
        ("198.51.100.1", ["203.0.113.9"], ("127.0.0.1",), "198.51.100.1"),  # untrusted peer
        ("127.0.0.1", ["203.0.113.9"], ("127.0.0.1",), "203.0.113.9"),
        ("127.0.0.1", [], ("127.0.0.1",), "127.0.0.1"),  # no header: the peer
        ("10.0.0.1", ["6.6.6.6, 203.0.113.9, 10.0.0.2"], ("10.0.0.0/8",), "203.0.113.9"),
        ("10.0.0.1", ["6.6.6.6, 203.0.113.9", "10.0.0.2"], ("10.0.0.0/8",), "203.0.113.9"),
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], ("10.0.0.0/8",), "10.0.0.3"),  # all trusted
        ("10.0.0.1", ["203.0.113.9, garbage"], ("10.0.0.0/8",), "10.0.0.1"),  # stops at garbage
        ("10.0.0.1", ["203.0.113.9, garbage, 10.0.0.2"], ("10.0.0.0/8",), "10.0.0.2"),
        ("10.0.0.1", ["[2001:db8::1]:443"], ("10.0.0.0/8",), "2001:db8::1"),
        ("10.0.0.1", ["203.0.113.9:5555"], ("10.0.0.0/8",), "203.0.113.9"),
        ("::ffff:127.0.0.1", ["203.0.113.9"], ("127.0.0.1",), "203.0.113.9"),  # v4-mapped
        ("::1", ["2001:db8::7"], ("::1",), "2001:db8::7"),
        ("127.0.0.1", [" , ,"], ("127.0.0.1",), "127.0.0.1"),
    ],
)
def test_client_address(
    peer: str, forwarded: list[str], trusted: Sequence[str], client: str
) -> None:
    """The rightmost hop that is not a trusted proxy; the peer itself when it is not one."""
    assert client_address(peer, forwarded, _nets(*trusted)) == client


def _whoami(app: web.Application) -> None:
    """A route that answers the client address the handlers see."""

    async def whoami(request: web.Request) -> web.Response:
        return web.json_response({"remote": request.remote})

    app.router.add_get("/test/whoami", whoami)


@pytest.fixture(params=[(), ("127.0.0.1",)], ids=["untrusted", "trusted"])
async def behind(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Secured]:
    """A collector with 127.0.0.1 trusted as a proxy, or not, and a tight failure budget."""
    options = ServerOptions(trusted_proxies=request.param, rate_limit=RateLimit(0.1, burst=2))
    async with run_secured(tmp_path / "xff.db", options, _whoami) as running:
        yield running


def _trusts_loopback(secured: Secured) -> bool:
    return bool(secured.app[OPTIONS].trusted_proxies)


async def _remote(secured: Secured, forwarded: str | None) -> str:
    headers = {} if forwarded is None else {XFF: forwarded}
    async with secured.collector.session.get("/test/whoami", headers=headers) as response:
        return str((await response.json())["remote"])


async def test_handlers_see_the_forwarded_address_only_from_a_trusted_peer(
    behind: Secured,
) -> None:
    """From 127.0.0.1 untrusted, XFF is ignored; trusted, its rightmost untrusted hop is used."""
    trusted = _trusts_loopback(behind)
    assert await _remote(behind, None) == "127.0.0.1"
    expected = "203.0.113.9" if trusted else "127.0.0.1"
    assert await _remote(behind, "203.0.113.9") == expected
    # A client spoofing a chain: only what our proxy appended (the last hop) is believed.
    assert await _remote(behind, "6.6.6.6, 127.0.0.1, 203.0.113.9") == expected


async def _bad_key_statuses(secured: Secured, forwarded: str, count: int) -> list[int]:
    headers = {"Authorization": f"Bearer {generate_key()}", XFF: forwarded}
    statuses = []
    for _ in range(count):
        async with secured.collector.session.get("/v1/conversations", headers=headers) as r:
            statuses.append(r.status)
    return statuses


async def test_the_failure_budget_follows_the_derived_address(behind: Secured) -> None:
    """Spoofed addresses share the peer's budget; behind a trusted proxy each client has its own."""
    assert await _bad_key_statuses(behind, "198.51.100.1", 3) == [401, 401, 429]
    fresh = await _bad_key_statuses(behind, "198.51.100.2", 1)
    assert fresh == ([401] if _trusts_loopback(behind) else [429])
    # Varying the spoofed left part of a chain never buys a fresh budget.
    for spoofed in ("1.1.1.1", "2.2.2.2"):
        assert await _bad_key_statuses(behind, f"{spoofed}, 198.51.100.1", 1) == [429]


async def test_logs_name_the_derived_address(
    behind: Secured, caplog: pytest.LogCaptureFixture
) -> None:
    """The refusal log names the client address the collector believes, never a spoofed one."""
    caplog.set_level(logging.DEBUG, logger="agentsight.server")
    await _bad_key_statuses(behind, "6.6.6.6, 203.0.113.9", 1)
    refusals = [r.getMessage() for r in caplog.records if "refused key" in r.getMessage()]
    expected = "203.0.113.9" if _trusts_loopback(behind) else "127.0.0.1"
    assert len(refusals) == 1 and refusals[0].endswith(f"from {expected}: unknown or revoked")
    assert "6.6.6.6" not in caplog.text
