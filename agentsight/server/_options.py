"""The collector's settings: limits and storage options, in one value object."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterable
from typing import Any

import attrs

__all__ = ["IPNetwork", "RateLimit", "ServerOptions"]

MiB = 1024 * 1024
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{attribute.name}: expected a positive number, got {value!r}")


@attrs.frozen
class RateLimit:
    """A token bucket: *per_second* requests on average, *burst* at once.

    Args:
        per_second: tokens added each second.
        burst: the bucket's size; by default one second's worth (at least 1).

    .. versionadded:: 0.1
    """

    per_second: float = attrs.field(validator=_positive)
    burst: int = attrs.field()

    @burst.default
    def _burst(self) -> int:
        return max(1, math.ceil(self.per_second))

    @burst.validator
    def _check_burst(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"burst: expected an integer of at least 1, got {value!r}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"RATE"`` or ``"RATE:BURST"``, as given to ``agentsight serve --rate-limit``.

        Raises:
            ValueError: naming what was expected.
        """
        rate, _, burst = text.partition(":")
        try:
            return cls(float(rate), int(burst)) if burst else cls(float(rate))
        except ValueError as exc:
            raise ValueError(f"expected RATE or RATE:BURST such as 20 or 20:40 ({exc})") from exc


def _positive_or_none(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _positive(instance, attribute, value)


def _networks(values: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    if isinstance(values, str):  # one network given bare: a common slip, still clear
        values = [values]
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


@attrs.frozen
class ServerOptions:
    """How the collector treats requests.

    Args:
        store_raw_ip: keep ``customer_ip_address`` as sent; by default only
            the country resolved from it is stored.
        max_body_bytes: largest request body, as sent (compressed or not).
        max_decompressed_bytes: largest body after gzip decoding.
        max_events: most events in one batch.
        max_content_chars: longest message ``content``, action ``response``
            or ``error_msg``.
        max_json_chars: largest ``metadata``, ``attachments`` or
            ``tools_used`` value, measured roughly in characters.
        max_depth: deepest nesting of those values.
        max_json_values: most JSON values (keys included) in one request
            body, counted before it is parsed; past it the answer is 413.
            This bounds the memory a body can take, which bytes do not:
            ``[{},{},...]`` builds a dict of 64 bytes from every 3 bytes.
        retry_after: seconds suggested in ``Retry-After`` when storage is unavailable.
        rate_limit: requests per API key (any authenticated route), a
            ``RateLimit`` or ``None`` (the default) for no limit.  Past it the
            answer is 429 with ``Retry-After`` in whole seconds.  The same
            budget applies to failed authentications per client address, so
            a flood of bad keys is refused before any database look-up.
        trusted_proxies: networks (``"10.0.0.0/8"``, ``"127.0.0.1"``) of
            reverse proxies whose ``X-Forwarded-For`` is believed.  From any
            other peer the header is ignored; by default, from every peer.
        body_timeout: seconds a request body may take to arrive in full;
            past it the answer is 408 and the connection is closed.
        idle_timeout: seconds a connection may stay idle between requests,
            which also bounds how long a request's headers may take.
        redact: a function ``str -> str`` applied after validation, before
            storage, to the text of every event that arrives (the fields the
            SDK's ``redact=`` covers), and to the name, metadata and feedback
            comments sent to the management API; ``agentsight.redact.pii``
            for ``agentsight serve --redact pii``.  ``None`` (the default):
            stored as sent.
        session_lifetime: seconds a dashboard session lasts at most.
        session_idle: seconds a dashboard session lasts unused.
        login_limit_address: failed logins per client address (a token
            bucket); past it, 429 before any password is checked.
        login_limit_account: failed logins per e-mail address, likewise.
        retention_interval: seconds between two retention sweeps (each
            deletes, in small transactions, the conversations past their
            project's retention period, and the ended sessions).
        usage_interval: seconds between two writes of when keys and
            sessions were last used (kept in memory meanwhile).
        prices: a TOML file of model prices that win over ``genai-prices``
            (negotiated or self-hosted models; see docs/llm.md).

    .. versionchanged:: 0.1
       ``rate_limit``, ``trusted_proxies``, ``body_timeout``, ``idle_timeout``.
    .. versionchanged:: 0.2
       ``max_json_values``, ``redact``, ``session_lifetime``, ``session_idle``,
       ``login_limit_address``, ``login_limit_account``,
       ``retention_interval``, ``usage_interval``, ``prices``.
    """

    store_raw_ip: bool = False
    max_body_bytes: int = 10 * MiB
    max_decompressed_bytes: int = 50 * MiB
    max_events: int = 10_000
    max_content_chars: int = 1 * MiB
    max_json_chars: int = 1 * MiB
    max_depth: int = 64
    max_json_values: int = 1_000_000
    retry_after: int = 2
    rate_limit: RateLimit | None = None
    trusted_proxies: tuple[IPNetwork, ...] = attrs.field(default=(), converter=_networks)
    body_timeout: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    idle_timeout: float = attrs.field(default=75.0, validator=_positive)
    redact: Callable[[str], str] | None = None
    session_lifetime: float = attrs.field(default=12 * 3600.0, validator=_positive)
    session_idle: float = attrs.field(default=3600.0, validator=_positive)
    login_limit_address: RateLimit = RateLimit(10 / 60, burst=10)
    login_limit_account: RateLimit = RateLimit(1 / 60, burst=5)
    retention_interval: float = attrs.field(default=300.0, validator=_positive)
    usage_interval: float = attrs.field(default=60.0, validator=_positive)
    prices: str | None = None
