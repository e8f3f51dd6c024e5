"""Reads of sessions, traces and spans: ``sessions FINAL`` (one row per session, its latest fold) filtered and
ordered in SQL, keyset-paged on (order value, session id); spans by their primary key."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.server.ingest.records import SpanEvent
from threadline.server.intelligence import rules
from threadline.server.store.base import SessionQuery, chunks
from threadline.server.store.clickhouse import codec, cursor
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.fold import SpanCopy, TraceItems
from threadline.server.store.clickhouse.refold import IN_CHUNK, add_row
from threadline.server.store.clickhouse.sql import literal, storable, values
from threadline.server.store.records import (
    OrphanTrace,
    Page,
    SessionDetail,
    SessionSummary,
    SpanRecord,
    Stats,
    TraceInfo,
)

ORDER_EXPRESSIONS = {
    "last_activity": "last_ns",
    "first_activity": "first_ns",
    "total_cost": "ifNull(total_cost_usd, -1.0)",
    "total_tokens": "total_tokens",
    "duration": "duration_ns",
    "turn_count": "turn_count",
    "error_count": "error_count",
}
SUMMARY = ", ".join(codec.SUMMARY_COLUMNS)
LIVE = "sessions FINAL"


def window(where: list[str], since_ns: int | None, until_ns: int | None) -> None:
    """Active in [since, until]: last activity at or after ``since``, first at or before ``until``."""
    if since_ns is not None:
        where.append(f"last_ns >= {literal(since_ns)}")
    if until_ns is not None:
        where.append(f"first_ns <= {literal(until_ns)}")


def session_filters(project_id: int, query: SessionQuery) -> list[str]:
    """The conditions of ``query`` (as the SQLite engine's ``session_filters``), without the page position."""
    where = [f"project_id = {project_id}", "alive = 1"]
    if query.user_id is not None:
        where.append(f"user_id = {literal(query.user_id)}")
    if query.session_ids is not None:
        where.append(f"session_id IN {values(query.session_ids)}")
    window(where, query.since_ns, query.until_ns)
    if query.min_turns is not None:
        where.append(f"turn_count >= {literal(query.min_turns)}")
    if query.max_turns is not None:
        where.append(f"turn_count <= {literal(query.max_turns)}")
    if query.has_error is not None:
        where.append("error_count > 0" if query.has_error else "error_count = 0")
    cutoff = query.now_ns - query.idle_timeout_ns
    where += rules.lifecycle_filters(query.status, query.dropped_off, cutoff, "clickhouse")
    if query.model is not None:
        where.append(f"has(models, {literal(query.model)})")
    if query.q:
        # SQLite's LIKE: a substring, case-insensitive for ASCII letters only (as positionCaseInsensitive).
        q = literal(query.q)
        where.append(
            f"(positionCaseInsensitive(first_input, {q}) > 0 OR positionCaseInsensitive(last_output, {q}) > 0)"
        )
    return where


def list_sessions(conn: Connection, project_id: int, query: SessionQuery) -> Page[SessionSummary]:
    if not storable(query.user_id, query.model, query.q, *(query.session_ids or ())):
        return Page([])
    order = ORDER_EXPRESSIONS[query.ordering]
    where = session_filters(project_id, query)
    number = query.ordering == "total_cost"
    if query.after is not None:
        value, key = cursor.decode(query.after, query.ordering, query.descending, number=number)
        if not storable(key):
            return Page([])
        where.append(f"({order}, session_id) {'<' if query.descending else '>'} ({literal(value)}, {literal(key)})")
    direction = "DESC" if query.descending else "ASC"
    rows = conn.query(
        f"SELECT {SUMMARY}, {order} FROM {LIVE} WHERE {' AND '.join(where)} "
        f"ORDER BY {order} {direction}, session_id {direction} LIMIT {int(query.limit) + 1}"
    )
    items = [codec.summary(row[:-1]) for row in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit and query.limit > 0:
        last = rows[query.limit - 1]
        value = float(last[-1]) if number else int(last[-1])
        next_cursor = cursor.encode(query.ordering, query.descending, value, last[0])
    return Page(items, next_cursor)


def get_session(conn: Connection, project_id: int, session_id: str) -> SessionDetail | None:
    if not storable(session_id):
        return None
    rows = conn.query(
        f"SELECT {SUMMARY}, turns FROM {LIVE} WHERE project_id = {project_id} AND session_id = {literal(session_id)} "
        "AND alive = 1"
    )
    if not rows:
        return None
    return SessionDetail(codec.summary(rows[0][:-1]), codec.decode_turns(rows[0][-1]))


def get_sessions(conn: Connection, project_id: int, session_ids: Sequence[str]) -> list[SessionSummary]:
    found: list[SessionSummary] = []
    for chunk in chunks([s for s in session_ids if storable(s)], IN_CHUNK):
        rows = conn.query(
            f"SELECT {SUMMARY} FROM {LIVE} WHERE project_id = {project_id} AND session_id IN {values(chunk)} "
            "AND alive = 1"
        )
        found.extend(codec.summary(row) for row in rows)
    return found


def trace(conn: Connection, project_id: int, trace_id: bytes) -> TraceInfo | None:
    rows = conn.query(
        f"SELECT session_id FROM traces FINAL WHERE project_id = {project_id} AND trace_id = {literal(trace_id)}"
    )
    if not rows:
        return None
    return TraceInfo(trace_id, rows[0][0] or None)


def trace_spans(conn: Connection, project_id: int, trace_id: bytes) -> list[SpanRecord]:
    """Every span of a trace by start time (then span id), its GenAI log events among its events."""
    if len(trace_id) != 16:
        return []
    items = TraceItems(trace_id)
    for row in conn.query(
        "SELECT trace_id, span_id, item, event_time, event_name, digest, parent_span_id, name, kind, start_ns, "
        "end_ns, status_code, resource, body, facts FROM spans "
        f"WHERE project_id = {project_id} AND trace_id = {literal(trace_id)}"
    ):
        add_row(items, row)
    spans, events = items.chosen()
    extra: dict[bytes, list[SpanEvent]] = {}
    for event in events:
        extra.setdefault(event.span_id, []).append(SpanEvent(event.name, event.time_ns, event.attributes))
    records = []
    for copy in sorted(spans.values(), key=lambda c: (c.span.start_ns, c.span.span_id)):
        records.append(_record(copy, extra.get(copy.span.span_id, [])))
    return records


def _record(copy: SpanCopy, extra: list[SpanEvent]) -> SpanRecord:
    span = copy.span
    if extra:
        known = {(e.name, e.time_ns) for e in span.events}
        span.events.extend(e for e in extra if (e.name, e.time_ns) not in known)
    return SpanRecord(span, copy.facts.category, copy.facts.cost_usd, copy.facts.cost_source)


def list_orphan_traces(conn: Connection, project_id: int, limit: int, after: str | None) -> Page[OrphanTrace]:
    where = f"project_id = {project_id} AND session_id = ''"
    if after is not None:
        start, key = cursor.decode(after, "orphans", True, key_bytes=True)
        where += f" AND (start_ns, trace_id) < ({literal(start)}, {literal(key)})"
    rows = conn.query(
        f"SELECT trace_id, root_name, start_ns, end_ns, span_count FROM traces FINAL WHERE {where} "
        f"ORDER BY start_ns DESC, trace_id DESC LIMIT {int(limit) + 1}"
    )
    items = [OrphanTrace(*row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and limit > 0:
        last = rows[limit - 1]
        next_cursor = cursor.encode("orphans", True, int(last[2]), last[0])
    return Page(items, next_cursor)


def stats(conn: Connection, project_id: int) -> Stats:
    """Exact counts from the folds, one pass over sessions and traces (never over spans): every stored trace
    is an orphan or belongs to one live session, whose fold counts its distinct spans and traces once."""
    p = project_id
    sessions, spans, traces, users = conn.query(
        f"SELECT count(), sum(span_count), sum(trace_count), uniqExactIf(user_id, user_id != '') FROM {LIVE} "
        f"WHERE project_id = {p} AND alive = 1"
    )[0]
    orphans, orphan_spans = conn.query(
        f"SELECT count(), sum(span_count) FROM traces FINAL WHERE project_id = {p} AND session_id = ''"
    )[0]
    return Stats(int(spans) + int(orphan_spans), int(traces) + int(orphans), int(sessions), int(orphans), int(users))


def models(conn: Connection, project_id: int) -> list[str]:
    rows = conn.query(
        f"SELECT DISTINCT arrayJoin(models) AS model FROM {LIVE} WHERE project_id = {project_id} AND alive = 1 "
        "ORDER BY model"
    )
    return [r[0] for r in rows]


def sessions_going_idle(conn: Connection, project_id: int, from_ns: int, to_ns: int) -> list[str]:
    rows = conn.query(
        f"SELECT session_id FROM {LIVE} WHERE project_id = {project_id} AND alive = 1 AND end_reason IS NULL "
        f"AND last_ns > {literal(from_ns)} AND last_ns <= {literal(to_ns)} ORDER BY session_id"
    )
    return [r[0] for r in rows]


def sessions_quiet_since(conn: Connection, project_id: int, before_ns: int, limit: int) -> list[str]:
    rows = conn.query(
        f"SELECT session_id FROM {LIVE} WHERE project_id = {project_id} AND alive = 1 "
        f"AND last_ns < {literal(before_ns)} "
        f"ORDER BY last_ns, session_id LIMIT {int(limit)}"
    )
    return [r[0] for r in rows]


def orphan_traces_before(conn: Connection, project_id: int, before_ns: int, limit: int) -> list[bytes]:
    rows = conn.query(
        f"SELECT trace_id FROM traces FINAL WHERE project_id = {project_id} AND session_id = '' "
        f"AND start_ns < {literal(before_ns)} ORDER BY start_ns, trace_id LIMIT {int(limit)}"
    )
    return [r[0] for r in rows]
