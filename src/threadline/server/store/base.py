"""The storage interface: what ingest and the API need from a backend, and nothing else.

A backend provides ``IngestTransaction`` (used by the single writer, inside one transaction per group
commit) and the read methods of ``Store``. The embedded SQLite backend implements both; a distributed
backend implements the same protocols without touching ingest or the API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.records import RawSpan, SpanFacts
from threadline.server.ingest.rollup import SessionRollup, TurnId, TurnRollup
from threadline.server.ingest.trace_agg import TraceAgg
from threadline.server.intelligence.analytics import SessionRow


class StoreUnavailable(Exception):
    """The store cannot be opened (the path, and why, in one line: for the operator, not a traceback)."""


class StoreWriteRefused(Exception):
    """The store cannot take writes right now (disk full, I/O error, locked): nothing was written, and the
    same write may succeed later. Raised by ``Store.write``; ingest answers 503 with Retry-After."""


SpanItem = tuple[RawSpan, SpanFacts]
"""A decoded span and what it means."""


@dataclass(slots=True)
class LoadedSession:
    pk: int
    session_id: str
    traces: list[TraceAgg]


@dataclass(slots=True)
class UserDelta:
    """A change to one user's rollup (negative values undo a session's earlier contribution)."""

    session_count: int = 0
    turn_count: int = 0
    trace_count: int = 0
    error_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    first_ns: int = 0
    last_ns: int = 0


@dataclass(slots=True)
class CounterDelta:
    span_count: int = 0
    trace_count: int = 0
    session_count: int = 0
    orphan_trace_count: int = 0
    user_count: int = 0


@dataclass(slots=True)
class SessionWrite:
    """One session's changes in a batch."""

    pk: int
    session_id: str
    is_new: bool
    before: SessionRollup | None
    """What the writer last wrote for the session (only changed columns are written), or None when unknown."""
    after: SessionRollup
    changed_turns: Sequence[TurnRollup]
    removed_turns: Sequence[TurnId]


TraceHome = tuple[int, int | None]
"""A stored trace's key and its session's key (``None``: an orphan trace)."""

StoredSpan = tuple[int, RawSpan, SpanFacts]
"""A span to store, with the key of its trace."""


class IngestTransaction(Protocol):
    """Storage as the stitcher sees it, inside one write transaction.

    The backend hands out integer keys for sessions and traces in arrival order
    (``new_session_pk``, ``new_trace_pk``), so that inserts append.
    """

    def trace_homes(self, project_id: int, trace_ids: Sequence[bytes]) -> dict[bytes, TraceHome]:
        """The already-stored traces among ``trace_ids``."""
        ...

    def load_trace(self, trace_pk: int) -> TraceAgg: ...

    def stored_span_ids(self, trace_pk: int) -> set[bytes]: ...

    def stored_spans(self, trace_pk: int) -> list[RawSpan]:
        """Every stored span of a trace, as decoded (to fold a trace again from scratch)."""
        ...

    def load_session(self, project_id: int, session_id: str) -> LoadedSession | None: ...

    def load_session_by_pk(self, pk: int) -> LoadedSession: ...

    def new_session_pk(self) -> int: ...

    def new_trace_pk(self) -> int: ...

    def insert_spans(self, spans: Sequence[StoredSpan]) -> None: ...

    def save_traces(self, project_id: int, traces: Sequence[tuple[TraceAgg, int | None, bool]]) -> None:
        """Insert (``True``: new) or update trace aggregates, with their session key (``None``: orphan)."""
        ...

    def save_sessions(self, project_id: int, writes: Sequence[SessionWrite]) -> None:
        """Insert or update session rows and write their changed turns."""
        ...

    def existing_users(self, project_id: int, user_ids: Sequence[str]) -> set[str]: ...

    def add_users(self, project_id: int, deltas: Sequence[tuple[str, UserDelta]]) -> None: ...

    def add_counters(self, project_id: int, delta: CounterDelta) -> None: ...

    def store_log_events(self, project_id: int, events: Sequence[LogEvent]) -> None:
        """Keep GenAI log events (duplicates ignored), whether or not their span has arrived."""
        ...

    def has_log_events(self, project_id: int) -> bool: ...

    def log_event_traces(self, project_id: int, trace_ids: Sequence[bytes]) -> set[bytes]:
        """Which of these traces have log events stored."""
        ...

    def log_events(self, project_id: int, trace_id: bytes) -> list[LogEvent]: ...

    def find_session(self, project_id: int, session_id: str) -> tuple[int, str | None] | None:
        """(key, user id) of a stored session."""
        ...

    def user_sessions(self, project_id: int, user_id: str) -> list[tuple[int, str]]:
        """(key, session id) of every session of a user."""
        ...

    def erase_session(self, project_id: int, session_pk: int) -> Erased: ...

    def erase_orphan_traces_of(self, project_id: int, user_id: str) -> Erased: ...

    def recompute_user(self, project_id: int, user_id: str) -> bool:
        """Rebuild a user's rollup from their sessions; True when no session is left (user removed)."""
        ...

    def quiet_sessions(
        self, project_id: int, session_ids: Sequence[str], before_ns: int
    ) -> list[tuple[int, str, str | None]]:
        """(key, session id, user id) of those sessions whose last activity is still before ``before_ns``."""
        ...

    def erase_orphan_traces(self, project_id: int, trace_ids: Sequence[bytes], before_ns: int) -> Erased:
        """Remove those traces that are still orphans and started before ``before_ns``."""
        ...


