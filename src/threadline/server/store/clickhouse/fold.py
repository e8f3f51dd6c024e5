"""Folds as functions of what the database holds, whatever the order it arrived in. Pure.

A trace is folded from the set of span and log event copies stored for it (``fold_trace``); a session
from the latest folds of the traces that name it (``fold_session``), with the same code the SQLite engine
folds with (``TraceAgg``, ``SessionState``). Each fold carries a version, the number of copies it saw:
copies are only ever added, so of two folds the one with the higher version saw a superset, and equal
versions saw the same set (docs/storage.md, "Why this is exact").
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.port import Prepare
from threadline.server.ingest.records import RawSpan, SpanEvent, SpanFacts
from threadline.server.ingest.rollup import FoldOptions, SessionRollup, TurnRollup
from threadline.server.ingest.session_state import SessionState
from threadline.server.ingest.trace_agg import TraceAgg


@dataclass(slots=True)
class SpanCopy:
    span: RawSpan
    facts: SpanFacts
    digest: int


@dataclass(slots=True)
class EventCopy:
    event: LogEvent
    digest: int


Key = tuple[bytes, int, int, str, int]
"""What tells stored copies apart within a trace: (span id, item, event time, event name, digest)."""
SPAN_ITEM, EVENT_ITEM = 0, 1


def span_key(copy: SpanCopy) -> Key:
    return (copy.span.span_id, SPAN_ITEM, 0, "", copy.digest)


def event_key(copy: EventCopy) -> Key:
    e = copy.event
    return (e.span_id, EVENT_ITEM, e.time_ns, e.name, copy.digest)


@dataclass(slots=True)
class TraceItems:
    """The copies of one trace's spans and log events, as one read (or one request) saw them."""

    trace_id: bytes
    copies: dict[Key, SpanCopy | EventCopy] = field(default_factory=dict)
    sizes: dict[Key, int] = field(default_factory=dict)
    """About the bytes each copy holds."""

    @property
    def version(self) -> int:
        """The number of distinct copies: grows with every copy added, whatever the order."""
        return len(self.copies)

    @property
    def size(self) -> int:
        return sum(self.sizes.values())

    @property
    def has_spans(self) -> bool:
        return any(key[1] == SPAN_ITEM for key in self.copies)

    def add(self, key: Key, copy: SpanCopy | EventCopy, size: int = 0) -> bool:
        """Whether the copy is new."""
        if key in self.copies:
            return False
        self.copies[key] = copy
        self.sizes[key] = size
        return True

    def add_span(self, copy: SpanCopy, size: int = 0) -> bool:
        return self.add(span_key(copy), copy, size)

    def add_event(self, copy: EventCopy, size: int = 0) -> bool:
        return self.add(event_key(copy), copy, size)

    def only(self, keys: set[Key]) -> TraceItems:
        """These copies among those held."""
        kept = TraceItems(self.trace_id)
        for key, copy in self.copies.items():
            if key in keys:
                kept.add(key, copy, self.sizes.get(key, 0))
        return kept

    def merge(self, other: TraceItems) -> None:
        for key, copy in other.copies.items():
            self.add(key, copy, other.sizes.get(key, 0))

    def chosen(self) -> tuple[dict[bytes, SpanCopy], list[LogEvent]]:
        """One copy per span and per log event, the one of largest digest; the events by (time, name, span)."""
        spans: dict[bytes, SpanCopy] = {}
        events: dict[tuple[bytes, int, str], EventCopy] = {}
        for key, copy in self.copies.items():
            if isinstance(copy, SpanCopy):
                held = spans.get(key[0])
                if held is None or copy.digest > held.digest:
                    spans[key[0]] = copy
            else:
                slot = (key[0], key[2], key[3])
                kept = events.get(slot)
                if kept is None or copy.digest > kept.digest:
                    events[slot] = copy
        ordered = [events[slot].event for slot in sorted(events, key=lambda k: (k[1], k[2], k[0]))]
        return spans, ordered


@dataclass(slots=True)
class TraceFold:
    trace_id: bytes
    version: int
    agg: TraceAgg
    home: str | None
    """The session the trace belongs to (None: an orphan)."""
    named: set[str]
    """Every session its spans name (the sessions whose fold may include it)."""


