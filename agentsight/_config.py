"""Tracker configuration: keyword arguments, then ``AGENTSIGHT_*`` variables, then defaults.

Every setting is declared once in ``SETTINGS`` with its environment variable,
its default and its parser, so the README table, the environment lookup and
the validation can never disagree.  Bad values are rejected when the tracker
is created, with a ``ConfigurationError`` naming the setting and its source.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ._wire import ENVIRONMENTS
from .exceptions import ConfigurationError

__all__ = ["ENVIRONMENTS", "SETTINGS", "Setting", "TrackerConfig", "resolve_config"]

DEFAULT_ENDPOINT = "http://127.0.0.1:8787"


def _str(value: str) -> str:
    return value


def _positive_float(value: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError("expected a positive number")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError("expected a number >= 0")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("expected a whole number > 0")
    return number


def _environment(value: str) -> str:
    if value not in ENVIRONMENTS:
        raise ValueError(f"expected one of {', '.join(ENVIRONMENTS)}")
    return value


def _endpoint(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


def _fsync_policy(value: str) -> str:
    if value not in ("always", "interval", "never"):
        raise ValueError("expected always, interval or never")
    return value


def _log_level(value: str) -> str:
    upper = value.upper()
    if upper not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
        raise ValueError("expected one of CRITICAL, ERROR, WARNING, INFO, DEBUG")
    return upper


def _redact_name(value: str) -> Callable[[str], str] | None:
    """``AGENTSIGHT_REDACT``: ``pii`` for ``agentsight.redact.pii``, ``off`` for none."""
    name = value.strip().lower()
    if name == "off":
        return None
    if name != "pii":
        raise ValueError("expected pii (the rules of agentsight.redact.pii) or off")
    from .redact import pii

    return pii


def _redact_function(value: object) -> Callable[[str], str] | None:
    """``redact=``: a function, or a name as ``AGENTSIGHT_REDACT`` takes (``"off"``
    turns off what the variable turned on)."""
    if isinstance(value, str):
        try:
            return _redact_name(value)
        except ValueError as exc:
            raise ConfigurationError(f"redact: {exc}, or a function; got {value!r}") from None
    if not callable(value):
        raise ConfigurationError(
            "redact: expected a function taking a str and returning a str (such as "
            f"agentsight.redact.pii), got {type(value).__name__} {value!r}"[:300]
        )
    return value


class Setting(NamedTuple):
    """One configuration knob: its name, environment variable, default and parser.

    ``from_code`` checks a keyword argument that is not a str or number (a
    function); other keyword arguments go through ``parse`` as text.
    """

    name: str
    env: str
    default: Any
    parse: Callable[[str], Any]
    doc: str
    from_code: Callable[[Any], Any] | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("api_key", "AGENTSIGHT_API_KEY", None, _str, "Key of the collector project."),
    Setting(
        "endpoint", "AGENTSIGHT_API_ENDPOINT", DEFAULT_ENDPOINT, _endpoint, "Collector base URL."
    ),
    Setting(
        "environment",
        "AGENTSIGHT_ENVIRONMENT",
        "development",
        _environment,
        "Default environment of new conversations.",
    ),
    Setting(
        "log_level", "AGENTSIGHT_LOG_LEVEL", None, _log_level, "Level of the agentsight logger."
    ),
    Setting(
        "shutdown_timeout",
        "AGENTSIGHT_SHUTDOWN_TIMEOUT",
        10.0,
        _positive_float,
        "Seconds to deliver what is buffered at shutdown.",
    ),
    Setting(
        "flush_timeout",
        "AGENTSIGHT_FLUSH_TIMEOUT",
        10.0,
        _positive_float,
        "Seconds send_tracked_data()/flush() wait at most.",
    ),
    Setting(
        "max_buffer",
        "AGENTSIGHT_MAX_BUFFER",
        50_000,
        _positive_int,
        "Events buffered (in all, ~300 bytes each plus their text) before plain calls drop "
        "(awaited calls wait).",
    ),
    Setting(
        "max_batch_events",
        "AGENTSIGHT_MAX_BATCH_EVENTS",
        1_000,
        _positive_int,
        "Events per batch at most.",
    ),
    Setting(
        "max_batch_bytes",
        "AGENTSIGHT_MAX_BATCH_BYTES",
        4 * 1024 * 1024,
        _positive_int,
        "Uncompressed JSON bytes per batch at most.",
    ),
    Setting(
        "flush_interval",
        "AGENTSIGHT_FLUSH_INTERVAL",
        0.5,
        _positive_float,
        "Seconds a batch waits for more events at most.",
    ),
    Setting(
        "request_timeout",
        "AGENTSIGHT_REQUEST_TIMEOUT",
        10.0,
        _positive_float,
        "Seconds one HTTP request may take.",
    ),
    Setting(
        "retry_initial_delay",
        "AGENTSIGHT_RETRY_INITIAL_DELAY",
        0.2,
        _non_negative_float,
        "Backoff base: the n-th retry waits up to base * 2**n (full jitter).",
    ),
    Setting(
        "retry_max_delay",
        "AGENTSIGHT_RETRY_MAX_DELAY",
        30.0,
        _non_negative_float,
        "Backoff cap in seconds (a longer Retry-After is still honoured up to 5 min).",
    ),
    Setting(
        "max_concurrent_requests",
        "AGENTSIGHT_MAX_CONCURRENT_REQUESTS",
        2,
        _positive_int,
        "Batches in flight at once.",
    ),
    Setting(
        "gzip_threshold",
        "AGENTSIGHT_GZIP_THRESHOLD",
        1024,
        _positive_int,
        "Bodies larger than this many bytes are gzip-encoded.",
    ),
    Setting(
        "spool_dir",
        "AGENTSIGHT_SPOOL_DIR",
        None,
        _str,
        "Directory for the durable spool; unset: no spool (overflow is dropped and counted).",
    ),
    Setting(
        "spool_after",
        "AGENTSIGHT_SPOOL_AFTER",
        10.0,
        _non_negative_float,
        "Seconds a batch is retried in memory before it goes to the spool.",
    ),
    Setting(
        "spool_fsync",
        "AGENTSIGHT_SPOOL_FSYNC",
        "interval",
        _fsync_policy,
        "always (every append), interval (at most once a second) or never.",
    ),
    Setting(
        "spool_max_bytes",
        "AGENTSIGHT_SPOOL_MAX_BYTES",
        1024**3,
        _positive_int,
        "Spool size cap; past it the oldest files are dropped and counted.",
    ),
    Setting(
        "max_message_length",
        "AGENTSIGHT_MAX_MESSAGE_LENGTH",
        100_000,
        _positive_int,
        "Characters kept of a message; longer ones are truncated and flagged.",
    ),
    Setting(
        "redact",
        "AGENTSIGHT_REDACT",
        None,
        _redact_name,
        "A function str -> str applied to the text of each event before it is queued "
        "(docs/redaction.md); the variable takes pii (agentsight.redact.pii) or off. "
        "Unset: nothing is redacted.",
        _redact_function,
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}


class TrackerConfig(NamedTuple):
    """The resolved settings of one tracker (see ``SETTINGS`` for meaning and defaults).

    A named tuple rather than an attrs class: built at the first tracking call,
    and ``import agentsight`` does not import attrs.
    """

    api_key: str | None
    endpoint: str
    environment: str
    log_level: str | None
    shutdown_timeout: float
    flush_timeout: float
    max_buffer: int
    max_batch_events: int
    max_batch_bytes: int
    flush_interval: float
    request_timeout: float
    retry_initial_delay: float
    retry_max_delay: float
    max_concurrent_requests: int
    gzip_threshold: int
    spool_dir: str | None
    spool_after: float
    spool_fsync: str
    spool_max_bytes: int
    max_message_length: int
    redact: Callable[[str], str] | None


def _from_kwarg(setting: Setting, value: Any) -> Any:
    if value is None:
        return None if setting.default is None else setting.default
    if setting.from_code is not None:
        return setting.from_code(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigurationError(
            f"{setting.name}: expected a str or number, got {type(value).__name__}"
        )
    try:
        return setting.parse(str(value))
    except ValueError as exc:
        raise ConfigurationError(f"{setting.name}: {exc}, got {value!r}") from exc


def _from_env(setting: Setting, environ: Mapping[str, str]) -> Any:
    raw = environ.get(setting.env, "").strip()
    if not raw:
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError as exc:
        shown = "<hidden>" if setting.name == "api_key" else repr(raw)
        raise ConfigurationError(f"{setting.env}: {exc}, got {shown}") from exc


def resolve_config(
    kwargs: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    lenient: bool = False,
) -> TrackerConfig:
    """Build a ``TrackerConfig``: keyword arguments win over the environment over defaults.

    Args:
        kwargs: settings given in code; ``None`` means "not given".
        environ: the environment to read (``os.environ`` by default).
        lenient: log a bad *environment* value and use the default instead of
            raising (the module-level tracker must never raise at first use).

    Raises:
        ConfigurationError: an unknown setting, or a bad value.
    """
    environ = os.environ if environ is None else environ
    unknown = set(kwargs) - set(_BY_NAME)
    if unknown:
        raise ConfigurationError(
            f"unknown setting(s) {', '.join(sorted(unknown))}; expected some of "
            f"{', '.join(sorted(_BY_NAME))}"
        )
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        given = kwargs.get(setting.name)
        if given is not None:
            values[setting.name] = _from_kwarg(setting, given)
            continue
        try:
            values[setting.name] = _from_env(setting, environ)
        except ConfigurationError as exc:
            if not lenient:
                raise
            if setting.name == "redact":
                # Whoever set it wanted redaction: fail closed, with the ready rules.
                logging.getLogger("agentsight").error("%s; redacting with pii", exc)
                values[setting.name] = _redact_name("pii")
                continue
            logging.getLogger("agentsight").error("%s; using the default", exc)
            values[setting.name] = setting.default
    return TrackerConfig(**values)
