"""The write side of storage, as ingest defines it: what the routes call, and what an engine provides.

``SpanWriter`` is what the HTTP edge and the background tasks use: write prepared spans and return once
they are durable, attach GenAI log events, erase, expire. Each engine builds its own
(``Store.writer``). The SQLite engine's is the single writer with the stitcher (``ingest/writer.py``),
which folds incrementally through ``IngestTransaction``, the port below it; the ClickHouse engine's
inserts and refolds from what the database holds.

Nothing here imports ``store``: engines import this module, never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.records import RawSpan, SpanFacts
from threadline.server.ingest.rollup import FoldOptions, SessionRollup, TurnId, TurnRollup
from threadline.server.ingest.trace_agg import TraceAgg

SpanItem = tuple[RawSpan, SpanFacts]
"""A decoded span and what it means."""

Prepare = Callable[[Sequence[RawSpan]], list[SpanItem]]
"""Normalize and price decoded spans (``Preparer.prepare``)."""


class StoreWriteRefused(Exception):
    """The store cannot take writes right now (disk full, I/O error, unreachable): nothing was written, and
    the same write may succeed later. Ingest answers 503 with Retry-After."""


@dataclass(slots=True)
class ChangeSet:
    """What one write changed (the sessions of a project, for live views)."""

    project_id: int
    sessions: set[str] = field(default_factory=set)


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
class WriterOptions:
    """How an engine's writer folds and how much it queues."""

    fold: FoldOptions = field(default_factory=FoldOptions)
    max_pending_spans: int = 50_000
    """Spans queued and not yet written; past it, ``write`` raises ``Overloaded`` (503 + Retry-After)."""
    max_batch_spans: int = 20_000
    """Spans written at once (one transaction, one insert)."""


OnCommit = Callable[[list[ChangeSet]], None]
"""Told what each durable write changed (live updates)."""


class SpanWriter(Protocol):
    """The write side of a store. Every method but ``start``/``stop`` may raise ``Overloaded`` (the queue is
    full), ``StorageUnavailable`` (the store refused the write) or ``ReadOnly``."""

    @property
    def pending_spans(self) -> int:
        """Spans accepted and not yet durable."""
        ...

    @property
    def commits(self) -> int:
        """Writes made durable since start."""
        ...

    @property
    def busy_seconds(self) -> float:
        """Seconds of the clock on the wall the writer spent writing since start (not waiting for work): close
        to the time elapsed, the writer is what limits ingest."""
        ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued (within ``timeout``), then stop."""
        ...

    async def write(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> ChangeSet:
        """Store spans; returns once they are durable. ``weight``: the request's bytes (bounds a batch)."""
        ...

    async def attach_log_events(self, project_id: int, events: Sequence[LogEvent]) -> ChangeSet:
        """Store GenAI log events and join them to their spans, whichever arrived first."""
        ...

    async def erase_session(self, project_id: int, session_id: str) -> Erased | None:
        """Remove a session and everything stored for it; None when there is no such session."""
        ...

    async def erase_user(self, project_id: int, user_ids: Sequence[str]) -> Erased:
        """Remove the users (one person's id in its stored forms), their sessions and the orphan traces
        that name them."""
        ...

    async def expire_sessions(self, project_id: int, session_ids: Sequence[str], before_ns: int) -> Erased:
        """Remove those sessions still quiet since ``before_ns`` (retention: one that got a span stays)."""
        ...

    async def expire_orphan_traces(self, project_id: int, trace_ids: Sequence[bytes], before_ns: int) -> Erased:
        """Remove those traces that are still orphans and started before ``before_ns``."""
        ...


# --- the incremental port: what the stitcher needs of an engine, inside one write transaction -------------


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
    """Storage as the stitcher sees it, inside one write transaction of a single-writer engine.

    The engine hands out integer keys for sessions and traces in arrival order (``new_session_pk``,
    ``new_trace_pk``), so that inserts append.
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


class Transactional(Protocol):
    """A single-writer engine: one write transaction at a time, committed when the context exits."""

    def write(self) -> AbstractContextManager[IngestTransaction]: ...
