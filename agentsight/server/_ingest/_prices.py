"""What a model call cost: ``genai-prices`` for the public prices, a file for one's own.

The collector prices each ``token_usage`` event as it stores it, so the
metrics only add up a column.  Costs are kept as whole nano-dollars (10^-9
USD): sums stay exact, and the same on SQLite and PostgreSQL.

A call is priced when it names a model that the override file or
``genai-prices`` knows; otherwise its cost is ``None`` and it counts as
unpriced, never as free.  ``genai-prices`` prices a call with ``Decimal``
arithmetic, too slow to run for every call of a batch; a model with flat
prices (most) is looked up once per (model, provider, day) and then priced
with plain arithmetic, one with tiered prices goes through the library each
time.

The override file (``agentsight serve --prices FILE``) is TOML::

    [[price]]
    model = "llama-3.1-70b-local"   # the model name as tracked
    provider = "self-hosted"        # optional: only calls naming this provider
    input_mtok = 0.20               # USD per million input (prompt) tokens
    output_mtok = 0.60              # USD per million output (completion) tokens
    cached_input_mtok = 0.05        # optional: cached prompt tokens (default: input_mtok)

Entries of the file win over ``genai-prices``, for negotiated prices too.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import sys
import warnings
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import attrs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: the server extra installs tomli
    import tomli as tomllib

from ..storage._base import NewEvent

__all__ = ["FlatPrice", "Prices", "PricesFileError", "load_prices", "price"]

logger = logging.getLogger("agentsight.server")
_NANOS_PER_USD_PER_MTOK = 1000  # USD per 10^6 tokens = 1000 nano-dollars per token
_MICROS_PER_DAY = 86_400_000_000


class PricesFileError(ValueError):
    """The override file cannot be used; the message names the entry and the field."""


@attrs.frozen
class FlatPrice:
    """USD per million tokens: input (prompt), output (completion), cached input."""

    input_mtok: float
    output_mtok: float
    cached_input_mtok: float | None = None

    def nanos(self, prompt: int, completion: int, cached: int, embedding: int) -> int:
        cached = min(cached, prompt)
        cached_price = self.input_mtok if self.cached_input_mtok is None else self.cached_input_mtok
        usd_mtok = (
            (prompt - cached + embedding) * self.input_mtok
            + cached * cached_price
            + completion * self.output_mtok
        )
        return round(usd_mtok * _NANOS_PER_USD_PER_MTOK)


Pricer = Callable[[int, int, int, int], int]


class Prices:
    """Prices model calls; *overrides* by (model, provider or ``None``)."""

    def __init__(self, overrides: Mapping[tuple[str, str | None], FlatPrice] | None = None):
        self._overrides = dict(overrides or {})
        self._lookup = functools.lru_cache(maxsize=4096)(self._find)

    def cost_nanos(
        self,
        model: str | None,
        provider: str | None,
        *,
        prompt: int,
        completion: int,
        cached: int = 0,
        embedding: int = 0,
        at_micros: int,
    ) -> int | None:
        """The call's cost in nano-dollars, or ``None`` when its model has no known price."""
        if not model:
            return None
        pricer = self._lookup(model, provider, at_micros // _MICROS_PER_DAY)
        if pricer is None:
            return None
        try:
            return pricer(prompt, completion, cached, embedding)
        except Exception:  # a price the library cannot apply to these counts: unpriced
            logger.exception("pricing %s (%s) failed", model, provider)
            return None

    def _find(self, model: str, provider: str | None, day: int) -> Pricer | None:
        override = self._overrides.get((model, provider)) or self._overrides.get((model, None))
        if override is not None:
            return override.nanos
        return _library_pricer(model, provider, day)


def price(prices: Prices, event: NewEvent) -> int | None:
    """The cost of a validated ``token_usage`` event in nano-dollars (``None``: unpriced)."""
    payload = event.payload
    return prices.cost_nanos(
        payload["model"],
        payload["provider"],
        prompt=payload["prompt_tokens"],
        completion=payload["completion_tokens"],
        cached=payload["cached_input_tokens"],
        embedding=payload["embedding_tokens"],
        at_micros=event.timestamp,
    )


def _library_pricer(model: str, provider: str | None, day: int) -> Pricer | None:
    from genai_prices import Usage, calc_price

    when = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=day)
    probe = Usage(input_tokens=0, output_tokens=0)
    found = None
    # A provider the library does not know by that name (OpenTelemetry says
    # "gcp.gemini", "aws.bedrock"): the model alone.
    for provider_id in dict.fromkeys((provider, None)):
        try:
            found = calc_price(
                probe, model_ref=model, provider_id=provider_id, genai_request_timestamp=when
            ).model_price
            break
        except LookupError:
            continue
    if found is None:
        return None
    input_mtok, output_mtok, cached_mtok = (
        found.input_mtok,
        found.output_mtok,
        found.cache_read_mtok,
    )
    flat = (input_mtok, output_mtok, cached_mtok)
    if all(value is None or isinstance(value, (Decimal, int)) for value in flat):
        return FlatPrice(
            float(cast(Decimal, input_mtok or 0)),
            float(cast(Decimal, output_mtok or 0)),
            None if cached_mtok is None else float(cast(Decimal, cached_mtok)),
        ).nanos
    model_price = found

    def tiered(prompt: int, completion: int, cached: int, embedding: int) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            usage = Usage(
                input_tokens=prompt + embedding,
                output_tokens=completion,
                cache_read_tokens=min(cached, prompt),
            )
        total = model_price.calc_price(usage)["total_price"]
        return int((Decimal(total) * 10**9).to_integral_value())

    return tiered


