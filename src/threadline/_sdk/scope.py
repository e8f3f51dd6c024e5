"""Where a piece of code is in the hierarchy: the session, conversation and turn it runs in.

The scope travels inside the OpenTelemetry ``Context`` (one key), so whatever propagates OTel context
(asyncio tasks, instrumented thread pools) propagates the session too, and a span processor can read
it at ``on_start`` for spans made by any library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from threadline import semconv as sc
from threadline._sdk import ids

if TYPE_CHECKING:
    from threadline._sdk.turn import Turn

SCOPE_KEY = otel_context.create_key("threadline.scope")
Attributes = dict[str, AttributeValue]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as the SDK writes it: its id, the hashed user id and the session-level attributes."""

    session_id: str
    user_hash: str | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scope:
    session: SessionInfo | None
    conversation_id: str | None = None
    topic: str | None = None
    turn: Turn | None = None
    stamp: Attributes = field(default_factory=dict)
    """Identity attributes stamped on every span started in this scope, whichever library starts it."""

    @property
    def conversation(self) -> str | None:
        """The conversation id in force: the explicit one, else the session id (as the server reads it)."""
        if self.conversation_id:
            return self.conversation_id
        return self.session.session_id if self.session else None

    def with_turn(self, turn: Turn) -> Scope:
        """The scope inside ``turn``: the same, plus the turn (and its number in the stamp)."""
        stamp = dict(self.stamp)
        stamp[sc.CONVERSATION_TURN_NUMBER] = turn.number
        return Scope(self.session, self.conversation_id, self.topic, turn, stamp)

    def derive(self, **changes: Any) -> Scope:
        """A copy with ``changes`` applied and the stamp recomputed."""
        values: dict[str, Any] = {
            "session": self.session,
            "conversation_id": self.conversation_id,
            "topic": self.topic,
            "turn": self.turn,
        }
        values.update(changes)
        return make_scope(**values)


def make_scope(
    session: SessionInfo | None, conversation_id: str | None = None, topic: str | None = None, turn: Turn | None = None
) -> Scope:
    draft = Scope(session, conversation_id, topic, turn)
    return Scope(session, conversation_id, topic, turn, make_stamp(draft))


EMPTY = Scope(session=None)


def make_stamp(scope: Scope) -> Attributes:
    stamp: Attributes = {}
    session = scope.session
    if session is not None:
        stamp[sc.SESSION_ID] = session.session_id
        if session.user_hash:
            stamp[sc.USER_ID] = session.user_hash
    conversation = scope.conversation
    if conversation:
        stamp[sc.CONVERSATION_ID] = conversation
    if scope.turn is not None and scope.turn.number is not None:
        stamp[sc.CONVERSATION_TURN_NUMBER] = scope.turn.number
    return stamp


def resolve_scope(session_id: str | None, user_id: str | None, conversation_id: str | None) -> Scope:
    """The scope a new turn (or session event) belongs to: the current one, or the session named."""
    outer = current()
    if session_id is None and user_id is None and conversation_id is None and outer.turn is None:
        return outer
    session = outer.session
    same_session = True
    if session_id and (session is None or session.session_id != session_id):
        session = SessionInfo(session_id, ids.hash_user_id(user_id) if user_id is not None else None)
        same_session = False
    elif user_id is not None and session is not None:
        session = SessionInfo(session.session_id, ids.hash_user_id(user_id), session.attributes)
    conversation = conversation_id or (outer.conversation_id if same_session else None)
    topic = outer.topic if same_session and conversation == outer.conversation_id else None
    return make_scope(session, conversation, topic)


def current() -> Scope:
    """The scope of the calling code (``EMPTY`` outside any session)."""
    scope = otel_context.get_value(SCOPE_KEY)
    return scope if isinstance(scope, Scope) else EMPTY


def context_with(scope: Scope, span: trace.Span | None = None, base: otel_context.Context | None = None) -> Any:
    """An OTel context carrying ``scope`` (and ``span`` as the current span, when given)."""
    ctx = otel_context.get_current() if base is None else base
    if ctx.get(SCOPE_KEY) is not scope:
        ctx = otel_context.set_value(SCOPE_KEY, scope, ctx)
    if span is not None:
        ctx = trace.set_span_in_context(span, ctx)
    return ctx
