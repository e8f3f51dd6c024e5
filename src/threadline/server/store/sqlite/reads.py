"""Read queries over the rolled-up tables. Every list is keyset-paginated on an index."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from threadline.server.ingest.records import SpanEvent
from threadline.server.store.base import Page, SessionQuery, SpanRow, Stats, chunks
from threadline.server.store.sqlite import codec
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
SESSION_COLUMNS = (
    "pk, session_id, user_id, first_ns, last_ns, duration_ns, turn_count, trace_count, span_count, "
    "llm_call_count, tool_call_count, error_count, errored_turn_count, input_tokens, output_tokens, total_tokens, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, total_cost_usd, cost_source, unpriced_calls, "
    "first_input, last_output, models, attributes, end_reason, ended_ns, reopened_count, last_turn_number, "
    "last_turn_end_ns, last_action, last_intent, converted, client_dropoff, journeys, max_context_pct"
)
DROPOFF_ACTIONS = "('asked_question', 'error', 'tool_failure')"


def _session_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    record = {col[0]: value for col, value in zip(cursor.description, row, strict=True)}
    record["models"] = orjson.loads(record["models"])
    record["attributes"] = orjson.loads(record["attributes"])
    record["journeys"] = orjson.loads(record["journeys"])
    record["client_dropoff"] = orjson.loads(record["client_dropoff"]) if record["client_dropoff"] else None
    record["converted"] = bool(record["converted"])
    return record


def dropped_off_sql(cutoff_param: str = "?") -> str:
    """SQL for "dropped off" (``intelligence.dropoff``): the client said so, or ended by inactivity
    (no explicit end, quiet since the cutoff) without converting, after a question, error or tool failure."""
    return (
        f"(client_dropoff IS NOT NULL OR (end_reason IS NULL AND last_ns <= {cutoff_param} AND converted = 0 "
        f"AND last_action IN {DROPOFF_ACTIONS}))"
    )


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
    if query.status == "active":
        where.append("end_reason IS NULL AND last_ns > ?")
        params.append(cutoff)
    elif query.status == "ended":
        where.append("(end_reason IS NOT NULL OR last_ns <= ?)")
        params.append(cutoff)
    if query.dropped_off is not None:
        where.append(dropped_off_sql() if query.dropped_off else f"NOT {dropped_off_sql()}")
        params.append(cutoff)
    if query.model is not None:
        where.append("pk IN (SELECT session_pk FROM session_models WHERE project_id = ? AND model = ?)")
        params.extend((project_id, query.model))
    if query.q:
        pattern = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(first_input LIKE ? ESCAPE '\\' OR last_output LIKE ? ESCAPE '\\')")
        params.extend([pattern, pattern])
    return where, params


def list_sessions(conn: sqlite3.Connection, project_id: int, query: SessionQuery) -> Page:
    if not storable(query.user_id, query.model, query.q, *(query.session_ids or ())):
        return Page([])
    where, params = session_filters(project_id, query)
    return keyset_page(
        conn,
        table="sessions",
        columns=SESSION_COLUMNS,
        order_by=ORDER_EXPRESSIONS[query.ordering],
        key="pk",
        where=where,
        params=params,
        descending=query.descending,
        limit=query.limit,
        after=query.after,
        row=_session_dict,
    )


def get_session(conn: sqlite3.Connection, project_id: int, session_id: str) -> dict[str, Any] | None:
    if not storable(session_id):
        return None
    cursor = conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = ? AND session_id = ?",
        (project_id, session_id),
    )
    row = cursor.fetchone()
    return None if row is None else _session_dict(cursor, row)


def get_sessions(conn: sqlite3.Connection, project_id: int, session_ids: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for chunk in chunks([s for s in session_ids if storable(s)], 500):
        marks = ",".join("?" * len(chunk))
        cursor = conn.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = ? AND session_id IN ({marks})",
            (project_id, *chunk),
        )
        found.extend(_session_dict(cursor, row) for row in cursor.fetchall())
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


def get_turns(conn: sqlite3.Connection, project_id: int, session_pk: int) -> list[dict[str, Any]]:
    cursor = conn.execute(
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
    names = [c[0] for c in cursor.description]
    turns = []
    for row in cursor.fetchall():
        turn = dict(zip(names, row, strict=True))
        turn["trace_ids"] = orjson.loads(turn["trace_ids"])
        turn["attributes"] = orjson.loads(turn["attributes"])
        turn["error"] = bool(turn["error"])
        turn["tool_error"] = bool(turn["tool_error"])
        turns.append(turn)
    return turns


def get_trace_spans(conn: sqlite3.Connection, project_id: int, trace_id: bytes) -> list[SpanRow]:
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
    resources: dict[bytes, dict[str, Any]] = {}
    spans = []
    for row in rows:
        resource_json = row[12]
        resource = resources.get(resource_json)
        if resource is None:
            resource = resources[resource_json] = orjson.loads(resource_json)
        span = codec.rehydrate_span(row[:9], resource)
        extra = logs.get(span.span_id)
        if extra:
            known = {(e.name, e.time_ns) for e in span.events}
            span.events.extend(e for e in extra if (e.name, e.time_ns) not in known)
        spans.append(SpanRow(span, row[9], row[10], row[11]))
    return spans


def trace_session(conn: sqlite3.Connection, project_id: int, trace_id: bytes) -> tuple[bool, str | None]:
    """(trace is stored, its session id or None for an orphan trace)."""
    row = conn.execute(
        "SELECT s.session_id FROM traces t LEFT JOIN sessions s ON s.pk = t.session_pk "
        "WHERE t.project_id = ? AND t.trace_id = ?",
        (project_id, trace_id),
    ).fetchone()
    return (row is not None, row[0] if row else None)


def list_orphan_traces(
    conn: sqlite3.Connection, project_id: int, limit: int, after: tuple[int, int] | None
) -> list[dict[str, Any]]:
    where = "project_id = ? AND session_pk IS NULL"
    params: list[Any] = [project_id]
    if after is not None:
        where += " AND (start_ns, pk) < (?, ?)"
        params.extend(after)
    cursor = conn.execute(
        f"SELECT pk, trace_id, root_name, start_ns, end_ns, span_count FROM traces WHERE {where} "
        "ORDER BY start_ns DESC, pk DESC LIMIT ?",
        (*params, limit),
    )
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


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
