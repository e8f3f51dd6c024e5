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
    end_reason: str | None
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
    dropped_off: bool
    models: list[str]
    attributes: dict[str, Any] = Field(description="Session-level seed attributes (session.*, user.*).")


class SessionPage(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None


class Turn(BaseModel):
    turn_number: int
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
    context_tokens: int | None
    context_window_pct: float | None
    attributes: dict[str, Any]


class Conversation(BaseModel):
    conversation_id: str
    turn_count: int
    first_activity: str
    last_activity: str
    topic: str | None


class SessionDetail(SessionSummary):
    turns: list[Turn]
    conversations: list[Conversation]
    journeys: list[dict[str, Any]]
    dropoff: dict[str, Any] | None


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
