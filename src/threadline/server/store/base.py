"""The storage contract: what the API, the pages and the background tasks need from an engine, typed and
engine-neutral (docs/storage.md).

``Store`` holds the reads (returning the frozen records of ``store/records.py``, paged with opaque
cursors), analytics, the admin tables, and builds the engine's write side (``writer``: the
``ingest.port.SpanWriter`` port). SQLite (``store/sqlite``) and ClickHouse (``store/clickhouse``)
implement it and pass ``tests/store_contract``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from threadline.server.ingest.port import OnCommit, Prepare, SpanWriter, WriterOptions
from threadline.server.store.records import (
    JourneyProgress,
    OrphanTrace,
    Page,
    SessionAnalytics,
    SessionDetail,
    SessionSummary,
    SpanRecord,
    Stats,
    TraceInfo,
    UserSummary,
)


class StoreUnavailable(Exception):
    """The store cannot be opened (the path, and why, in one line: for the operator, not a traceback)."""


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
    after: str | None = None
    """Where the page starts: the ``next_cursor`` of the previous page of the same ordering."""
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
    after: str | None = None
    """The ``next_cursor`` of the previous page of the same ordering."""


USER_ORDERINGS: tuple[str, ...] = ("last_seen", "first_seen", "session_count", "turn_count", "total_cost")


@dataclass(frozen=True, slots=True)
class Window:
    """Sessions active in [since, until] (either open), optionally of one user."""

    since_ns: int | None = None
    until_ns: int | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """What the clock-dependent rules (``intelligence.rules``) need: now, and the idle timeout."""

    now_ns: int
    idle_timeout_ns: int

    @property
    def cutoff_ns(self) -> int:
        """Sessions quiet since this have ended (unless they ended explicitly before)."""
        return self.now_ns - self.idle_timeout_ns


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
    """A storage engine: its write side (``writer``), and reads that any number of threads may call."""

    def writer(self, prepare: Prepare, options: WriterOptions, on_commit: OnCommit | None = None) -> SpanWriter:
        """The engine's write side (one per server process; not started)."""
        ...

    def list_sessions(self, project_id: int, query: SessionQuery) -> Page[SessionSummary]:
        """A page of sessions, filtered and ordered as ``query`` says. Sessions of equal value come in an order
        the engine keeps stable from page to page (SQLite: arrival; ClickHouse: session id)."""
        ...

    def get_session(self, project_id: int, session_id: str) -> SessionDetail | None: ...

    def get_sessions(self, project_id: int, session_ids: Sequence[str]) -> list[SessionSummary]:
        """Those of ``session_ids`` that are stored, in no particular order."""
        ...

    def trace(self, project_id: int, trace_id: bytes) -> TraceInfo | None:
        """A stored trace and its session; None when no span of it is stored."""
        ...

    def trace_spans(self, project_id: int, trace_id: bytes) -> list[SpanRecord]:
        """Every span of a trace by start time, with the GenAI log events sent for it among its events."""
        ...

    def list_orphan_traces(self, project_id: int, limit: int, after: str | None = None) -> Page[OrphanTrace]:
        """Traces that name no session, the latest started first."""
        ...

    def stats(self, project_id: int) -> Stats: ...

    def idle_timeout_ms(self, project_id: int) -> int | None:
        """The idle timeout the project was last served with (so read-only readers agree with it)."""
        ...

    def set_idle_timeout_ms(self, project_id: int, value: int) -> None: ...

    def list_users(self, project_id: int, query: UserQuery) -> Page[UserSummary]: ...

    def get_user(self, project_id: int, user_id: str) -> UserSummary | None: ...

    def session_analytics(self, project_id: int, window: Window, rules: Rules) -> SessionAnalytics:
        """``intelligence.analytics`` over the sessions active in ``window``."""
        ...

    def journey_progress(self, project_id: int, window: Window) -> list[JourneyProgress]:
        """Every (session, journey) of the sessions active in ``window``, by journey name."""
        ...

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
