"""Token buckets per API key, and per client address for failed authentications.

The limit counts requests, not events: it is decided before the body is
read, so a refused request costs the collector almost nothing.  The SDK
batches, so events per second are about requests per second times the batch
size.  Each key has its own bucket, so one noisy project cannot starve the
others; failed authentications spend from a bucket per client address (see
``_clientip``), so a flood of bad keys is refused before the database is
asked about them.  That bucket never stops a key that exists: many clients
may share an address (a NAT, a proxy not named with ``--trusted-proxy``),
and one that keeps failing must not lock the others out.  Whether a key
exists is read from ``KnownKeys``, the set of live key hashes, reloaded at
most once a second and only when a throttled address brings a key it does
not hold, so a flood of made-up keys costs one small query a second.

A bucket that has refilled is the same as no bucket at all, so full buckets
are forgotten when the table grows: memory follows the number of keys and
addresses active within the last ``burst / per_second`` seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from .._options import RateLimit
from ._errors import ApiError

__all__ = ["KNOWN_KEYS", "RATE_LIMITER", "KnownKeys", "RateLimiter", "too_many"]

#: Past this many buckets, full ones are forgotten; past twice as many, the oldest.
_PRUNE_AT = 10_000


class RateLimiter:
    """Token buckets by name, all of one ``RateLimit``.

    Args:
        limit: the rate and burst of every bucket.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        # name -> (tokens, when they were counted); insertion order is age.
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, name: str, now: float) -> float:
        tokens, then = self._buckets.get(name, (float(self.limit.burst), now))
        return min(float(self.limit.burst), tokens + (now - then) * self.limit.per_second)

    def wait(self, name: str) -> float:
        """Seconds until bucket *name* holds a token; 0 when it holds one now."""
        return max(0.0, (1.0 - self._tokens(name, self._clock())) / self.limit.per_second)

    def take(self, name: str) -> float:
        """Take a token from bucket *name*: 0 when there was one, else seconds to wait."""
        now = self._clock()
        tokens = self._tokens(name, now)
        if tokens < 1.0:
            return (1.0 - tokens) / self.limit.per_second
        self._buckets.pop(name, None)  # re-insert: the dict's order stays oldest first
        self._buckets[name] = (tokens - 1.0, now)
        if len(self._buckets) > _PRUNE_AT:
            self._prune(now)
        return 0.0

    def spend(self, name: str) -> None:
        """Take a token from bucket *name* if it has one (a failed authentication)."""
        self.take(name)

    def _prune(self, now: float) -> None:
        burst = float(self.limit.burst)
        for name in [n for n in self._buckets if self._tokens(n, now) >= burst]:
            del self._buckets[name]
        while len(self._buckets) > 2 * _PRUNE_AT:  # a flood of fresh names: oldest go first
            del self._buckets[next(iter(self._buckets))]

    def __len__(self) -> int:
        return len(self._buckets)


class KnownKeys:
    """The hashes of the live keys, as of at most *max_age* seconds before a miss.

    Args:
        load: reads every live key hash (``Storage.live_key_hashes``).
        max_age: a miss reloads the set when it is older than this.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        load: Callable[[], Awaitable[frozenset[str]]],
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._max_age = max_age
        self._clock = clock
        self._hashes: frozenset[str] = frozenset()
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()

    async def holds(self, key_hash: str) -> bool:
        """Whether *key_hash* is a live key's, reloading the set on a miss if it is stale."""
        if key_hash in self._hashes:
            return True
        async with self._lock:  # concurrent misses wait for one reload
            if self._clock() - self._loaded_at >= self._max_age:
                self._hashes = await self._load()
                self._loaded_at = self._clock()
        return key_hash in self._hashes


def too_many(wait: float, what: str) -> ApiError:
    """The 429 for a refused request: ``Retry-After`` in whole seconds, at least 1."""
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        f"rate limit: too many requests {what}; retry in {seconds} s",
        {"Retry-After": str(seconds)},
    )


#: Where ``create_app`` keeps the limiter; absent when there is no limit.
RATE_LIMITER = web.AppKey("agentsight.rate_limiter", RateLimiter)
#: Where ``create_app`` keeps the live keys, beside the limiter.
KNOWN_KEYS = web.AppKey("agentsight.known_keys", KnownKeys)
