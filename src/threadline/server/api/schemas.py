"""Response models: what the read API returns (and what ``/openapi.json`` documents)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. bad_parameter, not_found.")
    message: str = Field(description="What was wrong and what to do about it.")
    detail: Any = Field(default=None, description="Structured context: the parameter, allowed values...")


class ErrorBody(BaseModel):
    error: ErrorDetail


class SessionSummary(BaseModel):
    session_id: str
    user_id: str | None
    status: Literal["active", "ended"]
    end_reason: str | None = Field(description="inactive_timeout, or the reason a client gave when it ended it.")
    ended_at: str | None
    idle_time_ms: float = Field(description="Time since the last activity.")
    reopened_count: int = Field(description="Times activity resumed after the session had ended.")
    turn_count: int
    trace_count: int
    span_count: int
    llm_call_count: int
    tool_call_count: int
    error_count: int = Field(description="Spans that ended in error (LLM, tool or other).")
    errored_turn_count: int
    input_tokens: int = Field(description="All input tokens, cached ones included.")
    output_tokens: int
    total_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_cost_usd: float | None = Field(description="Null when no LLM call could be priced (never 0 for unknown).")
    cost_source: Literal["given", "computed", "mixed"] | None
    unpriced_calls: int = Field(description="LLM calls whose cost is unknown (model not in the price data).")
    first_activity: str
    last_activity: str
    duration_ms: float
    first_input: str | None
    last_output: str | None
    last_agent_action: Literal["answered", "asked_question", "error", "tool_failure"] | None
    dropped_off: bool = Field(
        description="Ended by inactivity, not converted, after a question, error or tool failure; "
        "or the client said so (dropoff.detected)."
    )
    abandoned: bool = Field(description="Ended with exactly one turn.")
    converted: bool = Field(description="A journey reached its conversion.")
    max_context_window_pct: float | None
    models: list[str]
    attributes: dict[str, Any] = Field(description="Session-level seed attributes (session.*, user.*).")


class SessionPage(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None


class Turn(BaseModel):
    turn_number: int = Field(
        description="As declared by the client (conversation.turn_number, turn.number); else, or when declared "
        "numbers collided (turn_numbers_rederived), from the turns' start-time order in the conversation."
    )
    conversation_id: str
    trace_ids: list[str]
    started_at: str
    ended_at: str
    latency_ms: float
    input: str | None
    output: str | None
    input_tokens: int
    output_tokens: int
    total_cost_usd: float | None
    cost_source: Literal["given", "computed", "mixed"] | None
    llm_call_count: int
    tool_call_count: int
    agent_run_count: int
    span_count: int
    error: bool
    error_message: str | None
    tool_error: bool
    tool_error_message: str | None = Field(description="The first failed tool call's status message, if any.")
    agent_last_action: Literal["answered", "asked_question", "error", "tool_failure"] | None
    model: str | None
    context_tokens: int | None
    context_limit: int | None
    context_limit_source: Literal["client", "model"] | None
    context_window_pct: float | None
    context_pruned: bool
    messages_pruned: int | None
    attributes: dict[str, Any]


class JourneyStage(BaseModel):
    stage: str | None
    stage_number: int | None
    turn: int | None
    time: str


class SessionJourney(BaseModel):
    name: str
    stages: list[JourneyStage]
    highest_stage: int | None
    total_stages: int | None
    converted: bool
    conversion_turn: int | None
    conversion_time_ms: float | None


class Dropoff(BaseModel):
    detected: bool
    source: Literal["client", "derived"] | None
    last_turn: int | None
    last_intent: str | None
    agent_last_action: str | None
    time_since_last_turn_ms: float | None


class Conversation(BaseModel):
    conversation_id: str
    turn_count: int
    first_activity: str
    last_activity: str
    topic: str | None


class SessionDetail(SessionSummary):
    turns: list[Turn]
    conversations: list[Conversation]
    turn_numbers_rederived: bool = Field(
        description="True when traces that are distinct turns declared the same turn number in a conversation "
        "(several processes each numbering their own turns): that conversation's turns are numbered 1..n by "
        "start time instead of as declared."
    )
    journeys: list[SessionJourney]
    dropoff: Dropoff


class Span(BaseModel):
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    category: Literal["agent", "llm", "tool", "retrieval", "other"]
    start_time: str
    end_time: str
    duration_ms: float
    status: Literal["unset", "ok", "error"]
    status_message: str | None
    model: str | None
    provider: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: float | None
    cost_source: Literal["given", "computed"] | None
    input: str | None
    output: str | None
    error_type: str | None
    tool_name: str | None
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: dict[str, Any]
    events: list[dict[str, Any]]
    children: list[Span]


class Trace(BaseModel):
    trace_id: str
    session_id: str | None
    span_count: int
    spans: list[Span] = Field(description="Root spans (and spans whose parent never arrived), each with children.")


class OrphanTrace(BaseModel):
    trace_id: str
    root_name: str | None
    start_time: str
    end_time: str
    span_count: int


class OrphanTracePage(BaseModel):
    traces: list[OrphanTrace]
    next_cursor: str | None


class Stats(BaseModel):
    span_count: int
    trace_count: int
    session_count: int
    orphan_trace_count: int
    user_count: int


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    pending_spans: int


class OverTimeBucket(BaseModel):
    start: str
    sessions: int
    dropped_off: int
    errored: int


class SessionAnalytics(BaseModel):
    session_count: int
    ended_session_count: int
    turn_count_avg: float | None
    turn_count_histogram: dict[str, int] = Field(description="Sessions per turn count; the last key is 10+.")
    abandonment_rate: float | None = Field(description="Ended sessions with exactly one turn / ended sessions.")
    dropoff_rate: float | None = Field(description="Dropped-off ended sessions / ended sessions.")
    dropoff_count: int
    dropoff_by_turn: dict[str, int] = Field(description="Dropped-off sessions by the number of their last turn.")
    dropoff_by_last_action: dict[str, int]
    cost_avg_usd: float | None = Field(description="Over sessions whose cost is known.")
    cost_p50_usd: float | None
    cost_p95_usd: float | None
    duration_p50_ms: float | None
    duration_p95_ms: float | None
    turn_latency_p50_ms: float | None
    turn_latency_p95_ms: float | None
    error_session_rate: float | None = Field(description="Sessions with an errored span / sessions.")
    sessions_over_time: list[OverTimeBucket] = Field(
        description="Sessions started per hour (windows up to two days) or per day."
    )


class FunnelStage(BaseModel):
    stage_number: int
    stage: str | None
    sessions: int = Field(description="Sessions whose highest stage is at least this one.")
    rate: float | None


class Funnel(BaseModel):
    name: str
    session_count: int
    converted_count: int
    conversion_rate: float | None
    stages: list[FunnelStage]
    conversion_turn_p50: float | None
    conversion_time_p50_ms: float | None


class JourneyAnalytics(BaseModel):
    journeys: list[Funnel]


class UserSummary(BaseModel):
    user_id: str
    session_count: int
    turn_count: int
    avg_turns_per_session: float | None
    trace_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    total_cost_usd: float | None
    first_seen: str
    last_seen: str
    retention_days: float = Field(description="Last seen minus first seen, in days.")
    returning: bool = Field(description="More than one session.")


class UserPage(BaseModel):
    users: list[UserSummary]
    next_cursor: str | None


class UserDetail(UserSummary):
    recent_sessions: list[SessionSummary]


class Erased(BaseModel):
    sessions: list[str]
    traces: int
    spans: int


class ErasureResult(BaseModel):
    erased: Erased