Ordering = Literal[
    "last_activity", "first_activity", "total_cost", "total_tokens", "duration", "turn_count", "error_count"
]
ORDERINGS: tuple[str, ...] = (
    "last_activity",
    "first_activity",
    "total_cost",
    "total_tokens",
    "duration",
    "turn_count",
    "error_count",
)


@dataclass(slots=True)
class SessionQuery:
    """Filters, ordering and page position for the session list (``GET /api/v1/sessions``)."""

    user_id: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    min_turns: int | None = None
    max_turns: int | None = None
    has_error: bool | None = None
    status: str | None = None
    """``active`` or ``ended`` (needs ``now_ns`` and ``idle_timeout_ns``)."""
    dropped_off: bool | None = None
    now_ns: int = 0
    idle_timeout_ns: int = 30 * 60 * 10**9
    model: str | None = None
    q: str | None = None
    ordering: str = "last_activity"
    descending: bool = True
    limit: int = 50
    after: tuple[Any, int] | None = None
    """Keyset position: (ordering value, session pk) of the last row of the previous page."""
    session_ids: Sequence[str] | None = None
    """Only these sessions (a live view asking which changed sessions still match its filters)."""


@dataclass(slots=True)
class UserQuery:
    ordering: str = "last_seen"
    descending: bool = True
    limit: int = 50
    since_ns: int | None = None
    until_ns: int | None = None
    returning: bool | None = None
    after: tuple[Any, str] | None = None


USER_ORDERINGS: tuple[str, ...] = ("last_seen", "first_seen", "session_count", "turn_count", "total_cost")


@dataclass(slots=True)
class Erased:
    """What an erasure removed."""

    sessions: list[str] = field(default_factory=list)
    spans: int = 0
    trace_ids: list[bytes] = field(default_factory=list)

    def add(self, other: Erased) -> None:
        self.sessions += other.sessions
        self.spans += other.spans
        self.trace_ids += other.trace_ids


@dataclass(frozen=True, slots=True)
class Window:
    """Sessions active in [since, until] (either open), optionally of one user."""

    since_ns: int | None = None
    until_ns: int | None = None
    user_id: str | None = None


@dataclass(slots=True)
class Page:
    rows: list[dict[str, Any]]
    next_after: tuple[Any, int] | None = None


@dataclass(slots=True)
class Stats:
    span_count: int
    trace_count: int
    session_count: int
    orphan_trace_count: int
    user_count: int


@dataclass(slots=True)
class SpanRow:
    """A stored span, rehydrated for the trace view."""

    span: RawSpan
    category: str
    cost_usd: float | None
    cost_source: str | None


ContentPolicy = Literal["full", "truncated", "none"]
KeyScope = Literal["full", "read", "ingest"]


