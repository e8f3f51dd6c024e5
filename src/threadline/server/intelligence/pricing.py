"""LLM call cost from provider, model and tokens, with the bundled ``genai-prices`` data (offline).

``genai-prices`` takes ~85 µs per call, too slow to run per span at ingest speed. For each
(provider, model, day) the price book asks the library once per token kind for its unit rate, checks
that the linear formula reproduces an exact library computation, and from then on prices spans with
four multiplications. Models whose prices are not linear (tiers, thresholds) are priced by the library
on every call. Unknown models have no price: ``None``, never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from genai_prices import Usage, calc_price

_MTOK = 1_000_000
_SAMPLE = {
    "input_tokens": 12_345,
    "cache_read_tokens": 2_000,
    "cache_write_tokens": 1_000,
    "output_tokens": 3_210,
}
_CACHE_LIMIT = 4096
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int = 0
    """All input tokens, cached ones included."""
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Quote:
    cost_usd: float
    provider: str
    """The provider id the price data matched (``openai``, ``anthropic``...)."""


@dataclass(frozen=True, slots=True)
class _LinearRates:
    provider: str
    uncached_input: float
    cache_read: float
    cache_write: float
    output: float

    def cost(self, usage: TokenUsage) -> float:
        uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
        return (
            uncached * self.uncached_input
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
            + usage.output_tokens * self.output
        )


@dataclass(frozen=True, slots=True)
class _ExactPricer:
    provider: str | None
    model: str
    when: dt.datetime

    def cost(self, usage: TokenUsage) -> float:
        return float(_library_price(self.model, self.provider, self.when, _as_kwargs(usage)))


_Pricer = _LinearRates | _ExactPricer


class PriceBook:
    """Prices LLM calls; cheap to call per span once a model has been seen."""

    def __init__(self) -> None:
        self._pricers: dict[tuple[str | None, str, int], tuple[_Pricer, str] | None] = {}
        self._windows: dict[tuple[str | None, str], int | None] = {}

    def context_window(self, provider: str | None, model: str | None) -> int | None:
        """The model's context window in tokens, from the price data; None when unknown."""
        if not model:
            return None
        key = (provider, model)
        if key not in self._windows:
            self._windows[key] = _context_window(provider, model)
        return self._windows[key]

    def quote(self, provider: str | None, model: str, usage: TokenUsage, at_ns: int) -> Quote | None:
        """The cost of one call, or ``None`` when the model is not in the price data."""
        key = (provider, model, at_ns // _NS_PER_DAY)
        try:
            entry = self._pricers[key]
        except KeyError:
            day = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + key[2])
            entry = self._pricers[key] = _build_pricer(provider, model, day)
            if len(self._pricers) > _CACHE_LIMIT:
                self._pricers.pop(next(iter(self._pricers)))
        if entry is None:
            return None
        pricer, provider_id = entry
        try:
            return Quote(pricer.cost(usage), provider_id)
        except (LookupError, ValueError, ArithmeticError):
            return None


def _context_window(provider: str | None, model: str) -> int | None:
    for candidate in (provider, None) if provider else (None,):
        try:
            calc = calc_price(Usage(input_tokens=1), model, provider_id=candidate)
        except (LookupError, ValueError):
            continue
        window = calc.model.context_window
        return int(window) if window else None
    return None


def _as_kwargs(usage: TokenUsage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    }


def _library_price(model: str, provider: str | None, when: dt.datetime, usage: dict[str, int]) -> Decimal:
    calc = calc_price(Usage(**usage), model, provider_id=provider, genai_request_timestamp=when)
    return Decimal(calc.total_price)


def _resolve(provider: str | None, model: str, when: dt.datetime) -> tuple[str | None, str] | None:
    """Which provider id the price data knows this model under (the given one, else any)."""
    for candidate in (provider, None) if provider else (None,):
        try:
            calc = calc_price(Usage(input_tokens=1), model, provider_id=candidate, genai_request_timestamp=when)
        except (LookupError, ValueError):
            continue
        return candidate, calc.provider.id
    return None


def _build_pricer(provider: str | None, model: str, day: dt.date) -> tuple[_Pricer, str] | None:
    when = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    resolved = _resolve(provider, model, when)
    if resolved is None:
        return None
    lookup_provider, provider_id = resolved
    exact = _ExactPricer(lookup_provider, model, when)
    try:
        unit_in = _library_price(model, lookup_provider, when, {"input_tokens": _MTOK})
        unit_read = _library_price(model, lookup_provider, when, {"input_tokens": _MTOK, "cache_read_tokens": _MTOK})
        unit_write = _library_price(model, lookup_provider, when, {"input_tokens": _MTOK, "cache_write_tokens": _MTOK})
        unit_out = _library_price(model, lookup_provider, when, {"output_tokens": _MTOK})
        linear = _LinearRates(
            provider_id,
            float(unit_in / _MTOK),
            float(unit_read / _MTOK),
            float(unit_write / _MTOK),
            float(unit_out / _MTOK),
        )
        expected = float(_library_price(model, lookup_provider, when, dict(_SAMPLE)))
    except (LookupError, ValueError, ArithmeticError):
        return exact, provider_id
    sample = TokenUsage(**_SAMPLE)
    if abs(linear.cost(sample) - expected) <= 1e-9 * max(1.0, expected):
        return linear, provider_id
    return exact, provider_id
