"""Facts about a session that are not turns: its end, feedback, journey stages, context window.

Inside an open turn they are attributes of the turn span. Elsewhere they travel as a tiny root span
of kind ``session_event`` carrying the session id, the hashed user id and, when the fact is about a
turn, that turn's ``conversation.turn_number``: the server folds it into the session (and that turn)
without counting a turn.
"""

from __future__ import annotations

from opentelemetry import context as otel_context

from threadline import semconv as sc
from threadline._sdk import guard, runtime
from threadline._sdk.calls import current_turn
from threadline._sdk.runtime import Runtime
from threadline._sdk.scope import Attributes, Scope, make_scope, resolve_scope
from threadline._sdk.turn import Turn

_ROOT = otel_context.Context()


def emit(rt: Runtime, scope: Scope, name: str, attributes: Attributes, turn_number: int | None = None) -> bool:
    """Send one session event; ``False`` (and a warning, once) when there is no session to attach it to."""
    if scope.session is None:
        guard.warn_once(
            f"event-without-session:{name}",
            "threadline: %s outside any session was not sent; pass session_id= or use threadline.session()",
            name,
        )
        return False
    payload: Attributes = {sc.THREADLINE_SPAN_KIND: sc.SESSION_EVENT, **scope.stamp, **attributes}
    if turn_number is not None:
        payload[sc.CONVERSATION_TURN_NUMBER] = turn_number
    now = rt.clock.time_ns()
    span = rt.tracer.start_span(name, context=_ROOT, attributes=payload, start_time=now)
    span.end(end_time=now)
    return True


def _target(session_id: str | None, turn_number: int | None = None) -> tuple[Turn | None, Scope]:
    """The open turn a fact belongs to (if it is current and matches), else the scope of the event."""
    turn = current_turn()
    if turn is not None and session_id in (None, turn.session_id) and turn_number in (None, turn.number):
        return turn, turn.inner_scope
    return None, resolve_scope(session_id, None, None)


def _last_turn(rt: Runtime, scope: Scope) -> tuple[Scope, int | None, int]:
    """The event scope pointed at the session's last turn, that turn's number and its end time (ns)."""
    if scope.session is None:
        return scope, None, 0
    conversation, number, end_ns = rt.registry.last_turn(scope.session.session_id, scope.conversation_id)
    if conversation and conversation != scope.conversation:
        scope = make_scope(scope.session, conversation, scope.topic)
    return scope, number, end_ns


@guard.guarded()
def end_session(
    session_id: str | None = None,
    reason: str = "completed",
    *,
    dropped_off: bool | None = None,
    last_intent: str | None = None,
    agent_last_action: str | None = None,
) -> None:
    """End a session explicitly (``session.end_reason``); defaults to the current session.

    ``dropped_off=True`` also reports a drop-off seen by the application (``dropoff.*``: the last turn,
    the time since it ended, and ``last_intent`` / ``agent_last_action`` when given).
    """
    rt = runtime.current()
    scope, last, last_end_ns = _last_turn(rt, resolve_scope(session_id, None, None))
    attributes: Attributes = {sc.SESSION_END_REASON: reason}
    if dropped_off is not None:
        attributes[sc.DROPOFF_DETECTED] = bool(dropped_off)
    if dropped_off:
        if last is not None:
            attributes[sc.DROPOFF_LAST_TURN] = last
        if last_end_ns:
            attributes[sc.DROPOFF_TIME_SINCE_LAST_TURN_MS] = round((rt.clock.time_ns() - last_end_ns) / 1e6, 3)
        if last_intent:
            attributes[sc.DROPOFF_LAST_INTENT] = last_intent
        if agent_last_action:
            attributes[sc.DROPOFF_AGENT_LAST_ACTION] = agent_last_action
    emit(rt, scope, "session.end", attributes)


