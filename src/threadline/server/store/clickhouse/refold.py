"""The write path: insert what a request brought, then fold again every trace and session it touched from
what the database holds after the insert (docs/storage.md, ClickHouse, "Writing").

1. insert the spans (or log events), synchronously;
2. per touched trace, read the keys of the copies stored now; take the copies from the request or the cache,
   read the others by key; fold; write the trace's ``traces`` row and one ``session_traces`` row per
   session its spans name, versioned by the copies folded;
3. per session those traces name, read the latest fold of every trace naming it (one read per session)
   and fold the session with the SQLite engine's code; write its ``sessions`` row, versioned by the sum
   of those folds' versions.

Nothing is kept between calls but caches of what the database holds, each keyed by what names its content
exactly (copies by key, folds by their text, session states by their folds), so any number of servers may
run this at once."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.port import ChangeSet, Prepare, SpanItem
from threadline.server.ingest.rollup import FoldOptions
from threadline.server.ingest.trace_agg import TraceAgg
from threadline.server.store.base import chunks
from threadline.server.store.clickhouse import codec
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.fold import (
    EventCopy,
    Key,
    SessionFolder,
    SpanCopy,
    TraceFold,
    TraceItems,
    TraceRow,
    fold_trace,
    ordered_sessions,
)
from threadline.server.store.clickhouse.sql import literal, values

SPANS_INSERT = {"max_partitions_per_insert_block": 0}
"""Spans are partitioned by month: one request may hold spans of any number of months (clients' clocks)."""
IN_CHUNK = 1000
"""Keys per ``IN`` list (each key's rows are still read by one query)."""
_TRACE_COLUMNS = (
    "project_id", "trace_id", "version", "session_id", "start_ns", "end_ns", "span_count", "root_name", "user_id",
)  # fmt: skip
_SESSION_TRACE_COLUMNS = ("project_id", "session_id", "trace_id", "version", "home", "fold")
_READ_SPANS = (
    "SELECT trace_id, span_id, item, event_time, event_name, digest, parent_span_id, name, kind, start_ns, end_ns, "
    "status_code, resource, body, facts FROM spans"
)


class FoldCache:
    """Decoded trace folds by (project, trace), each with the text it was decoded from: a hit needs the same
    text, so an entry can never stand for another fold (not even after an erasure reset the trace's
    version). One object per content, which ``SessionFolder`` relies on. Bounded by about ``max_bytes``."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[int, bytes], tuple[str, TraceAgg]] = OrderedDict()

    def agg(self, project_id: int, trace_id: bytes, encoded: str) -> TraceAgg:
        """The fold ``encoded`` holds, decoded once."""
        key = (project_id, trace_id)
        entry = self._items.get(key)
        if entry is not None and entry[0] == encoded:
            self._items.move_to_end(key)
            return entry[1]
        agg = codec.decode_fold(trace_id, encoded)
        self.put(project_id, trace_id, encoded, agg)
        return agg

    def put(self, project_id: int, trace_id: bytes, encoded: str, agg: TraceAgg) -> None:
        key = (project_id, trace_id)
        previous = self._items.pop(key, None)
        if previous is not None:
            self.bytes -= len(previous[0])
        self._items[key] = (encoded, agg)
        self.bytes += len(encoded)
        while self.bytes > self.max_bytes and len(self._items) > 1:
            self.bytes -= len(self._items.popitem(last=False)[1][0])


class ItemsCache:
    """The copies each trace was last folded from, decoded, by (project, trace), up to about ``max_bytes``:
    a trace that grows over many requests is read back by the keys of its new copies only."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[int, bytes], TraceItems] = OrderedDict()

    def pop(self, key: tuple[int, bytes]) -> TraceItems | None:
        items = self._items.pop(key, None)
        if items is not None:
            self.bytes -= items.size
        return items

    def put(self, key: tuple[int, bytes], items: TraceItems) -> None:
        self.pop(key)
        self._items[key] = items
        self.bytes += items.size
        while self.bytes > self.max_bytes and len(self._items) > 1:
            self.bytes -= self._items.popitem(last=False)[1].size


class Refolder:
    """Inserts and refolds; used by one writer thread (any number of them may share a database)."""

    def __init__(self, conn: Connection, prepare: Prepare, options: FoldOptions) -> None:
        self.conn = conn
        self.prepare = prepare
        self.options = options
        self.folds = FoldCache()
        self.items = ItemsCache()
        self.sessions = SessionFolder(options)

    # --- spans -------------------------------------------------------------------------------------

    def write_spans(self, requests: Sequence[tuple[int, Sequence[SpanItem]]]) -> list[ChangeSet]:
        """Store the requests' spans and refold what they touched; one ``ChangeSet`` per request."""
        rows: list[tuple[Any, ...]] = []
        memory: dict[int, dict[bytes, TraceItems]] = {}
        for project_id, items in requests:
            traces = memory.setdefault(project_id, {})
            for span, facts in items:
                row = codec.span_row(project_id, span, facts)
                trace = traces.get(span.trace_id)
                if trace is None:
                    trace = traces[span.trace_id] = TraceItems(span.trace_id)
                if trace.add_span(SpanCopy(span, facts, row[6]), _size(row)):
                    rows.append(row)
        self.conn.insert("spans", rows, codec.SPAN_COLUMNS, SPANS_INSERT)
        touched = self._refold(memory)
        changes = []
        for project_id, items in requests:
            sessions = touched.get(project_id, {})
            named = {s for span, _ in items for s in sessions.get(span.trace_id, ())}
            changes.append(ChangeSet(project_id, named))
        return changes

    def attach_log_events(self, project_id: int, events: Sequence[LogEvent]) -> ChangeSet:
        """Store GenAI log events; the traces they belong to are folded again with them (if any span of
        theirs is stored; otherwise the spans fold them in when they arrive)."""
        rows: list[tuple[Any, ...]] = []
        traces: dict[bytes, TraceItems] = {}
        for event in events:
            row = codec.event_row(project_id, event)
            trace = traces.get(event.trace_id)
            if trace is None:
                trace = traces[event.trace_id] = TraceItems(event.trace_id)
            if trace.add_event(EventCopy(event, row[6]), _size(row)):
                rows.append(row)
        self.conn.insert("spans", rows, codec.SPAN_COLUMNS, SPANS_INSERT)
        touched = self._refold({project_id: traces})
        return ChangeSet(project_id, {s for named in touched.get(project_id, {}).values() for s in named})

    def _refold(self, memory: dict[int, dict[bytes, TraceItems]]) -> dict[int, dict[bytes, set[str]]]:
        """Refold the traces in ``memory`` and their sessions; returns, per project, the sessions each
        trace named (those refolded)."""
        touched: dict[int, dict[bytes, set[str]]] = {}
        for project_id, traces in memory.items():
            folds = self.refold_traces(project_id, traces)
            self.refold_sessions(project_id, ordered_sessions(list(folds.values())))
            touched[project_id] = {trace_id: fold.named for trace_id, fold in folds.items()}
        return touched

    # --- traces ------------------------------------------------------------------------------------

    def refold_traces(self, project_id: int, memory: dict[bytes, TraceItems]) -> dict[bytes, TraceFold]:
        """Fold each trace from every copy stored for it now, and write its rows. Which copies those are is
        one read of their keys; copies neither in memory nor cached are then read by key (a key names one
        content), so a trace that grows over many requests is not read back whole each time."""
        stored = self._keys(project_id, list(memory))
        items: dict[bytes, TraceItems] = {}
        missing: dict[bytes, set[Key]] = {}
        for trace_id, brought in memory.items():
            keys = stored.get(trace_id)
            cached = self.items.pop((project_id, trace_id))
            if not keys:
                continue  # nothing stored (erased meanwhile)
            if cached is not None:
                brought.merge(cached)
            held = brought.only(keys)
            items[trace_id] = held
            if len(held.copies) < len(keys):
                missing[trace_id] = keys - held.copies.keys()
        for trace_id, found in self._read_keys(project_id, missing).items():
            items[trace_id].merge(found)
        folds = {}
        for trace_id, held in items.items():
            if held.version != len(stored[trace_id]):
                continue  # a copy went missing between the two reads (erased meanwhile): nothing to write
            self.items.put((project_id, trace_id), held)
            if held.has_spans:
                folds[trace_id] = fold_trace(held, self.prepare)
        self.write_traces(project_id, list(folds.values()))
        return folds

    def _keys(self, project_id: int, trace_ids: Sequence[bytes]) -> dict[bytes, set[Key]]:
        """The keys of every copy stored for these traces (each trace's in one read)."""
        found: dict[bytes, set[Key]] = {}
        for chunk in chunks(trace_ids, IN_CHUNK):
            for trace_id, span_id, item, event_time, event_name, digest in self.conn.query(
                "SELECT DISTINCT trace_id, span_id, item, event_time, event_name, digest FROM spans "
                f"WHERE project_id = {project_id} AND trace_id IN {values(chunk)}"
            ):
                found.setdefault(trace_id, set()).add((span_id, int(item), int(event_time), event_name, int(digest)))
        return found

    def _read_keys(self, project_id: int, wanted: dict[bytes, set[Key]]) -> dict[bytes, TraceItems]:
        """The copies of these keys."""
        tuples = [(trace_id, *key) for trace_id, keys in wanted.items() for key in keys]
        found: dict[bytes, TraceItems] = {}
        for chunk in chunks(tuples, IN_CHUNK // 2):
            listed = ", ".join("(" + ", ".join(literal(v) for v in t) + ")" for t in chunk)
            for row in self.conn.query(
                f"{_READ_SPANS} WHERE project_id = {project_id} "
                f"AND (trace_id, span_id, item, event_time, event_name, digest) IN ({listed})"
            ):
                trace = found.get(row[0])
                if trace is None:
                    trace = found[row[0]] = TraceItems(row[0])
                add_row(trace, row)
        return found

    def read_items(self, project_id: int, trace_ids: Sequence[bytes]) -> dict[bytes, TraceItems]:
        """Every copy stored for these traces (each trace's in one read)."""
        found: dict[bytes, TraceItems] = {}
        for chunk in chunks(trace_ids, IN_CHUNK // 4):
            for row in self.conn.query(
                f"{_READ_SPANS} WHERE project_id = {project_id} AND trace_id IN {values(chunk)}"
            ):
                trace_id = row[0]
                trace = found.get(trace_id)
                if trace is None:
                    trace = found[trace_id] = TraceItems(trace_id)
                add_row(trace, row)
        return found

    def write_traces(self, project_id: int, folds: Sequence[TraceFold]) -> None:
        trace_rows = []
        session_rows = []
        for fold in folds:
            agg = fold.agg
            trace_rows.append(
                (project_id, fold.trace_id, fold.version, fold.home or "", agg.start_ns, agg.end_ns, agg.span_count,
                 agg.root_name, agg.user_id)
            )  # fmt: skip
            encoded = codec.encode_fold(agg) if fold.home is not None else ""
            for session_id in sorted(fold.named):
                belongs = session_id == fold.home
                session_rows.append(
                    (project_id, session_id, fold.trace_id, fold.version, fold.home or "", encoded if belongs else "")
                )
            if fold.home is not None:
                self.folds.put(project_id, fold.trace_id, encoded, agg)
        self.conn.insert("traces", trace_rows, _TRACE_COLUMNS)
        self.conn.insert("session_traces", session_rows, _SESSION_TRACE_COLUMNS)

    # --- sessions ----------------------------------------------------------------------------------

    def refold_sessions(self, project_id: int, session_ids: Iterable[str]) -> None:
        """Fold each session from the latest fold of every trace naming it (one read per session) and
        write its row."""
        rows = []
        for chunk in chunks(list(session_ids), IN_CHUNK // 4):
            found: dict[str, list[TraceRow]] = {s: [] for s in chunk}
            for session_id, trace_id, version, home, encoded in self.conn.query(
                "SELECT session_id, trace_id, version, home, fold FROM session_traces FINAL "
                f"WHERE project_id = {project_id} AND session_id IN {values(chunk)}"
            ):
                belongs = home == session_id
                agg = self.folds.agg(project_id, trace_id, encoded) if belongs else None
                found[session_id].append((trace_id, int(version), belongs, agg))
            for session_id, traces in found.items():
                if not traces:
                    continue  # nothing names it (any more): no row to write
                folded = self.sessions.fold(project_id, session_id, traces)
                if folded.rollup is None:
                    rows.append(codec.gone_row(project_id, session_id, folded.version))
                else:
                    rows.append(codec.session_row(project_id, session_id, folded.version, folded.rollup, folded.turns))
        self.conn.insert("sessions", rows, codec.SESSION_COLUMNS)


def add_row(trace: TraceItems, row: Sequence[Any]) -> None:
    """One ``_READ_SPANS`` row into a trace's copies."""
    (trace_id, span_id, item, event_time, event_name, digest, parent, name, kind, start_ns, end_ns, status, resource,
     body, facts) = row  # fmt: skip
    size = len(resource) + len(body) + len(facts)
    if item == codec.SPAN:
        span = codec.decode_span(trace_id, span_id, parent, name, kind, start_ns, end_ns, status, resource, body)
        trace.add_span(SpanCopy(span, codec.decode_facts(facts), int(digest)), size)
    else:
        event = LogEvent(trace_id, span_id, event_time, event_name, orjson.loads(body))
        trace.add_event(EventCopy(event, int(digest)), size)


def _size(row: Sequence[Any]) -> int:
    """About the bytes a ``SPAN_COLUMNS`` row holds (resource, body, facts)."""
    return len(row[-3]) + len(row[-2]) + len(row[-1])
