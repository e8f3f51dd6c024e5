"""The SQLite side of ``IngestTransaction``: what the stitcher reads and writes in one transaction.

Writes are shaped for speed: keys handed out in arrival order (inserts append), new rows inserted and
existing rows updated in place (never delete-and-reinsert), sessions updating only the columns that
changed (each indexed column costs an index update).

Spans are written when their traces are (``save_traces``), once it is known which session each trace
belongs to: their long strings are stored as texts of that session (``texts``), their bodies compressed.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import orjson

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.port import (
    CounterDelta,
    Erased,
    LoadedSession,
    SessionWrite,
    StoredSpan,
    TraceHome,
    UserDelta,
)
from threadline.server.ingest.records import RawSpan, Resource
from threadline.server.ingest.rollup import INT64_MAX, SessionRollup, TurnRollup
from threadline.server.ingest.trace_agg import TraceAgg
from threadline.server.store.base import chunks
from threadline.server.store.sqlite import codec, compress, erase, textparts, texts

_NON_STR = orjson.OPT_NON_STR_KEYS
_IN_CHUNK = 500
_TRACE_SELECT = "SELECT pk, trace_id, " + ", ".join(codec.TRACE_COLUMNS) + ", agg FROM traces "
_SPAN_INSERT = (
    "INSERT INTO spans (trace_pk, span_id, parent_span_id, name, kind, category, start_ns, end_ns, status_code, "
    "cost_usd, cost_source, resource_id, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_TRACE_INSERT = (
    "INSERT INTO traces (pk, project_id, trace_id, session_pk, "
    + ", ".join(codec.TRACE_COLUMNS)
    + ", agg) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_TRACE_UPDATE = (
    "UPDATE traces SET session_pk = ?, " + ", ".join(f"{c} = ?" for c in codec.TRACE_COLUMNS) + ", agg = ? WHERE pk = ?"
)
_TURN_UPSERT = """
INSERT INTO turns (
    session_pk, conversation_id, turn_key, turn_number, trace_ids, start_ns, end_ns, span_count, llm_call_count,
    tool_call_count, agent_run_count, input_tokens, output_tokens, total_cost_usd, cost_source, error,
    error_message, tool_error, input_trace_id, output_trace_id, context_tokens, attributes, model, last_action,
    tool_error_message
) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (session_pk, conversation_id, turn_key) DO UPDATE SET
    turn_number = excluded.turn_number, trace_ids = excluded.trace_ids, start_ns = excluded.start_ns,
    end_ns = excluded.end_ns, span_count = excluded.span_count, llm_call_count = excluded.llm_call_count,
    tool_call_count = excluded.tool_call_count, agent_run_count = excluded.agent_run_count,
    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
    total_cost_usd = excluded.total_cost_usd, cost_source = excluded.cost_source, error = excluded.error,
    error_message = excluded.error_message, tool_error = excluded.tool_error,
    input_trace_id = excluded.input_trace_id, output_trace_id = excluded.output_trace_id,
    context_tokens = excluded.context_tokens, attributes = excluded.attributes, model = excluded.model,
    last_action = excluded.last_action, tool_error_message = excluded.tool_error_message
"""
_USER_UPSERT = """
INSERT INTO users (project_id, user_id, session_count, turn_count, trace_count, error_count, input_tokens,
                   output_tokens, total_cost_usd, first_ns, last_ns)
