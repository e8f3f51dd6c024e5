"""What a store's reads return: frozen records with decoded values, the same whatever the engine.

Times are nanoseconds since the epoch, ids are ``bytes`` (traces, spans) or ``str`` (sessions, users),
JSON is parsed. No engine's own key (SQLite's integer ``pk``) appears here: lists page with opaque
cursors (``Page.next_cursor``) that only the engine that made them reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from threadline.server.ingest.records import RawSpan
from threadline.server.ingest.rollup import SessionRollup, TurnRollup, saturate
from threadline.server.intelligence.analytics import SessionAnalytics, TimeBucket

T = TypeVar("T")
__all__ = [
    "BadCursor", "JourneyProgress", "OrphanTrace", "Page", "SessionAnalytics", "SessionDetail", "SessionSummary",
    "SpanRecord", "Stats", "TimeBucket", "TraceInfo", "TurnRecord", "UserSummary",
]  # fmt: skip


class BadCursor(ValueError):
    """A page cursor the engine did not make, or made for another ordering (the API answers 400)."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None = None
    """Where the next page starts (opaque; None: this was the last page)."""


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One session as the list shows it. Status and drop-off depend on the clock: they are derived at read
    time from these values (``intelligence.lifecycle``, ``intelligence.dropoff``, ``intelligence.rules``)."""

    session_id: str
    user_id: str | None
    first_ns: int
    last_ns: int
    turn_count: int
    trace_count: int
    span_count: int
    llm_call_count: int
    tool_call_count: int
    error_count: int
    errored_turn_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_cost_usd: float | None
    cost_source: str | None
    unpriced_calls: int
    first_input: str | None
    last_output: str | None
    models: tuple[str, ...]
    attributes: Mapping[str, Any]
    end_reason: str | None
    """An explicit end the session stands in (None: none, or activity came after it)."""
    ended_ns: int | None
    reopened_count: int
    last_turn_number: int | None
    last_turn_end_ns: int | None
    last_action: str | None
    last_intent: str | None
    converted: bool
    client_dropoff: Mapping[str, Any] | None
    """The ``dropoff.*`` values a client sent with ``dropoff.detected = true``."""
    journeys: tuple[Mapping[str, Any], ...]
    max_context_pct: float | None

    @property
    def total_tokens(self) -> int:
        return saturate(self.input_tokens + self.output_tokens)

    @property
    def duration_ns(self) -> int:
        return max(self.last_ns - self.first_ns, 0)

    @classmethod
    def of(cls, session_id: str, rollup: SessionRollup) -> SessionSummary:
        """The summary of a session folded in Python (``ingest.rollup.fold_session``)."""
        return cls(
            session_id=session_id,
            user_id=rollup.user_id,
            first_ns=rollup.first_ns,
            last_ns=rollup.last_ns,
            turn_count=rollup.turn_count,
            trace_count=rollup.trace_count,
            span_count=rollup.span_count,
            llm_call_count=rollup.llm_call_count,
            tool_call_count=rollup.tool_call_count,
            error_count=rollup.error_count,
            errored_turn_count=rollup.errored_turn_count,
            input_tokens=rollup.input_tokens,
            output_tokens=rollup.output_tokens,
            cache_read_tokens=rollup.cache_read_tokens,
            cache_write_tokens=rollup.cache_write_tokens,
            reasoning_tokens=rollup.reasoning_tokens,
            total_cost_usd=rollup.cost_usd,
            cost_source=rollup.cost_source,
            unpriced_calls=rollup.unpriced_calls,
            first_input=rollup.first_input,
            last_output=rollup.last_output,
            models=tuple(rollup.models),
            attributes=rollup.attributes,
            end_reason=rollup.end_reason,
            ended_ns=rollup.ended_ns,
            reopened_count=rollup.reopened_count,
            last_turn_number=rollup.last_turn_number,
            last_turn_end_ns=rollup.last_turn_end_ns,
            last_action=rollup.last_action,
            last_intent=rollup.last_intent,
            converted=rollup.converted,
            client_dropoff=rollup.client_dropoff,
            journeys=tuple(rollup.journeys),
            max_context_pct=rollup.max_context_pct,
        )


@dataclass(frozen=True, slots=True)
class TurnRecord:
    conversation_id: str
    turn_key: str
    """How the turn's traces were grouped (``ingest.rollup``; marks collided turn numbers)."""
    turn_number: int
    trace_ids: tuple[str, ...]
    """Hex ids of the turn's traces."""
    start_ns: int
    end_ns: int
    span_count: int
    llm_call_count: int
    tool_call_count: int
    agent_run_count: int
    input_tokens: int
    output_tokens: int
    total_cost_usd: float | None
    cost_source: str | None
    error: bool
    error_message: str | None
    tool_error: bool
    tool_error_message: str | None
    context_tokens: int | None
    attributes: Mapping[str, Any]
    model: str | None
    last_action: str | None
    input: str | None
    output: str | None

    @classmethod
    def of(cls, turn: TurnRollup) -> TurnRecord:
        """A turn folded in Python (``ingest.rollup.fold_turn``)."""
        return cls(
            conversation_id=turn.conversation_id,
            turn_key=turn.key,
            turn_number=turn.number,
            trace_ids=tuple(t.hex() for t in turn.trace_ids),
            start_ns=turn.start_ns,
            end_ns=turn.end_ns,
            span_count=turn.span_count,
            llm_call_count=turn.llm_call_count,
            tool_call_count=turn.tool_call_count,
            agent_run_count=turn.agent_run_count,
            input_tokens=turn.input_tokens,
            output_tokens=turn.output_tokens,
            total_cost_usd=turn.total_cost_usd,
            cost_source=turn.cost_source,
            error=turn.error,
            error_message=turn.error_message,
            tool_error=turn.tool_error,
            tool_error_message=turn.tool_error_message,
            context_tokens=turn.context_tokens,
            attributes=turn.attributes,
            model=turn.model,
            last_action=turn.last_action,
            input=turn.input_text,
            output=turn.output_text,
        )


@dataclass(frozen=True, slots=True)
class SessionDetail:
    summary: SessionSummary
    turns: tuple[TurnRecord, ...]
    """In time order (start, then number)."""


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """A stored span, as decoded, with what the store computed of it."""

    span: RawSpan
    category: str
    cost_usd: float | None
    cost_source: str | None


@dataclass(frozen=True, slots=True)
class TraceInfo:
    trace_id: bytes
    session_id: str | None
    """None: an orphan trace."""


@dataclass(frozen=True, slots=True)
class OrphanTrace:
    trace_id: bytes
    root_name: str | None
    start_ns: int
    end_ns: int
    span_count: int


@dataclass(frozen=True, slots=True)
class UserSummary:
    user_id: str
    session_count: int
    turn_count: int
    trace_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    total_cost_usd: float | None
    first_ns: int
    last_ns: int


@dataclass(frozen=True, slots=True)
class JourneyProgress:
    """How far one session went along one journey."""

    name: str
    highest_stage: int | None
    total_stages: int | None
    stages: tuple[Mapping[str, Any], ...]
    converted: bool
    conversion_turn: int | None
    conversion_time_ms: float | None


@dataclass(frozen=True, slots=True)
class Stats:
    span_count: int
    trace_count: int
    session_count: int
    orphan_trace_count: int
    user_count: int
