"""Stitching: spans join traces, traces join sessions, whatever order they arrive in.

A trace belongs to the session any of its spans names (root span first). A trace seen with no session
id is stored as an orphan; if a later span of it names a session (a root arriving after its children,
a trace split over two requests), the whole trace is adopted by that session. Once a trace has a
session it keeps it. Duplicate spans (client retries) are dropped.

``Stitcher`` runs on the writer thread only. It caches session states and trace homes between batches;
the caches mirror what the transactions wrote, and are dropped if a transaction fails.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.port import (
    ChangeSet,
    CounterDelta,
    Erased,
    IngestTransaction,
    Prepare,
    SessionWrite,
    SpanItem,
    StoredSpan,
    TraceHome,
    UserDelta,
)
from threadline.server.ingest.records import RawSpan, SpanEvent
from threadline.server.ingest.rollup import FoldOptions, SessionRollup
from threadline.server.ingest.session_state import SessionState
from threadline.server.ingest.trace_agg import TraceAgg

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Least recently used entries go first, past ``capacity`` entries or ``max_weight`` in all (entries
    weigh 1 unless ``put`` says otherwise)."""

    def __init__(self, capacity: int, max_weight: int | None = None) -> None:
        self.capacity = capacity
        self.max_weight = max_weight
        self.weight = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._items.get(key)
        if entry is None:
            return None
        self._items.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, weight: int = 1) -> None:
        previous = self._items.get(key)
        if previous is not None:
            self.weight -= previous[1]
        self._items[key] = (value, weight)
        self.weight += weight
        self._items.move_to_end(key)
        while len(self._items) > 1 and (
            len(self._items) > self.capacity or (self.max_weight is not None and self.weight > self.max_weight)
        ):
            self.weight -= self._items.popitem(last=False)[1][1]

    def pop(self, key: K) -> None:
        entry = self._items.pop(key, None)
        if entry is not None:
            self.weight -= entry[1]

    def clear(self) -> None:
        self._items.clear()
        self.weight = 0

    def __contains__(self, key: K) -> bool:
        return key in self._items


SESSION_CACHE_BYTES = 32 * 1024 * 1024
"""About how much the cached sessions may hold (their traces' texts dominate): memory stays flat whatever
the size of the conversations."""
TRACE_OVERHEAD_BYTES = 1500
"""What a cached trace aggregate costs besides its texts."""


def session_weight(state: SessionState) -> int:
    """Roughly the bytes a cached session holds."""
    return sum(TRACE_OVERHEAD_BYTES + len(t.input_text or "") + len(t.output_text or "") for t in state.traces.values())


@dataclass(slots=True)
class _Session:
    """A cached session state and what the store holds for it."""

    state: SessionState
    is_new: bool = False
    written: SessionRollup | None = None
    """The rollup this writer last wrote (None: not known, write every column)."""


@dataclass(slots=True)
class _Batch:
    """What one ``apply`` accumulates before writing."""

    counters: CounterDelta = field(default_factory=CounterDelta)
    spans: list[StoredSpan] = field(default_factory=list)
    traces: list[tuple[TraceAgg, int | None, bool]] = field(default_factory=list)
    touched: dict[int, tuple[_Session, SessionRollup | None]] = field(default_factory=dict)


