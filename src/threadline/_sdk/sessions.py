"""Sessions and conversations: contexts (not spans) that every turn and span inside them belongs to."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from opentelemetry import context as otel_context

from threadline import semconv as sc
from threadline._sdk import guard, ids, runtime
from threadline._sdk.attached import AttachedContext
from threadline._sdk.events import end_session
from threadline._sdk.scope import Attributes, Scope, SessionInfo, context_with, current, make_scope
from threadline._sdk.spans import Failure
from threadline._sdk.turn import Turn, inert_turn, start_turn


class _ScopeHandle(AttachedContext):
    """Entering makes the scope current (OTel context); leaving restores the previous one."""

    def __init__(self, scope: Scope) -> None:
        super().__init__()
        self._scope = scope

    def __enter__(self) -> Self:
        self._attach(lambda: context_with(self._scope))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._detach()

    @guard.guarded(lambda: inert_turn())
    def turn(self, input: Any = None, **options: Any) -> Turn:
        """Start a turn in this session / conversation (for code that does not enter it with ``with``)."""
        return start_turn(runtime.current(), self._scope, input=input, **options)

    def _fail_open_turns(self, message: str | BaseException | None, conversation: str | None = None) -> None:
        session = self._scope.session
        if session is None:
            return
        failure = Failure.of(message)
        for open_turn in list(runtime.current().registry.open_turns.values()):
            if open_turn.session_id == session.session_id and conversation in (None, open_turn.conversation_id):
                open_turn._finish_safely(failure)


class Session(_ScopeHandle):
    """A session: ``with threadline.session(...) as s:``; ``s.id``. Leaving the block does not end it
    (a session spans many requests): ``s.end(reason)`` or ``threadline.end_session(id, reason)`` does."""

    @property
    def id(self) -> str:
        session = self._scope.session
        return session.session_id if session else ""

    @property
    def user_id(self) -> str | None:
        """The hashed user id, as it leaves the process."""
        session = self._scope.session
        return session.user_hash if session else None

    def end(self, reason: str = "completed") -> None:
        """End the session explicitly (sends ``session.end_reason``)."""
        end_session(self.id, reason)

    @guard.guarded()
    def error(self, message: str | BaseException | None = None) -> None:
        """End the session's open turns with error status, then the session with reason ``error``."""
        self._fail_open_turns(message)
        end_session(self.id, "error")

    def conversation(self, topic: str | None = None, conversation_id: str | None = None) -> Conversation:
        """A conversation in this session."""
        return _conversation(self._scope.session, topic, conversation_id)


class Conversation(_ScopeHandle):
    """A topic or thread inside a session; turn numbers count per conversation."""

    @property
    def id(self) -> str:
        return self._scope.conversation or ""

    @property
    def topic(self) -> str | None:
        return self._scope.topic

    def end(self) -> None:
        """Nothing to send: a conversation ends with its last turn. Present for symmetry."""

    @guard.guarded()
    def error(self, message: str | BaseException | None = None) -> None:
        """End the conversation's open turns with error status."""
        self._fail_open_turns(message, self.id)


@guard.guarded(lambda: Session(make_scope(SessionInfo(ids.new_session_id()))))
def session(
    session_id: str | None = None,
    user_id: str | None = None,
    *,
    channel: str | None = None,
    type: str | None = None,
    locale: str | None = None,
    client_version: str | None = None,
    user_tier: str | None = None,
    org_id: str | None = None,
) -> Session:
    """A session context: every turn, and every span of any library, started inside carries its id and
    the hashed user id. ``session_id`` defaults to a new ``sess_`` id; ``user_id`` is hashed here."""
    attributes: Attributes = {}
    for key, value in (
        (sc.SESSION_TYPE, type),
        (sc.SESSION_CHANNEL, channel),
        (sc.SESSION_LOCALE, locale),
        (sc.SESSION_CLIENT_VERSION, client_version),
        (sc.USER_TIER, user_tier),
        (sc.USER_ORG_ID, org_id),
    ):
        if value is not None:
            attributes[key] = str(value)
    user_hash = ids.hash_user_id(user_id) if user_id is not None else None
    info = SessionInfo(session_id or ids.new_session_id(), user_hash, attributes)
    return Session(make_scope(info))


@guard.guarded(lambda: Session(make_scope(SessionInfo(ids.new_session_id()))))
def set_session(session_id: str | None = None, user_id: str | None = None, **options: Any) -> Session:
    """Make a session current for everything that follows in this context (thread or task), without a
    ``with`` block. Takes the same options as ``session()``."""
    handle = session(session_id, user_id, **options)
    otel_context.attach(context_with(handle._scope))
    return handle


def _conversation(info: SessionInfo | None, topic: str | None, conversation_id: str | None) -> Conversation:
    return Conversation(make_scope(info, conversation_id or ids.new_conversation_id(), topic))


@guard.guarded(lambda: Conversation(make_scope(None, ids.new_conversation_id())))
def conversation(topic: str | None = None, conversation_id: str | None = None) -> Conversation:
    """A conversation in the current session (``conversation_id`` defaults to a new ``conv_`` id)."""
    return _conversation(current().session, topic, conversation_id)
