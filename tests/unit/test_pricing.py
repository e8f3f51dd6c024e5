"""LLM call cost with the bundled ``genai-prices`` data (``intelligence.pricing``)."""

from __future__ import annotations

import datetime as dt

import pytest
from genai_prices import Usage, calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.server.intelligence.pricing import PriceBook, TokenUsage, _ExactPricer, _LinearRates

AT_NS = 1_800_000_000 * 10**9
"""2027-01-15: the price book prices a whole day at noon UTC."""
NOON = dt.datetime(2027, 1, 15, 12, tzinfo=dt.UTC)
DAY = AT_NS // (86_400 * 10**9)


def _library(model: str, usage: TokenUsage, provider: str | None = None) -> float:
    calc = calc_price(
        Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        model,
        provider_id=provider,
        genai_request_timestamp=NOON,
    )
    return float(calc.total_price)


def test_noon_of_the_day() -> None:
    assert dt.datetime.fromtimestamp(AT_NS / 1e9, dt.UTC).date() == NOON.date()


@pytest.mark.parametrize(
    ("provider", "model", "usage", "provider_id"),
    [
        pytest.param("openai", "gpt-4o-mini", TokenUsage(1000, 200), "openai", id="gpt-4o-mini"),
        pytest.param(None, "gpt-4o-mini", TokenUsage(1000, 200), "openai", id="provider-from-model"),
        pytest.param("openai", "gpt-4o-mini-2024-07-18", TokenUsage(1000, 200), "openai", id="dated-model"),
        pytest.param("openai", "gpt-4o", TokenUsage(5000, 700, cache_read_tokens=2048), "openai", id="gpt-4o-cached"),
        pytest.param(
            "anthropic",
            "claude-3-5-haiku-20241022",
            TokenUsage(3000, 100, cache_read_tokens=1000, cache_write_tokens=500),
            "anthropic",
            id="anthropic-cache-read-write",
        ),
        pytest.param("google", "gemini-2.5-pro", TokenUsage(300_000, 100), "google", id="tiered-over-threshold"),
        pytest.param("google", "gemini-2.5-pro", TokenUsage(1_000, 100), "google", id="tiered-under-threshold"),
        pytest.param("nonsense-provider", "gpt-4o-mini", TokenUsage(1000, 200), "openai", id="unknown-provider-id"),
    ],
)
def test_known_model_priced_like_the_library(
    provider: str | None, model: str, usage: TokenUsage, provider_id: str
) -> None:
    quote = PriceBook().quote(provider, model, usage, AT_NS)
    assert quote is not None
    assert quote.provider == provider_id
    assert quote.cost_usd > 0
    assert quote.cost_usd == pytest.approx(_library(model, usage), rel=1e-9)


def test_gpt_4o_mini_price_in_dollars() -> None:
    """$0.15 per million input tokens, $0.60 per million output tokens."""
    quote = PriceBook().quote("openai", "gpt-4o-mini", TokenUsage(1_000_000, 1_000_000), AT_NS)
    assert quote is not None
    assert quote.cost_usd == pytest.approx(0.75)


def test_cached_tokens_priced_as_such() -> None:
    book = PriceBook()
    plain = book.quote("openai", "gpt-4o-mini", TokenUsage(10_000, 0), AT_NS)
    cached = book.quote("openai", "gpt-4o-mini", TokenUsage(10_000, 0, cache_read_tokens=8_000), AT_NS)
    assert plain is not None
    assert cached is not None
    # 2,000 uncached tokens at $0.15/M and 8,000 cached ones at $0.075/M.
    assert cached.cost_usd == pytest.approx(2_000 * 0.15e-6 + 8_000 * 0.075e-6)
    assert cached.cost_usd < plain.cost_usd


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        pytest.param(None, "no-such-model-xyz", id="unknown-model"),
        pytest.param("openai", "no-such-model-xyz", id="unknown-model-known-provider"),
        pytest.param("openai", "", id="empty-model"),
    ],
)
def test_unknown_model_is_none_never_zero(provider: str | None, model: str) -> None:
    book = PriceBook()
    assert book.quote(provider, model, TokenUsage(1000, 100), AT_NS) is None
    assert book.quote(provider, model, TokenUsage(0, 0), AT_NS) is None


def test_zero_tokens_of_a_known_model_cost_zero() -> None:
    quote = PriceBook().quote("openai", "gpt-4o-mini", TokenUsage(0, 0), AT_NS)
    assert quote is not None
    assert quote.cost_usd == 0.0


def test_linear_models_take_the_fast_path_and_tiered_ones_the_library() -> None:
    book = PriceBook()
    book.quote("openai", "gpt-4o-mini", TokenUsage(1, 1), AT_NS)
    book.quote("google", "gemini-2.5-pro", TokenUsage(1, 1), AT_NS)
    linear = book._pricers[("openai", "gpt-4o-mini", DAY)]
    tiered = book._pricers[("google", "gemini-2.5-pro", DAY)]
    assert linear is not None
    assert isinstance(linear[0], _LinearRates)
    assert tiered is not None
    assert isinstance(tiered[0], _ExactPricer)
    assert book.quote(None, "no-such-model-xyz", TokenUsage(1, 1), AT_NS) is None
    assert book._pricers[(None, "no-such-model-xyz", DAY)] is None  # remembered as unknown


_usages = st.builds(
    lambda inp, out, read, write: TokenUsage(inp + read + write, out, read, write),
    st.integers(0, 2_000_000),
    st.integers(0, 200_000),
    st.integers(0, 100_000),
    st.integers(0, 100_000),
)


@settings(max_examples=150, deadline=None)
@given(usage=_usages, model=st.sampled_from(["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-20241022", "o3-mini"]))
def test_linear_fast_path_equals_the_library(usage: TokenUsage, model: str) -> None:
    book = PriceBook()
    quote = book.quote(None, model, usage, AT_NS)
    pricer = book._pricers[(None, model, DAY)]
    assert quote is not None
    assert pricer is not None
    assert isinstance(pricer[0], _LinearRates)
    assert quote.cost_usd == pytest.approx(_library(model, usage), rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(usage=_usages)
def test_tiered_model_equals_the_library(usage: TokenUsage) -> None:
    quote = PriceBook().quote("google", "gemini-2.5-pro", usage, AT_NS)
    assert quote is not None
    assert quote.cost_usd == pytest.approx(_library("gemini-2.5-pro", usage, "google"), rel=1e-9, abs=1e-12)


def test_prices_are_cached_per_model_and_day() -> None:
    book = PriceBook()
    book.quote("openai", "gpt-4o-mini", TokenUsage(1, 1), AT_NS)
    book.quote("openai", "gpt-4o-mini", TokenUsage(5, 5), AT_NS + 3600 * 10**9)
    book.quote("openai", "gpt-4o-mini", TokenUsage(5, 5), AT_NS + 86_400 * 10**9)
    assert sorted(k[2] for k in book._pricers) == [DAY, DAY + 1]