def fold_trace(items: TraceItems, prepare: Prepare) -> TraceFold:
    """Fold a trace from its copies: one copy per span and per log event (the largest digest), log events
    added to their span's events (the span then prepared again, as the SQLite engine does), spans added
    roots first, each part by (start, span id), so that the fold is a function of the set of copies."""
    spans, events = items.chosen()
    extra: dict[bytes, list[SpanEvent]] = {}
    for event in events:
        if event.span_id in spans:
            extra.setdefault(event.span_id, []).append(SpanEvent(event.name, event.time_ns, event.attributes))
    pairs: dict[bytes, tuple[RawSpan, SpanFacts]] = {sid: (c.span, c.facts) for sid, c in spans.items()}
    if extra:
        joined = []
        for span_id, added in extra.items():
            span = pairs[span_id][0]
            known = {(e.name, e.time_ns) for e in span.events}
            more = [e for e in added if (e.name, e.time_ns) not in known]
            joined.append(dataclasses.replace(span, events=span.events + more) if more else span)
        for span, facts in prepare(joined):
            pairs[span.span_id] = (span, facts)
    ordered = sorted(pairs.values(), key=lambda p: (p[0].parent_span_id is not None, p[0].start_ns, p[0].span_id))
    agg = TraceAgg(items.trace_id)
    for span, facts in ordered:
        agg.add(span, facts)
    named = {facts.session_id for _, facts in ordered if facts.session_id}
    home = next((facts.session_id for _, facts in ordered if facts.session_id), None)
    return TraceFold(items.trace_id, items.version, agg, home, named)


@dataclass(slots=True)
class SessionFold:
    session_id: str
    version: int
    rollup: SessionRollup | None
    """None: no trace belongs to the session any more."""
    turns: list[TurnRollup]


TraceRow = tuple[bytes, int, bool, TraceAgg | None]
"""The latest ``session_traces`` row of a trace naming a session: (trace id, version, belongs there, fold)."""
SESSION_CACHE_BYTES = 32 * 1024 * 1024


@dataclass(slots=True)
class _Cached:
    state: SessionState
    folds: dict[bytes, TraceAgg]
    """The trace folds the state holds (the fold cache hands out one object per content)."""
    weight: int


class SessionFolder:
    """Folds sessions from the latest fold of each trace naming them (``fold``), with the SQLite engine's code.

    The version is the sum over all those traces, those that belong elsewhere too, so that it never
    decreases. Each session's ``SessionState`` is kept between calls (up to about ``max_bytes``): only the
    traces whose fold is another object than last time are folded again (``refold.FoldCache`` hands out one
    object per fold content), which gives what folding from scratch gives (the turns are a function of the
    set of traces; the traces are kept in id order for the session fold). A state is rebuilt when a trace
    left the session.
    """

    def __init__(self, options: FoldOptions, max_bytes: int = SESSION_CACHE_BYTES) -> None:
        self.options = options
        self.max_bytes = max_bytes
        self.bytes = 0
        self._cache: OrderedDict[tuple[int, str], _Cached] = OrderedDict()

    def fold(self, project_id: int, session_id: str, rows: Iterable[TraceRow]) -> SessionFold:
        version = 0
        members: dict[bytes, TraceAgg] = {}
        for trace_id, trace_version, belongs, agg in rows:
            version += trace_version
            if belongs and agg is not None:
                members[trace_id] = agg
        key = (project_id, session_id)
        cached = self._pop(key)
        if not members:
            return SessionFold(session_id, version, None, [])
        if cached is None or any(trace_id not in members for trace_id in cached.folds):
            ordered = [agg for _, agg in sorted(members.items())]
            state = SessionState(0, session_id, ordered, self.options)
        else:
            state = cached.state
            for trace_id, agg in members.items():
                if cached.folds.get(trace_id) is not agg:
                    state.update(agg)
            state.traces = dict(sorted(state.traces.items()))
        state.refresh()
        weight = sum(1500 + len(t.input_text or "") + len(t.output_text or "") for t in state.traces.values())
        self._put(key, _Cached(state, members, weight))
        return SessionFold(session_id, version, state.rollup, list(state.turns.values()))

    def _pop(self, key: tuple[int, str]) -> _Cached | None:
        cached = self._cache.pop(key, None)
        if cached is not None:
            self.bytes -= cached.weight
        return cached

    def _put(self, key: tuple[int, str], cached: _Cached) -> None:
        self._cache[key] = cached
        self.bytes += cached.weight
        while self.bytes > self.max_bytes and len(self._cache) > 1:
            self.bytes -= self._cache.popitem(last=False)[1].weight

    def forget(self, project_id: int, session_ids: Iterable[str]) -> None:
        """Drop sessions whose rows were deleted."""
        for session_id in session_ids:
            self._pop((project_id, session_id))


def ordered_sessions(folds: Sequence[TraceFold]) -> list[str]:
    """Every session the folds name, sorted."""
    return sorted({s for fold in folds for s in fold.named})
