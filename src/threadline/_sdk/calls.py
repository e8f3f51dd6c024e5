"""LLM calls, tool calls and agent runs: child spans of a turn, with the OTel GenAI attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from threadline import semconv as sc
from threadline._sdk import guard, runtime
from threadline._sdk.content import input_messages, output_messages, to_text
from threadline._sdk.scope import EMPTY, SCOPE_KEY, Attributes, Scope, current
from threadline._sdk.spans import Failure, SpanHandle

if TYPE_CHECKING:
    from threadline._sdk.runtime import Runtime
    from threadline._sdk.turn import Turn

H = TypeVar("H", bound="ChildHandle")


class ChildHandle(SpanHandle):
    """A span inside a turn; the turn ends it (with error status) if it is still open when the turn errors."""

    def __init__(self, rt: Runtime, span: trace.Span, scope: Scope, owner: Turn | None) -> None:
        super().__init__(rt, span, scope)
        self._owner = owner

    def _after_end(self, failure: Failure | None, end_ns: int) -> None:
        if self._owner is not None:
            self._owner.release(self)


class LLMCall(ChildHandle):
    """One call to a model. ``record(...)`` its usage and text; ``end()`` or leave the ``with`` block."""

    @guard.guarded(guard.SELF)
    def record(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost_usd: float | None = None,
        input: Any = None,
        output: Any = None,
        response_model: str | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        finish_reason: str | None = None,
    ) -> Self:
        """Record tokens (input tokens include cached ones), the cost if known, and the messages.

        ``input`` is a string (one user message) or a list of ``{"role", "content"}`` messages; ``output``
        a string (the assistant's answer) or messages. Text is sent only when content capture is on.
        """
        attributes: Attributes = {}
        for key, value in (
            (sc.GEN_AI_USAGE_INPUT_TOKENS, input_tokens),
            (sc.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens),
            (sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cache_read_tokens),
            (sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, cache_write_tokens),
            (sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, reasoning_tokens),
        ):
            if value is not None:
                attributes[key] = int(value)
        if cost_usd is not None:
            attributes[sc.THREADLINE_COST_USD] = float(cost_usd)
        if response_model:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = response_model
        if finish_reason:
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [finish_reason]
        if self._runtime.capture:
            if input is not None:
                attributes[sc.GEN_AI_INPUT_MESSAGES] = input_messages(input)
            if output is not None:
                attributes[sc.GEN_AI_OUTPUT_MESSAGES] = output_messages(output, finish_reason)
        if attributes and not self._ended:
            self._span.set_attributes(attributes)
        return self


class ToolCall(ChildHandle):
    """One tool execution. ``result(value)`` records what it returned; ``error(...)`` marks it failed."""

    @guard.guarded(guard.SELF)
    def result(self, value: Any) -> Self:
        """Record the tool's result (sent only when content capture is on)."""
        if self._runtime.capture and value is not None:
            self._set(sc.GEN_AI_TOOL_CALL_RESULT, to_text(value))
        return self


class AgentRun(ChildHandle):
    """One agent invocation inside a turn (``turn.agent_runs`` counts them)."""

    @guard.guarded(guard.SELF)
    def output(self, value: Any) -> Self:
        """Record the agent's final output (sent only when content capture is on)."""
        if self._runtime.capture and value is not None:
            self._set(sc.OUTPUT_VALUE, to_text(value))
        return self


class Step(ChildHandle):
    """A plain step (``@observe(kind="span")``)."""


def llm_attributes(model: str | None, provider: str | None, operation: str, capture: bool, input: Any) -> Attributes:
    attributes: Attributes = {sc.THREADLINE_SPAN_KIND: sc.SPAN_KIND_LLM, sc.GEN_AI_OPERATION_NAME: operation}
    if model:
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
    if provider:
        attributes[sc.GEN_AI_PROVIDER_NAME] = provider
    if capture and input is not None:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = input_messages(input)
    return attributes


def tool_attributes(name: str, arguments: Any, call_id: str | None, capture: bool) -> Attributes:
    attributes: Attributes = {
        sc.THREADLINE_SPAN_KIND: sc.SPAN_KIND_TOOL,
        sc.GEN_AI_OPERATION_NAME: "execute_tool",
        sc.GEN_AI_TOOL_NAME: name,
    }
    if call_id:
        attributes[sc.GEN_AI_TOOL_CALL_ID] = call_id
    if capture and arguments is not None:
        attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = to_text(arguments)
    return attributes


def agent_attributes(name: str) -> Attributes:
    return {
        sc.THREADLINE_SPAN_KIND: sc.SPAN_KIND_AGENT,
        sc.GEN_AI_OPERATION_NAME: "invoke_agent",
        sc.GEN_AI_AGENT_NAME: name,
    }


def open_child(
    cls: type[H],
    name: str,
    attributes: Attributes,
    owner: Turn | None,
    start_ns: int | None = None,
    rt: Runtime | None = None,
    ctx: otel_context.Context | None = None,
) -> H:
    """Start a child span: under the current span when it is inside ``owner``'s trace, else under ``owner``."""
    rt = rt or runtime.current()
    ctx = otel_context.get_current() if ctx is None else ctx
    parent: otel_context.Context | None = None
    if owner is not None:
        scope = owner.inner_scope
        if trace.get_current_span(ctx).get_span_context().trace_id != owner.trace_id_int:
            parent = owner.context
    else:
        found = ctx.get(SCOPE_KEY)
        scope = found if isinstance(found, Scope) else EMPTY
    if scope.stamp:
        attributes = {**scope.stamp, **attributes}
    start = rt.clock.time_ns() if start_ns is None else start_ns
    span = rt.tracer.start_span(name, context=parent or ctx, attributes=attributes, start_time=start)
    adopted = owner is not None and not owner.ended
    handle = cls(rt, span, scope, owner if adopted else None)
    if adopted and owner is not None:
        owner.adopt(handle, str(attributes.get(sc.THREADLINE_SPAN_KIND, "")))
    return handle


def current_turn(ctx: otel_context.Context | None = None) -> Turn | None:
    """The open turn of the current context (or of ``ctx``)."""
    scope = otel_context.get_value(SCOPE_KEY, ctx)
    turn = scope.turn if isinstance(scope, Scope) else None
    return turn if turn is not None and not turn.ended else None


@guard.guarded(lambda: inert(LLMCall))
def llm_call(
    model: str | None = None,
    provider: str | None = None,
    *,
    name: str | None = None,
    operation: str = "chat",
    input: Any = None,
) -> LLMCall:
    """Start an LLM call in the current turn (a plain span if there is none).

    Use it as ``with threadline.llm_call(model=..., provider=...) as call: ... call.record(...)``, or keep
    the object and call ``.end()`` / ``.error(message)``.
    """
    rt = runtime.current()
    ctx = otel_context.get_current()
    attributes = llm_attributes(model, provider, operation, rt.capture, input)
    return open_child(LLMCall, name or f"{operation} {model or 'llm'}", attributes, current_turn(ctx), rt=rt, ctx=ctx)


@guard.guarded(lambda: inert(ToolCall))
def tool_call(name: str, arguments: Any = None, *, call_id: str | None = None) -> ToolCall:
    """Start a tool call in the current turn; ``.result(value)`` records its result."""
    rt = runtime.current()
    ctx = otel_context.get_current()
    attributes = tool_attributes(name, arguments, call_id, rt.capture)
    return open_child(ToolCall, f"execute_tool {name}", attributes, current_turn(ctx), rt=rt, ctx=ctx)


@guard.guarded(lambda: inert(AgentRun))
def agent_run(name: str = "agent") -> AgentRun:
    """Start an agent run in the current turn."""
    return open_child(AgentRun, f"invoke_agent {name}", agent_attributes(name), current_turn())


def inert(cls: type[H]) -> H:
    """A handle that records nothing (what an entry point returns if it failed internally)."""
    return cls(runtime.inert_runtime(), trace.INVALID_SPAN, current(), None)
