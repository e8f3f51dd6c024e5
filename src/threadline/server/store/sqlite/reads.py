"""Read queries over the rolled-up tables. Every list is keyset-paginated on an index."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from threadline.server.ingest.records import SpanEvent
from threadline.server.intelligence import rules
from threadline.server.store import cursor
from threadline.server.store.base import SessionQuery, chunks
from threadline.server.store.records import (
    OrphanTrace,
    Page,
    SessionDetail,
    SessionSummary,
    SpanRecord,
    Stats,
    TraceInfo,
    TurnRecord,
)
from threadline.server.store.sqlite import codec, texts
from threadline.server.store.sqlite.paging import add_window, keyset_page, storable

ORDER_EXPRESSIONS = {
    "last_activity": "last_ns",
    "first_activity": "first_ns",
    "total_cost": "ifnull(total_cost_usd, -1.0)",
    "total_tokens": "total_tokens",
    "duration": "duration_ns",
    "turn_count": "turn_count",
    "error_count": "error_count",
}
SUMMARY_COLUMNS = (
    "session_id, user_id, first_ns, last_ns, turn_count, trace_count, span_count, llm_call_count, "
    "tool_call_count, error_count, errored_turn_count, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, reasoning_tokens, total_cost_usd, cost_source, unpriced_calls, first_input, last_output, "
    "models, attributes, end_reason, ended_ns, reopened_count, last_turn_number, last_turn_end_ns, last_action, "
    "last_intent, converted, client_dropoff, journeys, max_context_pct"
)
"""The columns of a ``SessionSummary``, in the order of its fields."""
_MODELS, _ATTRIBUTES, _CONVERTED, _CLIENT_DROPOFF, _JOURNEYS = 21, 22, 30, 31, 32


def summary(values: Sequence[Any]) -> SessionSummary:
    """A ``SUMMARY_COLUMNS`` row as a record (JSON parsed, flags as booleans)."""
    fields = list(values)
    fields[_MODELS] = tuple(orjson.loads(fields[_MODELS]))
    fields[_ATTRIBUTES] = orjson.loads(fields[_ATTRIBUTES])
    fields[_CONVERTED] = bool(fields[_CONVERTED])
    fields[_CLIENT_DROPOFF] = orjson.loads(fields[_CLIENT_DROPOFF]) if fields[_CLIENT_DROPOFF] else None
    fields[_JOURNEYS] = tuple(orjson.loads(fields[_JOURNEYS]))
    return SessionSummary(*fields)


def session_filters(project_id: int, query: SessionQuery) -> tuple[list[str], list[Any]]:
    """WHERE clauses (and their parameters) for the session filters, without the keyset position."""
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    if query.user_id is not None:
        where.append("user_id = ?")
        params.append(query.user_id)
    if query.session_ids is not None:
        where.append(f"session_id IN ({','.join('?' * len(query.session_ids))})")
        params.extend(query.session_ids)
    add_window(where, params, query.since_ns, query.until_ns)
    if query.min_turns is not None:
        where.append("turn_count >= ?")
        params.append(query.min_turns)
    if query.max_turns is not None:
        where.append("turn_count <= ?")
        params.append(query.max_turns)
    if query.has_error is not None:
        where.append("error_count > 0" if query.has_error else "error_count = 0")
    cutoff = query.now_ns - query.idle_timeout_ns
    where += rules.lifecycle_filters(query.status, query.dropped_off, cutoff, "sqlite")
    if query.model is not None:
        where.append("pk IN (SELECT session_pk FROM session_models WHERE project_id = ? AND model = ?)")
        params.extend((project_id, query.model))
    if query.q:
        pattern = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(first_input LIKE ? ESCAPE '\\' OR last_output LIKE ? ESCAPE '\\')")
        params.extend([pattern, pattern])
    return where, params


def list_sessions(conn: sqlite3.Connection, project_id: int, query: SessionQuery) -> Page[SessionSummary]:
    if not storable(query.user_id, query.model, query.q, *(query.session_ids or ())):
        return Page([])
    where, params = session_filters(project_id, query)
    value = cursor.number if query.ordering == "total_cost" else cursor.integer
    return keyset_page(
        conn,
        table="sessions",
        columns=SUMMARY_COLUMNS,
        order_by=ORDER_EXPRESSIONS[query.ordering],
        key="pk",
        where=where,
        params=params,
        descending=query.descending,
        limit=query.limit,
        after=query.after,
        slots=(value, cursor.integer),
        row=summary,
    )


def get_session(conn: sqlite3.Connection, project_id: int, session_id: str) -> SessionDetail | None:
    if not storable(session_id):
        return None
    row = conn.execute(
        f"SELECT pk, {SUMMARY_COLUMNS} FROM sessions WHERE project_id = ? AND session_id = ?",
        (project_id, session_id),
    ).fetchone()
    if row is None:
        return None
    return SessionDetail(summary(row[1:]), tuple(get_turns(conn, project_id, row[0])))


def get_sessions(conn: sqlite3.Connection, project_id: int, session_ids: Sequence[str]) -> list[SessionSummary]:
    found: list[SessionSummary] = []
    for chunk in chunks([s for s in session_ids if storable(s)], 500):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT {SUMMARY_COLUMNS} FROM sessions WHERE project_id = ? AND session_id IN ({marks})",
            (project_id, *chunk),
        )
        found.extend(summary(row) for row in rows)
    return found


def sessions_going_idle(conn: sqlite3.Connection, project_id: int, from_ns: int, to_ns: int) -> list[str]:
    rows = conn.execute(
        "SELECT session_id FROM sessions WHERE project_id = ? AND end_reason IS NULL AND last_ns > ? AND last_ns <= ?",
        (project_id, from_ns, to_ns),
    )
    return [r[0] for r in rows]


def sessions_quiet_since(conn: sqlite3.Connection, project_id: int, before_ns: int, limit: int) -> list[str]:
    """The quietest sessions first, along the (project_id, last_ns) index."""
    rows = conn.execute(
        "SELECT session_id FROM sessions WHERE project_id = ? AND last_ns < ? ORDER BY last_ns LIMIT ?",
        (project_id, before_ns, limit),
    )
    return [r[0] for r in rows]


def orphan_traces_before(conn: sqlite3.Connection, project_id: int, before_ns: int, limit: int) -> list[bytes]:
    """The oldest orphan traces first, along the partial index of orphans (project_id, start_ns)."""
    rows = conn.execute(
        "SELECT trace_id FROM traces WHERE project_id = ? AND session_pk IS NULL AND start_ns < ? "
        "ORDER BY start_ns LIMIT ?",
        (project_id, before_ns, limit),
    )
    return [r[0] for r in rows]


def get_turns(conn: sqlite3.Connection, project_id: int, session_pk: int) -> list[TurnRecord]:
    rows = conn.execute(
        """
        SELECT t.conversation_id, t.turn_key, t.turn_number, t.trace_ids, t.start_ns, t.end_ns, t.span_count,
               t.llm_call_count, t.tool_call_count, t.agent_run_count, t.input_tokens, t.output_tokens,
               t.total_cost_usd, t.cost_source, t.error, t.error_message, t.tool_error, t.tool_error_message,
               t.context_tokens, t.attributes, t.model, t.last_action,
               ti.input_text AS input, tout.output_text AS output
        FROM turns t
        LEFT JOIN traces ti ON ti.project_id = ? AND ti.trace_id = t.input_trace_id
        LEFT JOIN traces tout ON tout.project_id = ? AND tout.trace_id = t.output_trace_id
        WHERE t.session_pk = ?
        ORDER BY t.start_ns, t.turn_number
        """,
        (project_id, project_id, session_pk),
    )
    found = rows.fetchall()
    text_of = texts.load(
        conn, [i for row in found for i in (texts.referenced(row[22]), texts.referenced(row[23])) if i is not None]
    )
    turns = []
    for row in found:
        fields = list(row)
        fields[3] = tuple(orjson.loads(fields[3]))  # trace_ids
        fields[14] = bool(fields[14])  # error
        fields[16] = bool(fields[16])  # tool_error
        fields[19] = orjson.loads(fields[19])  # attributes
        fields[22] = codec.stored_text(fields[22], text_of)  # input
        fields[23] = codec.stored_text(fields[23], text_of)  # output
        turns.append(TurnRecord(*fields))
    return turns


def trace_spans(conn: sqlite3.Connection, project_id: int, trace_id: bytes) -> list[SpanRecord]:
    rows = conn.execute(
        """
        SELECT t.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.start_ns, s.end_ns, s.status_code, s.body,
               s.category, s.cost_usd, s.cost_source, r.attributes
        FROM traces t JOIN spans s ON s.trace_pk = t.pk JOIN resources r ON r.id = s.resource_id
        WHERE t.project_id = ? AND t.trace_id = ?
        ORDER BY s.start_ns
        """,
        (project_id, trace_id),
    ).fetchall()
    logs: dict[bytes, list[SpanEvent]] = {}
    for span_id, time_ns, name, attributes in conn.execute(
        "SELECT span_id, time_ns, name, attributes FROM span_log_events WHERE project_id = ? AND trace_id = ? "
        "ORDER BY time_ns",
        (project_id, trace_id),
    ):
        logs.setdefault(span_id, []).append(SpanEvent(name, time_ns, orjson.loads(attributes)))
    docs = [codec.decode_body(row[8]) for row in rows]
    text_of = texts.load(conn, [i for doc in docs for i in codec.body_text_ids(doc)])
    resources: dict[bytes, dict[str, Any]] = {}
    spans = []
    for row, doc in zip(rows, docs, strict=True):
        resource_json = row[12]
        resource = resources.get(resource_json)
        if resource is None:
            resource = resources[resource_json] = orjson.loads(resource_json)
        span = codec.rehydrate_span(row[:8], doc, resource, text_of)
        extra = logs.get(span.span_id)
        if extra:
            known = {(e.name, e.time_ns) for e in span.events}
            span.events.extend(e for e in extra if (e.name, e.time_ns) not in known)
        spans.append(SpanRecord(span, row[9], row[10], row[11]))
    return spans


def trace(conn: sqlite3.Connection, project_id: int, trace_id: bytes) -> TraceInfo | None:
    row = conn.execute(
        "SELECT s.session_id FROM traces t LEFT JOIN sessions s ON s.pk = t.session_pk "
        "WHERE t.project_id = ? AND t.trace_id = ?",
        (project_id, trace_id),
    ).fetchone()
    return None if row is None else TraceInfo(trace_id, row[0])


def list_orphan_traces(conn: sqlite3.Connection, project_id: int, limit: int, after: str | None) -> Page[OrphanTrace]:
    """Orphans, the latest started first, along the partial index of orphans (project_id, start_ns)."""
    return keyset_page(
        conn,
        table="traces",
        columns="trace_id, root_name, start_ns, end_ns, span_count",
        order_by="start_ns",
        key="pk",
        where=["project_id = ?", "session_pk IS NULL"],
        params=[project_id],
        descending=True,
        limit=limit,
        after=after,
        slots=(cursor.integer, cursor.integer),
        row=lambda values: OrphanTrace(*values),
    )


def stats(conn: sqlite3.Connection, project_id: int) -> Stats:
    row = conn.execute(
        "SELECT span_count, trace_count, session_count, orphan_trace_count, user_count "
        "FROM project_counters WHERE project_id = ?",
        (project_id,),
    ).fetchone()
    return Stats(*(row or (0, 0, 0, 0, 0)))


def models(conn: sqlite3.Connection, project_id: int) -> list[str]:
    """Distinct models, stepping through the (model, session) index: one seek per model, not a scan."""
    rows = conn.execute(
        """
        WITH RECURSIVE found(model) AS (
            SELECT min(model) FROM session_models WHERE project_id = ?
            UNION ALL
            SELECT (SELECT min(model) FROM session_models WHERE project_id = ? AND model > found.model) FROM found
            WHERE found.model IS NOT NULL
        )
        SELECT model FROM found WHERE model IS NOT NULL
        """,
        (project_id, project_id),
    )
    return [r[0] for r in rows]
