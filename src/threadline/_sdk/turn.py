"""A turn: one exchange, the root span of its own trace, numbered per conversation by the SDK."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Self

from opentelemetry import context as otel_context
from opentelemetry import trace

from threadline import semconv as sc
from threadline._sdk import guard, runtime
from threadline._sdk.calls import (
    AgentRun,
    ChildHandle,
    H,
    LLMCall,
    ToolCall,
    agent_attributes,
    inert,
    llm_attributes,
    open_child,
    tool_attributes,
)
from threadline._sdk.content import attribute_value, to_text
from threadline._sdk.scope import Attributes, Scope, context_with, current, resolve_scope
from threadline._sdk.spans import Failure, SpanHandle

if TYPE_CHECKING:
    from threadline._sdk.runtime import Runtime

_ROOT = otel_context.Context()


class Turn(SpanHandle):
    """One exchange: the user's input, the assistant's answer, and the LLM and tool calls in between.

    ``with threadline.turn(input=...) as turn:`` ... ``turn.output(answer)``; or keep the object and call
    ``turn.end()`` / ``turn.error(message)``. The SDK fills in ``turn.latency_ms``, ``turn.tool_calls``,
    ``turn.agent_runs`` and the input and output lengths.
    """

    def __init__(self, rt: Runtime, span: trace.Span, scope: Scope, number: int, start_ns: int, timeout: float) -> None:
        super().__init__(rt, span, scope)
        self.number = number
        self.start_ns = start_ns
        self.timeout = timeout
        self.deadline: float | None = None
        """When the watchdog ends the turn (monotonic seconds), or ``None``."""
        self.trace_id_int = span.get_span_context().trace_id
        self.inner_scope = scope.with_turn(self)
        self._lock = threading.Lock()
        self._children: list[ChildHandle] = []
        self._tool_calls = 0
        self._agent_runs = 0
        self._output_length: int | None = None
        self._timed_out = False
        self._context: Any = None
        self.journey_recorded = False

    # --- identity ----------------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._scope.session.session_id if self._scope.session else None

    @property
    def conversation_id(self) -> str | None:
        return self._scope.conversation

    @property
    def context(self) -> Any:
        """An OTel context whose current span is this turn (to parent spans under it explicitly)."""
        if self._context is None:
            self._context = context_with(self.inner_scope, self._span)
        return self._context

    def _inner_scope(self) -> Scope:
        return self.inner_scope

    # --- recording ---------------------------------------------------------------------------------

    @guard.guarded(guard.SELF)
    def output(self, value: Any, output_type: str | None = None) -> Self:
        """The assistant's answer (text sent only when content capture is on; its length always)."""
        text = to_text(value)
        with self._lock:
            self._output_length = len(text)
        attributes: Attributes = {}
        if self._runtime.capture:
            attributes[sc.OUTPUT_VALUE] = text
        if output_type:
            attributes[sc.TURN_OUTPUT_TYPE] = output_type
        if attributes and not self._ended:
            self._span.set_attributes(attributes)
        return self

    @guard.guarded(guard.SELF)
    def set_metadata(self, key: str, value: Any) -> Self:
        """``turn.metadata.<key>`` on the turn (lists of strings and primitives kept, the rest as JSON)."""
        self._set(sc.TURN_METADATA_PREFIX + key, value)
        return self

    @guard.guarded(guard.SELF)
    def set_tag(self, key: str, value: Any = True) -> Self:
        """``turn.tag.<key>`` on the turn, for filtering (``set_tag("experiment", "b")``)."""
        self._set(sc.TURN_TAG_PREFIX + key, value)
        return self

    def llm_call(
        self,
        model: str | None = None,
        provider: str | None = None,
        *,
        name: str | None = None,
        operation: str = "chat",
        input: Any = None,
        start_time_ns: int | None = None,
    ) -> LLMCall:
        """Start an LLM call in this turn."""
        try:
            attributes = llm_attributes(model, provider, operation, self._runtime.capture, input)
            return open_child(LLMCall, name or f"{operation} {model or 'llm'}", attributes, self, start_time_ns)
        except Exception as exc:
            return self._inert_child(LLMCall, exc)

    def tool_call(
        self, name: str, arguments: Any = None, *, call_id: str | None = None, start_time_ns: int | None = None
    ) -> ToolCall:
        """Start a tool call in this turn."""
        try:
            attributes = tool_attributes(name, arguments, call_id, self._runtime.capture)
            return open_child(ToolCall, f"execute_tool {name}", attributes, self, start_time_ns)
        except Exception as exc:
            return self._inert_child(ToolCall, exc)

    def agent_run(self, name: str = "agent") -> AgentRun:
        """Start an agent run in this turn."""
        try:
            return open_child(AgentRun, f"invoke_agent {name}", agent_attributes(name), self)
        except Exception as exc:
            return self._inert_child(AgentRun, exc)

    def _inert_child(self, cls: type[H], exc: Exception) -> H:
        if guard.STATE.raise_errors:
            raise exc
        guard.internal_error(f"Turn.{cls.__name__}", exc)
        return inert(cls)

    # --- children and counters (also called by the pipeline for other libraries' spans) ---------------

    def adopt(self, child: ChildHandle, kind: str) -> None:
        with self._lock:
            self._children.append(child)
            self._count(kind)

    def release(self, child: ChildHandle) -> None:
        with self._lock:
            if child in self._children:
                self._children.remove(child)

    def count_child(self, kind: str) -> None:
        with self._lock:
            self._count(kind)

    def _count(self, kind: str) -> None:
        if kind == sc.SPAN_KIND_TOOL:
            self._tool_calls += 1
        elif kind == sc.SPAN_KIND_AGENT:
            self._agent_runs += 1

    # --- ending ------------------------------------------------------------------------------------

    def expire(self) -> None:
        """Called by the watchdog when the turn outlived its timeout."""
        self._timed_out = True
        self._finish_safely(Failure(f"turn not ended within {self.timeout:g}s", "TurnTimeout"))

    def abandon(self, message: str) -> None:
        self._finish_safely(Failure(message, "TurnAbandoned"))

    def _before_end(self, failure: Failure | None, end_ns: int) -> None:
        with self._lock:
            children, self._children = self._children, []
            attributes: Attributes = {
                sc.TURN_LATENCY_MS: round(max(end_ns - self.start_ns, 0) / 1e6, 3),
                sc.TURN_TOOL_CALLS: self._tool_calls,
                sc.TURN_AGENT_RUNS: self._agent_runs,
            }
            if self._output_length is not None:
                attributes[sc.TURN_OUTPUT_LENGTH] = self._output_length
        if self._timed_out:
            attributes[sc.THREADLINE_TURN_TIMED_OUT] = True
        self._span.set_attributes(attributes)
        for child in reversed(children):
            child._owner = None
            child._finish_safely(failure, end_ns)

    def _after_end(self, failure: Failure | None, end_ns: int) -> None:
        rt = self._runtime
        rt.registry.open_turns.pop(self.trace_id_int, None)
        session_id = self.session_id
        if session_id is not None:
            rt.registry.turn_ended(session_id, end_ns)
        if self._timed_out:
            rt.counters.add(turns_timed_out=1)


