"""``agentsight serve`` flags for the security options, and their environment fallbacks."""

from __future__ import annotations

import ipaddress

import pytest

from agentsight.server import RateLimit, ServerOptions
from agentsight.server._cli import _limit_options, _parser


def _options(*argv: str) -> ServerOptions:
    return ServerOptions(**_limit_options(_parser().parse_args(["serve", *argv])))


def test_defaults_are_no_limit_no_proxy_and_a_minute_for_a_body() -> None:
    """Without flags or environment: no rate limit, no trusted proxy, 60 s body timeout."""
    options = _options()
    assert (options.rate_limit, options.trusted_proxies, options.body_timeout) == (None, (), 60.0)


def test_flags_set_the_options() -> None:
    """--rate-limit RATE[:BURST], repeated --trusted-proxy, --body-timeout."""
    options = _options(
        "--rate-limit", "20:40", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1",
        "--body-timeout", "5",
    )  # fmt: skip
    assert options.rate_limit == RateLimit(20.0, 40)
    assert options.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )
    assert options.body_timeout == 5.0
    assert _options("--rate-limit", "2.5").rate_limit == RateLimit(2.5, 3)


def test_environment_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENTSIGHT_RATE_LIMIT, AGENTSIGHT_TRUSTED_PROXIES and AGENTSIGHT_BODY_TIMEOUT; flags win."""
    monkeypatch.setenv("AGENTSIGHT_RATE_LIMIT", "5")
    monkeypatch.setenv("AGENTSIGHT_TRUSTED_PROXIES", "127.0.0.1, 192.168.0.0/16")
    monkeypatch.setenv("AGENTSIGHT_BODY_TIMEOUT", "7.5")
    options = _options()
    assert (options.rate_limit, options.body_timeout) == (RateLimit(5.0, 5), 7.5)
    assert [str(n) for n in options.trusted_proxies] == ["127.0.0.1/32", "192.168.0.0/16"]
    assert [str(n) for n in _options("--trusted-proxy", "::1").trusted_proxies] == ["::1/128"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate-limit", "0"],
        ["--rate-limit", "5:0"],
        ["--rate-limit", "fast"],
        ["--trusted-proxy", "proxy.example"],
        ["--body-timeout", "0"],
        ["--body-timeout", "inf"],
    ],
)
def test_bad_values_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A bad value exits with a message naming the flag and what was expected."""
    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", *argv])
    assert argv[0] in capsys.readouterr().err