@dataclass(frozen=True, slots=True)
class Project:
    """A tenant: its data is seen only through its own keys. Holds its privacy settings."""

    id: int
    name: str
    created_ns: int
    content_policy: ContentPolicy = "full"
    """What is kept of texts (prompts, answers, tool arguments and results): all, cut, or nothing."""
    content_max_chars: int | None = None
    """For ``truncated``: characters kept of each text."""
    redact_secrets: bool = True
    """Replace providers' API keys, bearer tokens and e-mail addresses before anything is written."""
    redact_patterns: tuple[str, ...] = ()
    """Regular expressions whose matches are replaced too."""
    retention_days: int | None = None
    """Sessions quiet for longer than this are removed (None: kept until erased)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: its public id and what it grants (the secret itself is never stored)."""

    id: str
    project_id: int
    name: str
    scope: KeyScope
    created_ns: int
    revoked_ns: int | None = None
    last_used_ns: int | None = None


class Admin(Protocol):
    """Projects and API keys."""

    def projects(self) -> list[Project]: ...

    def project(self, name: str) -> Project | None: ...

    def project_by_id(self, project_id: int) -> Project | None: ...

    def create_project(self, name: str, now_ns: int) -> Project:
        """Raises ``ValueError`` when a project of that name exists."""
        ...

    def update_project(self, project: Project) -> None:
        """Store the project's settings (its name and id are kept)."""
        ...

    def add_key(self, key: ApiKey, secret_hash: bytes) -> None: ...

    def api_keys(self, project_id: int | None = None) -> list[ApiKey]: ...

    def key(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        """A key and the HMAC of its secret."""
        ...

    def revoke_key(self, key_id: str, now_ns: int) -> bool:
        """False when there is no such key or it was revoked already."""
        ...

    def touch_key(self, key_id: str, now_ns: int) -> None:
        """Record that the key was used (best effort)."""
        ...


class Store(Admin, Protocol):
    """A storage backend: one writer transaction at a time, any number of readers."""

    def write(self) -> AbstractContextManager[IngestTransaction]: ...

    def list_sessions(self, project_id: int, query: SessionQuery) -> Page: ...

    def get_session(self, project_id: int, session_id: str) -> dict[str, Any] | None: ...

    def get_turns(self, project_id: int, session_pk: int) -> list[dict[str, Any]]: ...

    def get_trace_spans(self, project_id: int, trace_id: bytes) -> list[SpanRow]: ...

    def trace_session(self, project_id: int, trace_id: bytes) -> tuple[bool, str | None]:
        """(the trace is stored, the id of its session or None for an orphan trace)."""
        ...

    def list_orphan_traces(
        self, project_id: int, limit: int, after: tuple[int, int] | None
    ) -> list[dict[str, Any]]: ...

    def stats(self, project_id: int) -> Stats: ...

    def idle_timeout_ms(self, project_id: int) -> int | None:
        """The idle timeout the project was last served with (so read-only readers agree with it)."""
        ...

    def set_idle_timeout_ms(self, project_id: int, value: int) -> None: ...

    def list_users(self, project_id: int, query: UserQuery) -> Page: ...

    def get_user(self, project_id: int, user_id: str) -> dict[str, Any] | None: ...

    def get_sessions(self, project_id: int, session_ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def session_rows(self, project_id: int, window: Window) -> list[SessionRow]:
        """What ``intelligence.analytics`` needs of every session in the window."""
        ...

    def session_journeys(self, project_id: int, window: Window) -> list[dict[str, Any]]: ...

    def models(self, project_id: int) -> list[str]:
        """Every model a session of the project called, by name."""
        ...

    def sessions_going_idle(self, project_id: int, from_ns: int, to_ns: int) -> list[str]:
        """Sessions with no explicit end whose last activity lies in (from_ns, to_ns]."""
        ...

    def sessions_quiet_since(self, project_id: int, before_ns: int, limit: int) -> list[str]:
        """Up to ``limit`` sessions whose last activity is before ``before_ns``, the quietest first."""
        ...

    def orphan_traces_before(self, project_id: int, before_ns: int, limit: int) -> list[bytes]:
        """Up to ``limit`` orphan traces that started before ``before_ns``, the oldest first."""
        ...

    def close(self) -> None: ...


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
