"""The storage interface: what ingest and the API need from a backend, and nothing else.

A backend provides ``IngestTransaction`` (used by the single writer, inside one transaction per group
commit) and the read methods of ``Store``. The embedded SQLite backend implements both; a distributed
backend implements the same protocols without touching ingest or the API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.records import RawSpan, SpanFacts
from threadline.server.ingest.rollup import SessionRollup, TraceAgg, TurnId, TurnRollup

SpanItem = tuple[RawSpan, SpanFacts]


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


class IngestTransaction(Protocol):
    """Storage as the stitcher sees it, inside one write transaction."""

    def trace_homes(self, project_id: int, trace_ids: Sequence[bytes]) -> dict[bytes, int | None]:
        """For each already-stored trace: its session pk, or ``None`` for an orphan trace."""
        ...

    def load_trace(self, project_id: int, trace_id: bytes) -> TraceAgg: ...

    def stored_span_ids(self, project_id: int, trace_id: bytes) -> set[bytes]: ...

    def load_session(self, project_id: int, session_id: str) -> LoadedSession | None: ...

    def load_session_by_pk(self, pk: int) -> LoadedSession: ...

    def new_session_pk(self) -> int: ...

    def user_exists(self, project_id: int, user_id: str) -> bool: ...

    def insert_spans(self, project_id: int, items: Sequence[SpanItem]) -> None: ...

    def save_traces(self, project_id: int, traces: Sequence[tuple[TraceAgg, int | None]]) -> None:
        """Upsert trace aggregates with their session pk (``None``: orphan)."""
        ...

    def save_session(
        self,
        project_id: int,
        pk: int,
        session_id: str,
        rollup: SessionRollup,
        changed_turns: Sequence[TurnRollup],
        removed_turns: Sequence[TurnId],
    ) -> None: ...

    def add_user(self, project_id: int, user_id: str, delta: UserDelta) -> None: ...

    def add_counters(self, project_id: int, delta: CounterDelta) -> None: ...

    def store_log_events(self, project_id: int, events: Sequence[LogEvent]) -> None:
        """Keep GenAI log events (duplicates ignored), whether or not their span has arrived."""
        ...

    def has_log_events(self, project_id: int) -> bool: ...

    def log_event_traces(self, project_id: int, trace_ids: Sequence[bytes]) -> set[bytes]:
        """Which of these traces have log events stored."""
        ...

    def log_events(self, project_id: int, trace_id: bytes) -> list[LogEvent]: ...

    def stored_spans(self, project_id: int, trace_id: bytes) -> list[RawSpan]:
        """Every stored span of a trace, as decoded (to fold a trace again from scratch)."""
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
    """Filters, ordering and page position for the session list (SPEC §3)."""

    user_id: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    min_turns: int | None = None
    max_turns: int | None = None
    has_error: bool | None = None
    model: str | None = None
    q: str | None = None
    ordering: str = "last_activity"
    descending: bool = True
    limit: int = 50
    after: tuple[Any, int] | None = None
    """Keyset position: (ordering value, session pk) of the last row of the previous page."""


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


class Store(Protocol):
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
        self, project_id: int, limit: int, after: tuple[int, bytes] | None
    ) -> list[dict[str, Any]]: ...

    def stats(self, project_id: int) -> Stats: ...

    def close(self) -> None: ...


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