class Stitcher:
    def __init__(
        self,
        prepare: Prepare,
        options: FoldOptions | None = None,
        session_cache: int = 4096,
        trace_cache: int = 100_000,
    ) -> None:
        self._prepare = prepare
        self.options = options or FoldOptions()
        self._logs_stored: dict[int, bool] = {}
        self._sessions: LruCache[tuple[int, str], _Session] = LruCache(session_cache, SESSION_CACHE_BYTES)
        self._session_keys: dict[int, tuple[int, str]] = {}
        self._homes: LruCache[tuple[int, bytes], TraceHome] = LruCache(trace_cache)
        self._known_users: LruCache[tuple[int, str], bool] = LruCache(trace_cache)

    def reset(self) -> None:
        """Forget everything cached (after a failed transaction)."""
        self._logs_stored.clear()
        self._sessions.clear()
        self._session_keys.clear()
        self._homes.clear()
        self._known_users.clear()

    def forget_session(self, project_id: int, session_id: str, trace_ids: Sequence[bytes]) -> None:
        """Drop a deleted session (and its traces) from the caches."""
        cached = self._sessions.get((project_id, session_id))
        if cached is not None:
            self._session_keys.pop(cached.state.pk, None)
        self._sessions.pop((project_id, session_id))
        for trace_id in trace_ids:
            self._homes.pop((project_id, trace_id))

    def forget_user(self, project_id: int, user_id: str) -> None:
        self._known_users.pop((project_id, user_id))

    # --- spans -----------------------------------------------------------------------------------

    def apply_all(self, txn: IngestTransaction, requests: Sequence[tuple[int, Sequence[SpanItem]]]) -> list[ChangeSet]:
        """Store several requests' spans, (project, spans) each, in one transaction: a project's are one batch,
        so that a session that several of them add to is folded and written once. Each request is told
        what its project's batch changed."""
        by_project: dict[int, list[SpanItem]] = {}
        for project_id, items in requests:
            by_project.setdefault(project_id, []).extend(items)
        changed = {project_id: self.apply(txn, project_id, items) for project_id, items in by_project.items()}
        return [changed[project_id] for project_id, _ in requests]

    def apply(self, txn: IngestTransaction, project_id: int, items: Sequence[SpanItem]) -> ChangeSet:
        """Store one batch of spans and fold them into traces, turns, sessions and users."""
        by_trace: dict[bytes, list[SpanItem]] = {}
        for item in items:
            by_trace.setdefault(item[0].trace_id, []).append(item)
        homes = self._homes_of(txn, project_id, list(by_trace))
        if self._has_logs(txn, project_id):
            for trace_id in txn.log_event_traces(project_id, list(by_trace)):
                by_trace[trace_id] = self._with_log_events(txn, project_id, trace_id, by_trace[trace_id])
        batch = _Batch()
        for trace_id, group in by_trace.items():
            self._add_trace(txn, project_id, trace_id, group, homes.get(trace_id), batch)
        changes = ChangeSet(project_id)
        batch.counters.span_count = len(batch.spans)
        txn.insert_spans(batch.spans)
        self._flush(txn, project_id, batch, changes)
        return changes

    def _add_trace(
        self,
        txn: IngestTransaction,
        project_id: int,
        trace_id: bytes,
        group: list[SpanItem],
        home: TraceHome | None,
        batch: _Batch,
    ) -> None:
        seen = txn.stored_span_ids(home[0]) if home is not None else set()
        fresh = []
        for item in group:
            if item[0].span_id not in seen:
                seen.add(item[0].span_id)
                fresh.append(item)
        if not fresh:
            return
        group = fresh
        if home is None:
            agg = TraceAgg(trace_id, txn.new_trace_pk())
            batch.counters.trace_count += 1
        else:
            agg = self._trace_agg(txn, project_id, trace_id, home)
        # Roots first: their text usually settles the turn's, so the children's need not be resolved.
        for span, facts in [i for i in group if i[0].parent_span_id is None] + [
            i for i in group if i[0].parent_span_id is not None
        ]:
            agg.add(span, facts)
            batch.spans.append((agg.pk, span, facts))
        session_pk = home[1] if home is not None else None
        if session_pk is not None:
            cached = self._session_by_pk(txn, project_id, session_pk)
        else:
            session_id = _named_session(group)
            if session_id is None:  # still an orphan
                batch.counters.orphan_trace_count += home is None
                self._homes.put((project_id, trace_id), (agg.pk, None))
                batch.traces.append((agg, None, home is None))
                return
            cached = self._session(txn, project_id, session_id, batch.counters)
            batch.counters.orphan_trace_count -= home is not None  # an orphan adopted
        self._attach(cached, agg, batch)
        self._homes.put((project_id, trace_id), (agg.pk, cached.state.pk))
        batch.traces.append((agg, cached.state.pk, home is None))

    @staticmethod
    def _attach(cached: _Session, agg: TraceAgg, batch: _Batch) -> None:
        batch.touched.setdefault(cached.state.pk, (cached, cached.state.rollup))
        cached.state.update(agg)

    def _flush(self, txn: IngestTransaction, project_id: int, batch: _Batch, changes: ChangeSet) -> None:
        txn.save_traces(project_id, batch.traces)
        writes: list[SessionWrite] = []
        users: dict[str, UserDelta] = {}
        for cached, before in batch.touched.values():
            state = cached.state
            self._sessions.put((project_id, state.session_id), cached, session_weight(state))
            changed, removed = state.refresh()
            after = state.rollup
            if after is None:
                continue
            writes.append(
                SessionWrite(state.pk, state.session_id, cached.is_new, cached.written, after, changed, removed)
            )
            cached.is_new = False
            cached.written = after
            changes.sessions.add(state.session_id)
            for user_id, delta in user_deltas(before, after):
                users[user_id] = _add_deltas(users[user_id], delta) if user_id in users else delta
        txn.save_sessions(project_id, writes)
        self._count_new_users(txn, project_id, users, batch.counters)
        txn.add_users(project_id, list(users.items()))
        txn.add_counters(project_id, batch.counters)

    def _count_new_users(
        self, txn: IngestTransaction, project_id: int, users: dict[str, UserDelta], counters: CounterDelta
    ) -> None:
        unknown = [u for u, d in users.items() if d.session_count > 0 and (project_id, u) not in self._known_users]
        existing = txn.existing_users(project_id, unknown) if unknown else set()
        counters.user_count += len(unknown) - len(existing)
        for user_id in users:
            self._known_users.put((project_id, user_id), True)

    # --- erasure ---------------------------------------------------------------------------------

    def erase_session(self, txn: IngestTransaction, project_id: int, session_id: str) -> Erased | None:
        """Remove a session and everything stored for it; None when there is no such session."""
        found = txn.find_session(project_id, session_id)
        if found is None:
            return None
        session_pk, user_id = found
        erased = self._erase(txn, project_id, session_pk, session_id)
        txn.add_counters(
            project_id, CounterDelta(span_count=-erased.spans, trace_count=-len(erased.trace_ids), session_count=-1)
        )
        if user_id and txn.recompute_user(project_id, user_id):
            self.forget_user(project_id, user_id)
        return erased

    def erase_user(self, txn: IngestTransaction, project_id: int, user_id: str) -> Erased:
        """Remove a user, their sessions and the orphan traces that name them."""
        erased = Erased()
        for session_pk, session_id in txn.user_sessions(project_id, user_id):
            erased.add(self._erase(txn, project_id, session_pk, session_id))
        orphans = txn.erase_orphan_traces_of(project_id, user_id)
        erased.add(orphans)
        for trace_id in orphans.trace_ids:
            self._homes.pop((project_id, trace_id))
        txn.add_counters(
            project_id,
            CounterDelta(
                span_count=-erased.spans,
                trace_count=-len(erased.trace_ids),
                session_count=-len(erased.sessions),
                orphan_trace_count=-len(orphans.trace_ids),
            ),
        )
        txn.recompute_user(project_id, user_id)
        self.forget_user(project_id, user_id)
        return erased

    def _erase(self, txn: IngestTransaction, project_id: int, session_pk: int, session_id: str) -> Erased:
        erased = txn.erase_session(project_id, session_pk)
        erased.sessions.append(session_id)
        self.forget_session(project_id, session_id, erased.trace_ids)
        return erased

    # --- retention -------------------------------------------------------------------------------

    def expire_sessions(
        self, txn: IngestTransaction, project_id: int, session_ids: Sequence[str], before_ns: int
    ) -> Erased:
        """Erase those sessions still quiet since ``before_ns`` (one that got a span meanwhile stays); each of
        their users is rebuilt once."""
        erased = Erased()
        users: set[str] = set()
        for session_pk, session_id, user_id in txn.quiet_sessions(project_id, session_ids, before_ns):
            erased.add(self._erase(txn, project_id, session_pk, session_id))
            if user_id:
                users.add(user_id)
        txn.add_counters(
            project_id,
            CounterDelta(
                span_count=-erased.spans, trace_count=-len(erased.trace_ids), session_count=-len(erased.sessions)
            ),
        )
        for user_id in sorted(users):
            if txn.recompute_user(project_id, user_id):
                self.forget_user(project_id, user_id)
        return erased

    def expire_orphan_traces(
        self, txn: IngestTransaction, project_id: int, trace_ids: Sequence[bytes], before_ns: int
    ) -> Erased:
        """Erase those traces still orphans that started before ``before_ns``."""
        erased = txn.erase_orphan_traces(project_id, trace_ids, before_ns)
        for trace_id in erased.trace_ids:
            self._homes.pop((project_id, trace_id))
        removed = len(erased.trace_ids)
        txn.add_counters(
            project_id, CounterDelta(span_count=-erased.spans, trace_count=-removed, orphan_trace_count=-removed)
        )
        return erased

    # --- GenAI log events ------------------------------------------------------------------------

    def attach_log_events(self, txn: IngestTransaction, project_id: int, events: Sequence[LogEvent]) -> ChangeSet:
        """Store GenAI log events; traces already stored are folded again with them."""
        txn.store_log_events(project_id, events)
        self._logs_stored[project_id] = True
        trace_ids = list(dict.fromkeys(e.trace_id for e in events))
        homes = self._homes_of(txn, project_id, trace_ids)
        batch = _Batch()
        for trace_id in trace_ids:
            home = homes.get(trace_id)
            if home is None:
                continue  # its spans will pick the events up when they arrive
            spans = txn.stored_spans(home[0])
            agg = TraceAgg(trace_id, home[0])
            for span, facts in self._with_log_events(txn, project_id, trace_id, [(s, None) for s in spans]):
                agg.add(span, facts)
            if home[1] is not None:
                self._attach(self._session_by_pk(txn, project_id, home[1]), agg, batch)
            batch.traces.append((agg, home[1], False))
        changes = ChangeSet(project_id)
        self._flush(txn, project_id, batch, changes)
        return changes

    def _has_logs(self, txn: IngestTransaction, project_id: int) -> bool:
        known = self._logs_stored.get(project_id)
        if known is None:
            known = self._logs_stored[project_id] = txn.has_log_events(project_id)
        return known

    def _with_log_events(
        self, txn: IngestTransaction, project_id: int, trace_id: bytes, group: Sequence[tuple[RawSpan, object]]
    ) -> list[SpanItem]:
        """The group's spans with their log events added as span events, normalized again."""
        by_span: dict[bytes, list[SpanEvent]] = {}
        for event in txn.log_events(project_id, trace_id):
            by_span.setdefault(event.span_id, []).append(SpanEvent(event.name, event.time_ns, event.attributes))
        spans = []
        for span, _ in group:
            extra = by_span.get(span.span_id)
            if extra:
                known = {(e.name, e.time_ns) for e in span.events}
                span.events = span.events + [e for e in extra if (e.name, e.time_ns) not in known]
            spans.append(span)
        return self._prepare(spans)

    # --- lookups (cache first) -------------------------------------------------------------------

    def _homes_of(self, txn: IngestTransaction, project_id: int, trace_ids: list[bytes]) -> dict[bytes, TraceHome]:
        homes: dict[bytes, TraceHome] = {}
        missing: list[bytes] = []
        for trace_id in trace_ids:
            home = self._homes.get((project_id, trace_id))
            if home is None:
                missing.append(trace_id)
            else:
                homes[trace_id] = home
        if missing:
            homes.update(txn.trace_homes(project_id, missing))
        return homes

    def _trace_agg(self, txn: IngestTransaction, project_id: int, trace_id: bytes, home: TraceHome) -> TraceAgg:
        trace_pk, session_pk = home
        if session_pk is not None:
            agg = self._session_by_pk(txn, project_id, session_pk).state.traces.get(trace_id)
            if agg is not None:
                return agg
        return txn.load_trace(trace_pk)

    def _session(self, txn: IngestTransaction, project_id: int, session_id: str, counters: CounterDelta) -> _Session:
        cached = self._sessions.get((project_id, session_id))
        if cached is None:
            loaded = txn.load_session(project_id, session_id)
            if loaded is None:
                cached = _Session(SessionState(txn.new_session_pk(), session_id, options=self.options), is_new=True)
                counters.session_count += 1
            else:
                state = SessionState(loaded.pk, session_id, loaded.traces, self.options)
                state.refresh()
                cached = _Session(state)
            self._remember(project_id, cached)
        return cached

    def _session_by_pk(self, txn: IngestTransaction, project_id: int, pk: int) -> _Session:
        key = self._session_keys.get(pk)
        cached = self._sessions.get(key) if key is not None else None
        if cached is None:
            loaded = txn.load_session_by_pk(pk)
            state = SessionState(loaded.pk, loaded.session_id, loaded.traces, self.options)
            state.refresh()
            cached = _Session(state)
            self._remember(project_id, cached)
        return cached

    def _remember(self, project_id: int, cached: _Session) -> None:
        key = (project_id, cached.state.session_id)
        self._sessions.put(key, cached, session_weight(cached.state))
        self._session_keys[cached.state.pk] = key
        if len(self._session_keys) > 2 * self._sessions.capacity:
            self._session_keys = {pk: k for pk, k in self._session_keys.items() if k in self._sessions}