@guard.guarded()
def feedback(
    score: int | bool | None = None,
    *,
    satisfaction: float | None = None,
    comment: str | None = None,
    turn_number: int | None = None,
    session_id: str | None = None,
) -> None:
    """User feedback: ``score`` on a turn (-1, 0, 1; ``True`` / ``False`` for thumbs up / down) and/or
    ``satisfaction`` with the session (0..1).

    Inside an open turn it is recorded on that turn; otherwise it is about ``turn_number`` (default: the
    session's last turn) and is sent as a session event.
    """
    rt = runtime.current()
    attributes: Attributes = {}
    if score is not None:
        value = int(score) if not isinstance(score, bool) else (1 if score else -1)
        if value not in (-1, 0, 1):
            guard.warn_once("feedback-score", "threadline: feedback score %r is not -1, 0 or 1; using its sign", score)
            value = (value > 0) - (value < 0)
        attributes[sc.TURN_FEEDBACK] = value
    if satisfaction is not None:
        attributes[sc.SESSION_USER_SATISFACTION] = min(max(float(satisfaction), 0.0), 1.0)
    if comment and rt.capture:
        attributes[sc.TURN_FEEDBACK_COMMENT] = comment
    if not attributes:
        return
    turn, scope = _target(session_id, turn_number)
    if turn is not None:
        turn.span.set_attributes(attributes)
        return
    if turn_number is None and score is not None:
        scope, turn_number, _ = _last_turn(rt, scope)
    emit(rt, scope, "feedback", attributes, turn_number)


@guard.guarded()
def journey(
    name: str,
    stage: str,
    *,
    stage_number: int | None = None,
    total_stages: int | None = None,
    converted: bool | None = None,
    session_id: str | None = None,
) -> None:
    """The session reached ``stage`` of journey ``name`` (an onboarding, a checkout...).

    The SDK adds ``journey.time_in_stage_ms`` (time spent in the previous stage of this journey) and,
    the first time ``converted=True``, ``journey.conversion_turn`` and ``journey.conversion_time_ms``
    (since the journey's first stage in this session).
    """
    rt = runtime.current()
    turn, scope = _target(session_id)
    if scope.session is None:
        emit(rt, scope, "journey", {})  # warns once
        return
    timing = rt.registry.journey_stage(scope.session.session_id, name, stage, rt.clock.time_ns(), bool(converted))
    attributes: Attributes = {sc.JOURNEY_NAME: name, sc.JOURNEY_STAGE: stage}
    if stage_number is not None:
        attributes[sc.JOURNEY_STAGE_NUMBER] = stage_number
    if total_stages is not None:
        attributes[sc.JOURNEY_TOTAL_STAGES] = total_stages
    if timing.time_in_previous_stage_ms is not None:
        attributes[sc.JOURNEY_TIME_IN_STAGE_MS] = round(timing.time_in_previous_stage_ms, 3)
    number = turn.number if turn is not None else None
    if turn is None:
        scope, number, _ = _last_turn(rt, scope)
    if converted is not None:
        attributes[sc.JOURNEY_CONVERTED] = bool(converted)
    if converted and not timing.already_converted:
        if number is not None:
            attributes[sc.JOURNEY_CONVERSION_TURN] = number
        attributes[sc.JOURNEY_CONVERSION_TIME_MS] = round(timing.since_first_stage_ms, 3)
    if turn is not None and not turn.journey_recorded:
        turn.journey_recorded = True
        turn.span.set_attributes(attributes)
    else:
        emit(rt, scope, "journey", attributes, number)


@guard.guarded()
def context_window(
    current_tokens: int | None = None,
    limit: int | None = None,
    *,
    new_tokens: int | None = None,
    pruned: bool | None = None,
    messages_pruned: int | None = None,
    messages_in_context: int | None = None,
    session_id: str | None = None,
) -> None:
    """Context-window pressure of the current turn: tokens in context, the model's limit, pruning."""
    rt = runtime.current()
    attributes: Attributes = {}
    if current_tokens is not None:
        attributes[sc.CONTEXT_CURRENT_TOKENS] = int(current_tokens)
        attributes[sc.CONVERSATION_CONTEXT_TOKENS] = int(current_tokens)
        if limit:
            attributes[sc.CONVERSATION_CONTEXT_WINDOW_PCT] = round(100.0 * current_tokens / limit, 2)
    for key, value in (
        (sc.CONTEXT_LIMIT, limit),
        (sc.CONTEXT_NEW_TOKENS, new_tokens),
        (sc.CONTEXT_MESSAGES_PRUNED, messages_pruned),
        (sc.CONVERSATION_MESSAGES_IN_CONTEXT, messages_in_context),
    ):
        if value is not None:
            attributes[key] = int(value)
    if pruned is not None:
        attributes[sc.CONTEXT_PRUNED] = bool(pruned)
    if not attributes:
        return
    turn, scope = _target(session_id)
    if turn is not None:
        turn.span.set_attributes(attributes)
        return
    scope, number, _ = _last_turn(rt, scope)
    emit(rt, scope, "context_window", attributes, number)
