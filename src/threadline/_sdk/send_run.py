"""``send_run``: a finished turn recorded after the fact, with its LLM and tool calls, in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from threadline._sdk import guard, runtime
from threadline._sdk.scope import resolve_scope
from threadline._sdk.spans import Failure
from threadline._sdk.turn import Turn, inert_turn, start_turn

Time = datetime | float | int
"""A ``datetime`` (naive means UTC), or seconds since the epoch."""


@dataclass(frozen=True, slots=True)
class LLMCallRecord:
    """One LLM call of a run sent with ``send_run`` (a plain dict with these keys works too)."""

    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    input: Any = None
    output: Any = None
    start_time: Time | None = None
    end_time: Time | None = None
    error: str | None = None
    response_model: str | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call of a run sent with ``send_run`` (a plain dict with these keys works too)."""

    name: str = "tool"
    arguments: Any = None
    result: Any = None
    start_time: Time | None = None
    end_time: Time | None = None
    error: str | None = None
    call_id: str | None = None


def to_ns(value: Time) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1e9)
    return int(float(value) * 1e9)


def _record(cls: type[Any], value: Any) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})
    raise TypeError(f"expected {cls.__name__} or a mapping, got {type(value).__name__}")


@guard.guarded(lambda: inert_turn())
def send_run(
    *,
    start_time: Time,
    end_time: Time,
    input: Any = None,
    output: Any = None,
    session_id: str | None = None,
    user_id: str | None = None,
    conversation_id: str | None = None,
    turn_number: int | None = None,
    input_type: str | None = None,
    llm_calls: Sequence[LLMCallRecord | Mapping[str, Any]] = (),
    tool_calls: Sequence[ToolCallRecord | Mapping[str, Any]] = (),
    error: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Turn:
    """Record a turn that already happened: its times, input and output, LLM and tool calls.

    Calls without times are spread over the turn in order. Returns the ended ``Turn`` (``.number``,
    ``.trace_id``).
    """
    rt = runtime.current()
    start_ns, end_ns = to_ns(start_time), to_ns(end_time)
    end_ns = max(end_ns, start_ns)
    scope = resolve_scope(session_id, user_id, conversation_id)
    turn = start_turn(
        rt, scope, input=input, input_type=input_type, turn_number=turn_number, metadata=metadata, start_ns=start_ns
    )
    calls: list[tuple[str, Any]] = [("llm", _record(LLMCallRecord, c)) for c in llm_calls]
    calls += [("tool", _record(ToolCallRecord, c)) for c in tool_calls]
    slot = (end_ns - start_ns) // max(len(calls), 1)
    for index, (kind, call) in enumerate(calls):
        begin = to_ns(call.start_time) if call.start_time is not None else start_ns + index * slot
        finish = to_ns(call.end_time) if call.end_time is not None else begin + slot
        if kind == "llm":
            handle: Any = turn.llm_call(call.model, call.provider, start_time_ns=begin)
            handle.record(
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                cost_usd=call.cost_usd,
                input=call.input,
                output=call.output,
                response_model=call.response_model,
                cache_read_tokens=call.cache_read_tokens,
                cache_write_tokens=call.cache_write_tokens,
                reasoning_tokens=call.reasoning_tokens,
            )
        else:
            handle = turn.tool_call(call.name, call.arguments, call_id=call.call_id, start_time_ns=begin)
            handle.result(call.result)
        handle._finish_safely(Failure.of(call.error) if call.error else None, max(finish, begin))
    if output is not None:
        turn.output(output)
    turn._finish_safely(Failure.of(error) if error else None, end_ns)
    return turn
