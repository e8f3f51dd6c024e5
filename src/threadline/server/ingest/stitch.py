"""Stitching: spans join traces, traces join sessions, whatever order they arrive in.

A trace belongs to the session any of its spans names (root span first). A trace seen with no session
id is stored as an orphan; if a later span of it names a session (a root arriving after its children,
a trace split over two requests), the whole trace is adopted by that session. Once a trace has a
session it keeps it. Duplicate spans (client retries) are dropped.

``Stitcher`` runs on the writer thread only. It caches session states and trace homes between batches;
the caches mirror what the current transaction wrote, and are dropped if a transaction fails.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.records import RawSpan, SpanEvent
from threadline.server.ingest.rollup import SessionRollup, SessionState, TraceAgg
from threadline.server.store.base import CounterDelta, IngestTransaction, SpanItem, UserDelta

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __contains__(self, key: K) -> bool:
        return key in self._items


@dataclass(slots=True)
class ChangeSet:
    """What one batch changed: for live views and the write result."""

    sessions: set[str] = field(default_factory=set)
    spans_stored: int = 0
    duplicates: int = 0


_ORPHAN = -1
"""Cache marker for a stored trace that has no session."""


Prepare = Callable[[Sequence[RawSpan]], list[SpanItem]]
"""Normalize and price decoded spans (``Preparer.prepare``)."""


class Stitcher:
    def __init__(self, prepare: Prepare, session_cache: int = 4096, trace_cache: int = 100_000) -> None:
        self._prepare = prepare
        self._logs_stored: dict[int, bool] = {}
        self._sessions: LruCache[tuple[int, str], SessionState] = LruCache(session_cache)
        self._session_ids: dict[int, tuple[int, str]] = {}
        self._homes: LruCache[tuple[int, bytes], int] = LruCache(trace_cache)
        self._known_users: LruCache[tuple[int, str], bool] = LruCache(trace_cache)

    def reset(self) -> None:
        """Forget everything cached (after a failed transaction)."""
        self._logs_stored.clear()
        self._sessions.clear()
        self._session_ids.clear()
        self._homes.clear()
        self._known_users.clear()

    def forget_session(self, project_id: int, session_id: str, trace_ids: Sequence[bytes]) -> None:
        """Drop a deleted session (and its traces) from the caches."""
        state = self._sessions.get((project_id, session_id))
        if state is not None:
            self._session_ids.pop(state.pk, None)
        self._sessions.pop((project_id, session_id))
        for trace_id in trace_ids:
            self._homes.pop((project_id, trace_id))

    def forget_user(self, project_id: int, user_id: str) -> None:
        self._known_users.pop((project_id, user_id))

    def apply(self, txn: IngestTransaction, project_id: int, items: Sequence[SpanItem]) -> ChangeSet:
        """Store one batch of spans and fold them into traces, turns, sessions and users."""
        by_trace: dict[bytes, list[SpanItem]] = {}
        for item in items:
            by_trace.setdefault(item[0].trace_id, []).append(item)
        homes = self._homes_of(txn, project_id, list(by_trace))
        if self._has_logs(txn, project_id):
            for trace_id in txn.log_event_traces(project_id, list(by_trace)):
                by_trace[trace_id] = self._with_log_events(txn, project_id, trace_id, by_trace[trace_id])
        changes = ChangeSet()
        counters = CounterDelta()
        fresh: list[SpanItem] = []
        touched: dict[int, tuple[SessionState, SessionRollup | None]] = {}
        trace_rows: list[tuple[TraceAgg, int | None]] = []

        for trace_id, group in by_trace.items():
            home = homes.get(trace_id)
            group = self._dedupe(txn, project_id, trace_id, group, known=home is not None)
            if not group:
                continue
            fresh.extend(group)
            session_id = _named_session(group)
            if home is None:
                agg = TraceAgg(trace_id)
                counters.trace_count += 1
            else:
                agg = self._trace_agg(txn, project_id, trace_id, home)
            for span, facts in group:
                agg.add(span, facts)
            if home is not None and home != _ORPHAN:
                state = self._session_by_pk(txn, project_id, home)
            elif session_id is not None:
                state = self._session(txn, project_id, session_id, counters)
                if home == _ORPHAN:
                    counters.orphan_trace_count -= 1
            else:
                if home is None:
                    counters.orphan_trace_count += 1
                self._homes.put((project_id, trace_id), _ORPHAN)
                trace_rows.append((agg, None))
                continue
            touched.setdefault(state.pk, (state, state.rollup))
            state.update(agg)
            self._homes.put((project_id, trace_id), state.pk)
            trace_rows.append((agg, state.pk))

        changes.duplicates = len(items) - len(fresh)
        changes.spans_stored = len(fresh)
        counters.span_count = len(fresh)
        txn.insert_spans(project_id, fresh)
        txn.save_traces(project_id, trace_rows)
        for state, before in touched.values():
            self._save_session(txn, project_id, state, before, counters)
            changes.sessions.add(state.session_id)
        txn.add_counters(project_id, counters)
        return changes

    def attach_log_events(self, txn: IngestTransaction, project_id: int, events: Sequence[LogEvent]) -> ChangeSet:
        """Store GenAI log events; traces already stored are folded again with them."""
        txn.store_log_events(project_id, events)
        self._logs_stored[project_id] = True
        changes = ChangeSet()
        trace_ids = list(dict.fromkeys(e.trace_id for e in events))
        homes = self._homes_of(txn, project_id, trace_ids)
        counters = CounterDelta()
        for trace_id in trace_ids:
            home = homes.get(trace_id)
            if home is None:
                continue  # its spans will pick the events up when they arrive
            spans = txn.stored_spans(project_id, trace_id)
            items = self._with_log_events(txn, project_id, trace_id, [(s, None) for s in spans])
            agg = TraceAgg(trace_id)
            for span, facts in items:
                agg.add(span, facts)
            if home == _ORPHAN:
                txn.save_traces(project_id, [(agg, None)])
                continue
            state = self._session_by_pk(txn, project_id, home)
            before = state.rollup
            state.update(agg)
            txn.save_traces(project_id, [(agg, state.pk)])
            self._save_session(txn, project_id, state, before, counters)
            changes.sessions.add(state.session_id)
        txn.add_counters(project_id, counters)
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

    def _homes_of(self, txn: IngestTransaction, project_id: int, trace_ids: list[bytes]) -> dict[bytes, int]:
        homes: dict[bytes, int] = {}
        missing: list[bytes] = []
        for trace_id in trace_ids:
            home = self._homes.get((project_id, trace_id))
            if home is None:
                missing.append(trace_id)
            else:
                homes[trace_id] = home
        if missing:
            for trace_id, session_pk in txn.trace_homes(project_id, missing).items():
                homes[trace_id] = _ORPHAN if session_pk is None else session_pk
        return homes

    def _dedupe(
        self, txn: IngestTransaction, project_id: int, trace_id: bytes, group: list[SpanItem], *, known: bool
    ) -> list[SpanItem]:
        seen = txn.stored_span_ids(project_id, trace_id) if known else set()
        kept = []
        for item in group:
            span_id = item[0].span_id
            if span_id not in seen:
                seen.add(span_id)
                kept.append(item)
        return kept

    def _trace_agg(self, txn: IngestTransaction, project_id: int, trace_id: bytes, home: int) -> TraceAgg:
        if home != _ORPHAN:
            state = self._session_by_pk(txn, project_id, home)
            agg = state.traces.get(trace_id)
            if agg is not None:
                return agg
        return txn.load_trace(project_id, trace_id)

    def _session(
        self, txn: IngestTransaction, project_id: int, session_id: str, counters: CounterDelta
    ) -> SessionState:
        key = (project_id, session_id)
        state = self._sessions.get(key)
        if state is None:
            loaded = txn.load_session(project_id, session_id)
            if loaded is None:
                state = SessionState(txn.new_session_pk(), session_id)
                counters.session_count += 1
            else:
                state = SessionState(loaded.pk, session_id, loaded.traces)
                state.refresh()
            self._remember(project_id, state)
        return state

    def _session_by_pk(self, txn: IngestTransaction, project_id: int, pk: int) -> SessionState:
        key = self._session_ids.get(pk)
        state = self._sessions.get(key) if key is not None else None
        if state is None:
            loaded = txn.load_session_by_pk(pk)
            state = SessionState(loaded.pk, loaded.session_id, loaded.traces)
            state.refresh()
            self._remember(project_id, state)
        return state

    def _remember(self, project_id: int, state: SessionState) -> None:
        self._sessions.put((project_id, state.session_id), state)
        self._session_ids[state.pk] = (project_id, state.session_id)
        if len(self._session_ids) > 2 * self._sessions.capacity:
            live = {pk: k for pk, k in self._session_ids.items() if k in self._sessions}
            self._session_ids = live

    # --- writes ----------------------------------------------------------------------------------

    def _save_session(
        self,
        txn: IngestTransaction,
        project_id: int,
        state: SessionState,
        before: SessionRollup | None,
        counters: CounterDelta,
    ) -> None:
        changed, removed = state.refresh()
        after = state.rollup
        if after is None:
            return
        txn.save_session(project_id, state.pk, state.session_id, after, changed, removed)
        for user_id, delta in user_deltas(before, after):
            if delta.session_count > 0 and not self._user_known(txn, project_id, user_id):
                counters.user_count += 1
            txn.add_user(project_id, user_id, delta)
            self._known_users.put((project_id, user_id), True)

    def _user_known(self, txn: IngestTransaction, project_id: int, user_id: str) -> bool:
        return (project_id, user_id) in self._known_users or txn.user_exists(project_id, user_id)


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
