"""Plain records that flow through ingest: decoded spans (``RawSpan``) and what they mean (``SpanFacts``).

Both are dumb containers (slotted dataclasses); the functions that build them live in ``decode`` and
``normalize``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

from threadline.server.settings import Settings

Attributes = dict[str, Any]
"""Attribute values are plain Python: str, bool, int, float, list, dict (bytes arrive as base64 text)."""


class StatusCode(IntEnum):
    UNSET = 0
    OK = 1
    ERROR = 2


@dataclass(slots=True)
class Resource:
    """A resource shared by every span of one ``ResourceSpans`` block."""

    attributes: Attributes


@dataclass(slots=True)
class Scope:
    name: str
    version: str
    attributes: Attributes


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Attributes


@dataclass(slots=True)
class RawSpan:
    """One OTLP span, decoded and validated, with ids as raw bytes."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes | None
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: Attributes
    events: list[SpanEvent]
    resource: Resource
    scope: Scope
    links: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class DecodedBatch:
    """What one request decoded to: the good spans, and a count and reason for the refused ones."""

    spans: list[RawSpan]
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected += count
        if len(self.reasons) < 5 and reason not in self.reasons:
            self.reasons.append(reason)


_DEFAULTS = Settings()
MAX_VALUE_DEPTH = 200
"""The deepest nesting any setting may ask for: stored JSON wraps values in a few levels of its own, and the
encoder stops at 255."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What the decoders keep of one request (the ``max_*`` settings; docs/conventions.md, "Limits and bad
    values"). Spans beyond ``spans`` are refused; a span keeps its first ``attributes`` attributes, events
    and links (each event and map its first ``attributes`` entries); longer strings and deeper values are
    cut with a marker."""

    spans: int = _DEFAULTS.max_spans_per_request
    attributes: int = _DEFAULTS.max_attributes_per_span
    value_chars: int = _DEFAULTS.max_value_chars
    value_depth: int = _DEFAULTS.max_value_depth

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_depth", max(0, min(self.value_depth, MAX_VALUE_DEPTH)))

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_spans_per_request,
            settings.max_attributes_per_span,
            settings.max_value_chars,
            settings.max_value_depth,
        )


Category = Literal["agent", "llm", "tool", "retrieval", "other"]
CostSource = Literal["given", "computed"]


@dataclass(slots=True)
class SpanFacts:
    """What one span means in Threadline's terms (docs/conventions.md), independent of its convention."""

    category: Category = "other"
    session_id: str | None = None
    user_id: str | None = None
    conversation_id: str | None = None
    turn_number: int | None = None
    model: str | None = None
    request_model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    cost_source: CostSource | None = None
    input_text: str | None = None
    output_text: str | None = None
    error: bool = False
    error_type: str | None = None
    error_message: str | None = None
    tool_name: str | None = None
    is_log: bool = False
    """A log-type span (Logfire): its usage counts, but it is not an LLM call of its own."""
    texts_pending: bool = False
    """``input_text`` / ``output_text`` not computed yet (see ``normalize.resolve_texts``)."""
    is_event: bool = False
    """A session event (``threadline.span.kind = session_event``): attributes, but not a turn."""
    seed: Attributes = field(default_factory=dict)
    """Seed-vocabulary attributes present on the span (session.*, turn.*, context.*, journey.*, ...)."""