VALUES (?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (project_id, user_id) DO UPDATE SET
    session_count = min(session_count + excluded.session_count, 9223372036854775807),
    turn_count = min(turn_count + excluded.turn_count, 9223372036854775807),
    trace_count = min(trace_count + excluded.trace_count, 9223372036854775807),
    error_count = min(error_count + excluded.error_count, 9223372036854775807),
    input_tokens = min(input_tokens + excluded.input_tokens, 9223372036854775807),
    output_tokens = min(output_tokens + excluded.output_tokens, 9223372036854775807),
    total_cost_usd = CASE WHEN excluded.total_cost_usd IS NULL THEN total_cost_usd
                          ELSE ifnull(total_cost_usd, 0) + excluded.total_cost_usd END,
    first_ns = min(first_ns, excluded.first_ns),
    last_ns = max(last_ns, excluded.last_ns)
"""
"""Counters saturate at int64: an integer sum that overflows is a REAL in SQLite, and min() brings it back."""


SESSION_COLUMNS = (
    "user_id", "first_ns", "last_ns", "duration_ns", "turn_count", "trace_count", "span_count", "llm_call_count",
    "tool_call_count", "error_count", "errored_turn_count", "input_tokens", "output_tokens", "total_tokens",
    "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "total_cost_usd", "cost_source", "unpriced_calls",
    "first_input", "last_output", "models", "attributes", "end_reason", "ended_ns", "reopened_count",
    "last_turn_number", "last_turn_end_ns", "last_action", "last_intent", "converted", "client_dropoff", "journeys",
    "max_context_pct", "turn_latencies",
)  # fmt: skip
_SESSION_INSERT = (
    f"INSERT INTO sessions (pk, project_id, session_id, {', '.join(SESSION_COLUMNS)}) "
    f"VALUES ({','.join('?' * (len(SESSION_COLUMNS) + 3))})"
)


def session_columns(r: SessionRollup) -> dict[str, Any]:
    """The sessions row's rolled-up columns, by name (in ``SESSION_COLUMNS`` order)."""
    values = (
        r.user_id, r.first_ns, r.last_ns, r.duration_ns, r.turn_count, r.trace_count, r.span_count,
        r.llm_call_count, r.tool_call_count, r.error_count, r.errored_turn_count, r.input_tokens, r.output_tokens,
        r.total_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens, r.cost_usd, r.cost_source,
        r.unpriced_calls, r.first_input, r.last_output, orjson.dumps(r.models).decode(),
        orjson.dumps(r.attributes, option=_NON_STR).decode(), r.end_reason, r.ended_ns, r.reopened_count,
        r.last_turn_number, r.last_turn_end_ns, r.last_action, r.last_intent, int(r.converted),
        orjson.dumps(r.client_dropoff).decode() if r.client_dropoff is not None else None,
        orjson.dumps(r.journeys, option=_NON_STR).decode(), r.max_context_pct, array("q", r.turn_latencies).tobytes(),
    )  # fmt: skip
    return dict(zip(SESSION_COLUMNS, values, strict=True))


class SqliteIngest:
    """Implements ``IngestTransaction`` on the writer's connection (inside an open transaction)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        keys: dict[str, int],
        resource_ids: dict[bytes, int],
        text_writer: texts.TextWriter,
    ) -> None:
        self._conn = conn
        self._keys = keys
        self._resource_ids = resource_ids
        self._texts = text_writer
        self._unwritten: list[StoredSpan] = []

    # --- reads -----------------------------------------------------------------------------------

    def trace_homes(self, project_id: int, trace_ids: Sequence[bytes]) -> dict[bytes, TraceHome]:
        homes: dict[bytes, TraceHome] = {}
        for chunk in chunks(trace_ids, _IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT trace_id, pk, session_pk FROM traces WHERE project_id = ? AND trace_id IN ({marks})",
                (project_id, *chunk),
            )
            homes.update((trace_id, (pk, session_pk)) for trace_id, pk, session_pk in rows)
        return homes

    def load_trace(self, trace_pk: int) -> TraceAgg:
        return self._decode_traces(self._conn.execute(_TRACE_SELECT + "WHERE pk = ?", (trace_pk,)))[0]

    def _decode_traces(self, rows: Iterable[tuple[Any, ...]]) -> list[TraceAgg]:
        found = list(rows)
        text_of = texts.load(self._conn, [i for r in found for i in codec.trace_text_ids(r[2:-1])])
        return [codec.decode_trace(r[0], r[1], r[2:-1], r[-1], text_of) for r in found]

    def stored_span_ids(self, trace_pk: int) -> set[bytes]:
        self.finish()
        return {r[0] for r in self._conn.execute("SELECT span_id FROM spans WHERE trace_pk = ?", (trace_pk,))}

    def stored_spans(self, trace_pk: int) -> list[RawSpan]:
        self.finish()
        rows = self._conn.execute(
            "SELECT t.trace_id, s.span_id, s.parent_span_id, s.name, s.kind, s.start_ns, s.end_ns, s.status_code, "
            "s.body, r.attributes FROM spans s JOIN traces t ON t.pk = s.trace_pk "
            "JOIN resources r ON r.id = s.resource_id WHERE s.trace_pk = ?",
            (trace_pk,),
        ).fetchall()
        docs = [codec.decode_body(row[8]) for row in rows]
        text_of = texts.load(self._conn, [i for doc in docs for i in codec.body_text_ids(doc)])
        return [
            codec.rehydrate_span(row[:8], doc, orjson.loads(row[9]), text_of)
            for row, doc in zip(rows, docs, strict=True)
        ]

    def load_session(self, project_id: int, session_id: str) -> LoadedSession | None:
        row = self._conn.execute(
            "SELECT pk FROM sessions WHERE project_id = ? AND session_id = ?", (project_id, session_id)
        ).fetchone()
        return None if row is None else LoadedSession(row[0], session_id, self._session_traces(row[0]))

    def load_session_by_pk(self, pk: int) -> LoadedSession:
        row = self._conn.execute("SELECT session_id FROM sessions WHERE pk = ?", (pk,)).fetchone()
        return LoadedSession(pk, row[0], self._session_traces(pk))

    def _session_traces(self, pk: int) -> list[TraceAgg]:
        return self._decode_traces(self._conn.execute(_TRACE_SELECT + "WHERE session_pk = ?", (pk,)))

    def new_session_pk(self) -> int:
        self._keys["session"] += 1
        return self._keys["session"]

    def new_trace_pk(self) -> int:
        self._keys["trace"] += 1
        return self._keys["trace"]

    # --- writes ----------------------------------------------------------------------------------

    def insert_spans(self, spans: Sequence[StoredSpan]) -> None:
        """Kept until their traces are saved (then it is known whose texts they hold) or ``finish``."""
        self._unwritten.extend(spans)

    def finish(self) -> None:
        """Write the spans still kept (their traces' sessions read from the database)."""
        if self._unwritten:
            self._write_spans({})

    def _write_spans(self, scopes: dict[int, int]) -> None:
        """Write the kept spans, their texts in the scopes given for their traces (others: as stored)."""
        spans, self._unwritten = self._unwritten, []
        missing = {trace_pk for trace_pk, _, _ in spans if trace_pk not in scopes}
        if missing:
            scopes = {**scopes, **self._stored_scopes(missing)}
        rows = []
        resource_of: dict[int, int] = {}
        extracts: dict[int, textparts.Extract] = {}
        for trace_pk, span, facts in spans:
            resource_id = resource_of.get(id(span.resource))
            if resource_id is None:
                resource_id = resource_of[id(span.resource)] = self._resource_id(span.resource)
            scope = scopes[trace_pk]
            extract = extracts.get(scope)
            if extract is None:
                intern = partial(self._texts.intern, self._conn, scope)
                extract = extracts[scope] = partial(self._texts.cutter.extract, scope, intern)
            rows.append(
                (
                    trace_pk,
                    span.span_id,
                    span.parent_span_id,
                    span.name,
                    span.kind,
                    facts.category,
                    span.start_ns,
                    span.end_ns,
                    span.status_code,
                    facts.cost_usd,
                    facts.cost_source,
                    resource_id,
                    compress.pack(codec.encode_body(span, extract)),
                )
            )
        self._texts.flush(self._conn)
        self._conn.executemany(_SPAN_INSERT, rows)

    def _stored_scopes(self, trace_pks: set[int]) -> dict[int, int]:
        """Where the texts of these traces' spans go: their session, else the trace itself (minus its key)."""
        scopes = {pk: -pk for pk in trace_pks}
        for chunk in chunks(sorted(trace_pks), _IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            for pk, session_pk in self._conn.execute(
                f"SELECT pk, session_pk FROM traces WHERE pk IN ({marks}) AND session_pk IS NOT NULL", chunk
            ):
                scopes[pk] = session_pk
        return scopes

    def _resource_id(self, resource: Resource) -> int:
        digest, encoded = codec.resource_digest(resource)
        resource_id = self._resource_ids.get(digest)
        if resource_id is None:
            row = self._conn.execute("SELECT id FROM resources WHERE digest = ?", (digest,)).fetchone()
            if row is None:
                cursor = self._conn.execute(
                    "INSERT INTO resources (digest, attributes) VALUES (?, ?)", (digest, encoded)
                )
                resource_id = int(cursor.lastrowid or 0)
            else:
                resource_id = row[0]
            if len(self._resource_ids) > 10_000:
                self._resource_ids.clear()
            self._resource_ids[digest] = resource_id
        return resource_id

    def save_traces(self, project_id: int, traces: Sequence[tuple[TraceAgg, int | None, bool]]) -> None:
        scopes = {agg.pk: -agg.pk if session_pk is None else session_pk for agg, session_pk, _ in traces}
        if self._unwritten:
            self._write_spans(scopes)
        inserts, updates = [], []
        for agg, session_pk, is_new in traces:
            *columns, blob = codec.encode_trace(agg, partial(self._trace_text, scopes[agg.pk]))
            columns.append(compress.pack(blob))
            if is_new:
                inserts.append((agg.pk, project_id, agg.trace_id, session_pk, *columns))
            else:
                updates.append((session_pk, *columns, agg.pk))
        if inserts:
            self._conn.executemany(_TRACE_INSERT, inserts)
        if updates:
            self._conn.executemany(_TRACE_UPDATE, updates)

    def _trace_text(self, scope: int, value: str) -> str | bytes:
        """A fold's long text: a reference to the same text stored for a span, else compressed."""
        text_id = self._texts.find(self._conn, scope, value)
        return texts.reference(text_id) if text_id is not None else texts.encode(value)

    def save_sessions(self, project_id: int, writes: Sequence[SessionWrite]) -> None:
        inserts: list[tuple[Any, ...]] = []
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        turns: list[tuple[Any, ...]] = []
        removed: list[tuple[Any, ...]] = []
        models: list[tuple[int, str, int]] = []
        stale_journeys: list[tuple[int]] = []
        journeys: list[tuple[Any, ...]] = []
        for w in writes:
            columns = session_columns(w.after)
            if w.is_new:
                inserts.append((w.pk, project_id, w.session_id, *columns.values()))
            else:
                previous = session_columns(w.before) if w.before is not None else {}
                changed = tuple(name for name, value in columns.items() if previous.get(name, ...) != value)
                if changed:
                    updates.setdefault(changed, []).append((*(columns[n] for n in changed), w.pk))
            turns.extend(_turn_row(w.pk, t) for t in w.changed_turns)
            removed.extend((w.pk, conversation, key) for conversation, key in w.removed_turns)
            known = w.before.models if w.before is not None and not w.is_new else ()
            models.extend((project_id, m, w.pk) for m in w.after.models if m not in known)
            if w.after.journeys != (w.before.journeys if w.before is not None else None):
                stale_journeys.append((w.pk,))
                journeys.extend(_journey_row(w.pk, j) for j in w.after.journeys)
        if inserts:
            self._conn.executemany(_SESSION_INSERT, inserts)
        for changed, rows in updates.items():
            assignments = ", ".join(f"{name} = ?" for name in changed)
            self._conn.executemany(f"UPDATE sessions SET {assignments} WHERE pk = ?", rows)
        if removed:
            self._conn.executemany(
                "DELETE FROM turns WHERE session_pk = ? AND conversation_id = ? AND turn_key = ?", removed
            )
        if turns:
            self._conn.executemany(_TURN_UPSERT, turns)
        if models:
            self._conn.executemany(
                "INSERT OR IGNORE INTO session_models (project_id, model, session_pk) VALUES (?, ?, ?)", models
            )
        if stale_journeys:
            self._conn.executemany("DELETE FROM session_journeys WHERE session_pk = ?", stale_journeys)
        if journeys:
            self._conn.executemany(
                "INSERT INTO session_journeys (session_pk, name, highest_stage, total_stages, stages, converted, "
                "conversion_turn, conversion_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                journeys,
            )

    def existing_users(self, project_id: int, user_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in chunks(user_ids, _IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT user_id FROM users WHERE project_id = ? AND user_id IN ({marks})", (project_id, *chunk)
            )
            found.update(r[0] for r in rows)
        return found

    def add_users(self, project_id: int, deltas: Sequence[tuple[str, UserDelta]]) -> None:
        self._conn.executemany(
            _USER_UPSERT,
            [(project_id, user_id, *_counters(d), d.cost_usd, d.first_ns, d.last_ns) for user_id, d in deltas],
        )
        for user_id, d in deltas:
            if d.session_count < 0:  # a session moved to another user: rebuild this one exactly
                self.recompute_user(project_id, user_id)

    def set_idle_timeout_ms(self, project_id: int, value: int) -> None:
        self._conn.execute("UPDATE projects SET idle_timeout_ms = ? WHERE id = ?", (value, project_id))

    # --- erasure ---------------------------------------------------------------------------------

    def find_session(self, project_id: int, session_id: str) -> tuple[int, str | None] | None:
        return erase.find_session(self._conn, project_id, session_id)

    def user_sessions(self, project_id: int, user_id: str) -> list[tuple[int, str]]:
        return erase.user_sessions(self._conn, project_id, user_id)

    def erase_session(self, project_id: int, session_pk: int) -> Erased:
        self._texts.forget(self._conn)
        return erase.erase_session(self._conn, project_id, session_pk)

    def erase_orphan_traces_of(self, project_id: int, user_id: str) -> Erased:
        self._texts.forget(self._conn)
        return erase.erase_orphan_traces_of(self._conn, project_id, user_id)

    def recompute_user(self, project_id: int, user_id: str) -> bool:
        return erase.recompute_user(self._conn, project_id, user_id)

    def quiet_sessions(
        self, project_id: int, session_ids: Sequence[str], before_ns: int
    ) -> list[tuple[int, str, str | None]]:
        return erase.quiet_sessions(self._conn, project_id, session_ids, before_ns)

    def erase_orphan_traces(self, project_id: int, trace_ids: Sequence[bytes], before_ns: int) -> Erased:
        self._texts.forget(self._conn)
        return erase.erase_orphan_traces(self._conn, project_id, trace_ids, before_ns)

    def add_counters(self, project_id: int, delta: CounterDelta) -> None:
        d = delta
        self._conn.execute(
            "UPDATE project_counters SET span_count = span_count + ?, trace_count = trace_count + ?, "
            "session_count = session_count + ?, orphan_trace_count = orphan_trace_count + ?, "
            "user_count = user_count + ? WHERE project_id = ?",
            (d.span_count, d.trace_count, d.session_count, d.orphan_trace_count, d.user_count, project_id),
        )

    # --- GenAI log events ------------------------------------------------------------------------

    def store_log_events(self, project_id: int, events: Sequence[LogEvent]) -> None:
        self._conn.executemany(
            "INSERT OR IGNORE INTO span_log_events (project_id, trace_id, span_id, time_ns, name, attributes) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (project_id, e.trace_id, e.span_id, e.time_ns, e.name, orjson.dumps(e.attributes, option=_NON_STR))
                for e in events
            ],
        )

    def has_log_events(self, project_id: int) -> bool:
        row = self._conn.execute("SELECT 1 FROM span_log_events WHERE project_id = ? LIMIT 1", (project_id,))
        return row.fetchone() is not None

    def log_event_traces(self, project_id: int, trace_ids: Sequence[bytes]) -> set[bytes]:
        found: set[bytes] = set()
        for chunk in chunks(trace_ids, _IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT DISTINCT trace_id FROM span_log_events WHERE project_id = ? AND trace_id IN ({marks})",
                (project_id, *chunk),
            )
            found.update(r[0] for r in rows)
        return found

    def log_events(self, project_id: int, trace_id: bytes) -> list[LogEvent]:
        rows = self._conn.execute(
            "SELECT span_id, time_ns, name, attributes FROM span_log_events WHERE project_id = ? AND trace_id = ? "
            "ORDER BY time_ns",
            (project_id, trace_id),
        )
        return [LogEvent(trace_id, r[0], r[1], r[2], orjson.loads(r[3])) for r in rows]


def _counters(d: UserDelta) -> tuple[int, ...]:
    """A user delta's counters as SQLite can bind them: saturated at ±int64 max (the sums in SQL saturate too)."""
    values = (d.session_count, d.turn_count, d.trace_count, d.error_count, d.input_tokens, d.output_tokens)
    return tuple(max(-INT64_MAX, min(v, INT64_MAX)) for v in values)


def _journey_row(session_pk: int, j: dict[str, Any]) -> tuple[Any, ...]:
    return (
        session_pk, j["name"], j["highest_stage"], j["total_stages"], orjson.dumps(j["stages"]).decode(),
        int(j["converted"]), j["conversion_turn"], j["conversion_time_ms"],
    )  # fmt: skip


def _turn_row(session_pk: int, t: TurnRollup) -> tuple[object, ...]:
    return (
        session_pk, t.conversation_id, t.key, t.number, orjson.dumps([x.hex() for x in t.trace_ids]).decode(),
        t.start_ns, t.end_ns, t.span_count, t.llm_call_count, t.tool_call_count, t.agent_run_count,
        t.input_tokens, t.output_tokens, t.total_cost_usd, t.cost_source, int(t.error), t.error_message,
        int(t.tool_error), t.input_trace_id, t.output_trace_id, t.context_tokens,
        orjson.dumps(t.attributes, option=_NON_STR).decode(), t.model, t.last_action, t.tool_error_message,
    )  # fmt: skip