def _number(entry: Mapping[str, Any], name: str, where: str, *, required: bool) -> float | None:
    value = entry.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PricesFileError(f"{where}: {name}: expected a number >= 0 (USD per million tokens)")
    return float(value)


def load_prices(path: str | Path | None) -> Prices:
    """The prices, with the override file at *path* when one is given.

    Raises:
        PricesFileError: the file is missing, not TOML, or an entry is wrong.
    """
    # Imported at start-up rather than by the first priced call: a slow import.
    import genai_prices  # noqa: F401

    if path is None:
        return Prices()
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PricesFileError(f"--prices {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PricesFileError(f"--prices {path}: not a TOML file ({exc})") from None
    unknown = set(document) - {"price"}
    if unknown:
        raise PricesFileError(
            f"--prices {path}: unknown table {sorted(unknown)[0]!r}; expected [[price]]"
        )
    entries = document.get("price", [])
    if not isinstance(entries, list):
        raise PricesFileError(f"--prices {path}: price: expected [[price]] entries")
    overrides: dict[tuple[str, str | None], FlatPrice] = {}
    for number, entry in enumerate(entries, 1):
        where = f"--prices {path}: entry {number}"
        model, provider = entry.get("model"), entry.get("provider")
        if not isinstance(model, str) or not model:
            raise PricesFileError(f"{where}: model: expected the model name as tracked")
        if provider is not None and (not isinstance(provider, str) or not provider):
            raise PricesFileError(f"{where}: provider: expected a name or no provider line")
        extra = set(entry) - {"model", "provider", "input_mtok", "output_mtok", "cached_input_mtok"}
        if extra:
            raise PricesFileError(f"{where}: unknown field {sorted(extra)[0]!r}")
        input_mtok = _number(entry, "input_mtok", where, required=True)
        output_mtok = _number(entry, "output_mtok", where, required=True)
        assert input_mtok is not None and output_mtok is not None
        cached = _number(entry, "cached_input_mtok", where, required=False)
        overrides[(model, provider)] = FlatPrice(input_mtok, output_mtok, cached)
    return Prices(overrides)