def start_turn(
    rt: Runtime,
    scope: Scope,
    *,
    input: Any = None,
    input_type: str | None = None,
    turn_number: int | None = None,
    name: str = "turn",
    timeout: float | None = None,
    has_attachments: bool | None = None,
    metadata: dict[str, Any] | None = None,
    start_ns: int | None = None,
) -> Turn:
    session = scope.session
    if session is None:
        guard.warn_once(
            "turn-without-session",
            "threadline: a turn started outside any session; wrap it in threadline.session(...) or pass "
            "session_id=, or the server will count it as an orphan trace",
        )
    conversation = scope.conversation or ""
    number = rt.registry.next_turn(session.session_id if session else "", conversation, turn_number)
    attributes: Attributes = {sc.THREADLINE_SPAN_KIND: sc.SPAN_KIND_TURN}
    if session is not None:
        attributes.update(session.attributes)
    attributes.update(scope.stamp)
    attributes[sc.CONVERSATION_TURN_NUMBER] = number
    attributes[sc.TURN_NUMBER] = number
    if scope.topic:
        attributes[sc.CONVERSATION_TOPIC] = scope.topic
    if input_type:
        attributes[sc.TURN_INPUT_TYPE] = input_type
    if input is not None:
        text = to_text(input)
        attributes[sc.TURN_INPUT_LENGTH] = len(text)
        if rt.capture:
            attributes[sc.INPUT_VALUE] = text
    if has_attachments is not None:
        attributes[sc.TURN_HAS_ATTACHMENTS] = bool(has_attachments)
    if metadata:
        for key, value in metadata.items():
            attributes[sc.TURN_METADATA_PREFIX + key] = attribute_value(value)
    start = rt.clock.time_ns() if start_ns is None else start_ns
    current_span = trace.get_current_span().get_span_context()
    links = [trace.Link(current_span)] if current_span.is_valid else None
    span = rt.tracer.start_span(name, context=_ROOT, attributes=attributes, links=links, start_time=start)
    limit = rt.settings.turn_timeout if timeout is None else timeout
    turn = Turn(rt, span, scope, number, start, limit)
    if turn.trace_id_int:
        rt.registry.open_turns[turn.trace_id_int] = turn
        if limit > 0 and start_ns is None:
            turn.deadline = rt.clock.monotonic() + limit
            rt.watchdog.watch(turn.deadline)
    return turn


def turn(
    input: Any = None,
    *,
    input_type: str | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    conversation_id: str | None = None,
    turn_number: int | None = None,
    name: str = "turn",
    timeout: float | None = None,
    has_attachments: bool | None = None,
    metadata: dict[str, Any] | None = None,
) -> Turn:
    """Start a turn: the root span of a new trace, in the current session and conversation.

    ``session_id`` / ``user_id`` / ``conversation_id`` override the current scope. The number is the
    conversation's next (or ``turn_number``). A turn not ended within ``timeout`` seconds (default
    ``turn_timeout``, 20 minutes; 0 disables) is ended with error status and exported.
    """
    try:
        rt = runtime.current()
        scope = resolve_scope(session_id, user_id, conversation_id)
        return start_turn(
            rt,
            scope,
            input=input,
            input_type=input_type,
            turn_number=turn_number,
            name=name,
            timeout=timeout,
            has_attachments=has_attachments,
            metadata=metadata,
        )
    except Exception as exc:
        if guard.STATE.raise_errors:
            raise
        guard.internal_error("turn", exc)
        return inert_turn()


def inert_turn() -> Turn:
    return Turn(runtime.inert_runtime(), trace.INVALID_SPAN, current(), 0, 0, 0)
