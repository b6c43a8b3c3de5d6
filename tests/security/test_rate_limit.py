"""The per-key rate limit: token buckets, 429 with Retry-After, and the SDK honouring it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from agentsight import ConversationTracker
from agentsight._keys import generate_key
from agentsight.server import RateLimit, ServerOptions
from agentsight.server._http._ratelimit import RateLimiter
from agentsight.server.storage import LiveKey
from tests.server.collector_helpers import conversation

from .helpers import Secured, run_secured

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_burst_then_the_rate() -> None:
    """A full bucket gives *burst* tokens at once, then one per 1/rate seconds."""
    clock = Clock()
    limiter = RateLimiter(RateLimit(2.0, burst=3), clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # another bucket is untouched
    clock.now += 0.5
    assert (limiter.wait("a"), limiter.take("a"), limiter.take("a")) == (0.0, 0.0, 0.5)
    clock.now += 10
    assert [limiter.take("a") for _ in range(4)][-1] == pytest.approx(0.5)  # capped at burst


def test_full_buckets_are_forgotten() -> None:
    """Buckets that have refilled are dropped when the table grows: memory stays bounded."""
    clock = Clock()
    limiter = RateLimiter(RateLimit(10.0, burst=1), clock)
    for index in range(10_000):
        limiter.take(f"addr:{index}")
    clock.now += 1.0  # all refilled
    limiter.take("one-more")
    limiter.take("and-another")
    assert len(limiter) <= 2


def test_rate_limit_is_off_by_default_and_validated() -> None:
    """No limit unless configured; the burst defaults to one second's worth."""
    assert ServerOptions().rate_limit is None
    assert RateLimit(2.5).burst == 3
    assert RateLimit.parse("20:40") == RateLimit(20.0, 40)
    for bad in ("0", "-1", "x", "5:0", "nan"):
        with pytest.raises(ValueError, match="RATE"):
            RateLimit.parse(bad)


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Secured]:
    """A collector allowing 1 request per second per key, bursts of 3."""
    options = ServerOptions(rate_limit=RateLimit(1.0, burst=3))
    async with run_secured(tmp_path / "limited.db", options) as running:
        yield running


async def test_past_the_limit_is_429_with_retry_after(limited: Secured) -> None:
    """The 4th quick call is 429 with an integer Retry-After >= 1 and a JSON error."""
    collector = limited.collector
    for _ in range(3):
        assert (await collector.call("GET", "/v1/conversations"))[0] == 200
    async with collector.session.get("/v1/conversations", headers=collector.auth()) as response:
        assert response.status == 429
        retry_after = response.headers["Retry-After"]
        assert retry_after.isdigit() and int(retry_after) >= 1
        assert "rate limit" in (await response.json())["error"]
    await anyio.sleep(int(retry_after))
    assert (await collector.call("GET", "/v1/conversations"))[0] == 200


async def test_other_keys_and_public_routes_are_unaffected(limited: Secured) -> None:
    """A's key exhausted: B's key and the health check still answer 200."""
    collector = limited.collector
    statuses = [(await collector.call("GET", "/v1/conversations", "A"))[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert [(await collector.call("GET", "/v1/conversations", "B"))[0] for _ in range(3)] == [
        200
    ] * 3
    for _ in range(10):
        assert (await collector.call("GET", "/v1/health", project=None))[0] == 200


async def test_one_budget_per_key_across_routes(limited: Secured) -> None:
    """Batches and queries spend from the same bucket of the key."""
    collector = limited.collector
    await collector.send(conversation("c1", 0, 0.0))
    await collector.conversation("c1")
    await collector.listing()
    status, answer = await collector.post_raw(b'{"schema": 1, "events": []}')
    assert (status, "rate limit" in answer["error"]) == (429, True)


async def test_failed_authentications_are_limited_per_address(
    limited: Secured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the burst of bad keys from one address, 429 comes before any database look-up."""
    collector = limited.collector
    lookups = 0
    real = collector.storage.find_key

    async def counted(key_hash: str) -> LiveKey | None:
        nonlocal lookups
        lookups += 1
        return await real(key_hash)

    monkeypatch.setattr(collector.storage, "find_key", counted)
    headers = {"Authorization": f"Bearer {generate_key()}"}
    statuses = []
    for _ in range(20):
        async with collector.session.get("/v1/conversations", headers=headers) as response:
            statuses.append(response.status)
    assert statuses == [401] * 3 + [429] * 17
    assert lookups == 3


async def test_the_sdk_backs_off_and_delivers_everything_once(tmp_path: Path) -> None:
    """The real SDK, with its own backoff zeroed, is paced by Retry-After alone: all stored once."""
    rate, burst, events, per_batch = 5.0, 5, 200, 10
    seen: list[tuple[float, int]] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path == "/v1/batch":
            seen.append((time.monotonic(), response.status))
        return response

    options = ServerOptions(rate_limit=RateLimit(rate, burst=burst))
    async with run_secured(
        tmp_path / "sdk.db", options, lambda app: app.middlewares.insert(0, record)
    ) as secured:
        collector = secured.collector
        tracker = ConversationTracker(
            api_key=collector.keys["A"],
            endpoint=collector.url,
            max_batch_events=per_batch,
            flush_interval=0.05,
            retry_initial_delay=0,  # without Retry-After, the SDK would hammer the collector
            retry_max_delay=0,
            flush_timeout=30,
        )
        with anyio.fail_after(40):
            async with tracker:
                await tracker.get_or_create_conversation(conversation_id="paced")
                for index in range(events - 1):
                    await tracker.track_human_message(f"message {index}")
                report = await tracker.send_tracked_data()
        stored = await collector.storage.list_events(1, "paced")  # project A; no HTTP budget
    assert report.pending == 0 and report.failed == 0, report
    stats = tracker.stats()
    assert (stats.accepted, stats.duplicates, stats.dropped) == (events, 0, 0), stats
    assert sorted(e["seq"] for e in stored) == list(range(events))

    accepted = [t for t, status in seen if status == 200]
    refused = [t for t, status in seen if status == 429]
    assert set(status for _, status in seen) == {200, 429}
    duration = seen[-1][0] - seen[0][0]
    # The bucket caps what is accepted; Retry-After (1 s) holds each of the SDK's two
    # senders to about one refused attempt a second.
    assert len(accepted) <= burst + rate * duration + 1
    assert len(refused) <= 2 * (duration + 1) + 2, (len(refused), duration)