def _named_session(group: list[SpanItem]) -> str | None:
    """The session a trace's spans name: the root span's first, else the first span's."""
    named = None
    for span, facts in group:
        if facts.session_id:
            if span.parent_span_id is None:
                return facts.session_id
            named = named or facts.session_id
    return named


def user_deltas(before: SessionRollup | None, after: SessionRollup) -> list[tuple[str, UserDelta]]:
    """How a session's change moves its user's rollup (and its former user's, if it changed)."""
    deltas: list[tuple[str, UserDelta]] = []
    if before is not None and before.user_id and before.user_id != after.user_id:
        deltas.append((before.user_id, _contribution(before, sign=-1)))
        before = None
    if not after.user_id:
        return deltas
    delta = _contribution(after, sign=1)
    if before is not None:
        undo = _contribution(before, sign=-1)
        delta.session_count += undo.session_count
        delta.turn_count += undo.turn_count
        delta.trace_count += undo.trace_count
        delta.error_count += undo.error_count
        delta.input_tokens += undo.input_tokens
        delta.output_tokens += undo.output_tokens
        if undo.cost_usd is not None:
            delta.cost_usd = (delta.cost_usd or 0.0) + undo.cost_usd
    deltas.append((after.user_id, delta))
    return deltas


def _add_deltas(a: UserDelta, b: UserDelta) -> UserDelta:
    """Two changes to one user's rollup, as one."""
    costs = [c for c in (a.cost_usd, b.cost_usd) if c is not None]
    return UserDelta(
        session_count=a.session_count + b.session_count,
        turn_count=a.turn_count + b.turn_count,
        trace_count=a.trace_count + b.trace_count,
        error_count=a.error_count + b.error_count,
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cost_usd=sum(costs) if costs else None,
        first_ns=min(a.first_ns, b.first_ns),
        last_ns=max(a.last_ns, b.last_ns),
    )


def _contribution(rollup: SessionRollup, *, sign: int) -> UserDelta:
    return UserDelta(
        session_count=sign,
        turn_count=sign * rollup.turn_count,
        trace_count=sign * rollup.trace_count,
        error_count=sign * rollup.error_count,
        input_tokens=sign * rollup.input_tokens,
        output_tokens=sign * rollup.output_tokens,
        cost_usd=sign * rollup.cost_usd if rollup.cost_usd is not None else None,
        first_ns=rollup.first_ns,
        last_ns=rollup.last_ns,
    )
