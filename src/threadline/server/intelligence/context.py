"""Context-window pressure of a turn (docs/concepts.md). Pure, given a window lookup."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from threadline import semconv as sc
from threadline.server.ingest.normalize import as_float, as_int

WindowLookup = Callable[[str | None, str | None], int | None]
"""(provider, model) -> the model's context window in tokens, or None."""


@dataclass(frozen=True, slots=True)
class ContextWindow:
    tokens: int | None
    limit: int | None
    limit_source: str | None
    """``client`` (``context.limit``) or ``model`` (the model's known window)."""
    pct: float | None
    pruned: bool
    messages_pruned: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "limit": self.limit,
            "limit_source": self.limit_source,
            "pct": self.pct,
            "pruned": self.pruned,
            "messages_pruned": self.messages_pruned,
        }


def context_window(
    tokens: int | None, attributes: Mapping[str, Any], model: str | None, windows: WindowLookup
) -> ContextWindow:
    """Tokens in context, the limit (the client's, else the model's), the percentage, pruning."""
    limit, source = _limit(attributes, model, windows)
    pct = as_float(attributes.get(sc.CONVERSATION_CONTEXT_WINDOW_PCT))
    if pct is None and tokens is not None and limit:
        pct = round(100.0 * tokens / limit, 2)
    pruned = attributes.get(sc.CONTEXT_PRUNED)
    messages_pruned = as_int(attributes.get(sc.CONTEXT_MESSAGES_PRUNED))
    return ContextWindow(
        tokens=tokens,
        limit=limit,
        limit_source=source,
        pct=pct,
        pruned=pruned is True or str(pruned).lower() == "true" or bool(messages_pruned),
        messages_pruned=messages_pruned,
    )


def context_pct(
    tokens: int | None, attributes: Mapping[str, Any], model: str | None, windows: WindowLookup
) -> float | None:
    """``context_window(...).pct`` alone, the limit looked up only when the client sent no percentage."""
    pct = as_float(attributes.get(sc.CONVERSATION_CONTEXT_WINDOW_PCT))
    if pct is not None or tokens is None:
        return pct
    limit = _limit(attributes, model, windows)[0]
    return round(100.0 * tokens / limit, 2) if limit else None


def _limit(attributes: Mapping[str, Any], model: str | None, windows: WindowLookup) -> tuple[int | None, str | None]:
    """The context limit and where it comes from: the client's (``context.limit``), else the model's."""
    limit = as_int(attributes.get(sc.CONTEXT_LIMIT))
    if limit:
        return limit, "client"
    limit = windows(None, model)
    return limit, "model" if limit else None
