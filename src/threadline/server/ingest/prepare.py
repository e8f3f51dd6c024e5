"""Decoded spans to (span, facts) pairs ready for the writer: normalize, then price LLM calls."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.server.ingest.normalize import normalize
from threadline.server.ingest.port import SpanItem
from threadline.server.ingest.records import RawSpan, SpanFacts
from threadline.server.intelligence.pricing import PriceBook, TokenUsage


class Preparer:
    def __init__(self, prices: PriceBook | None = None) -> None:
        self.prices = prices or PriceBook()

    def prepare(self, spans: Sequence[RawSpan]) -> list[SpanItem]:
        items: list[SpanItem] = []
        for span in spans:
            facts = normalize(span, texts=False)
            if facts.cost_usd is None and facts.model and (facts.category == "llm" or facts.is_log):
                self._price(span, facts)
            items.append((span, facts))
        return items

    def _price(self, span: RawSpan, facts: SpanFacts) -> None:
        """Compute the cost of an LLM call that did not report one (the model must be known)."""
        if (facts.input_tokens is None and facts.output_tokens is None) or facts.model is None:
            return
        usage = TokenUsage(
            facts.input_tokens or 0,
            facts.output_tokens or 0,
            facts.cache_read_tokens or 0,
            facts.cache_write_tokens or 0,
        )
        quote = self.prices.quote(facts.provider, facts.model, usage, span.start_ns)
        if quote is None and facts.request_model and facts.request_model != facts.model:
            quote = self.prices.quote(facts.provider, facts.request_model, usage, span.start_ns)
        if quote is not None:
            facts.cost_usd = quote.cost_usd
            facts.cost_source = "computed"
            facts.provider = facts.provider or quote.provider
