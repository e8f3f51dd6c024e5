"""Erasure (privacy requests, retention): everything stored for a session or a user, with rollups corrected.

Texts go with what they were stored for: a session's, and those of each erased trace's spans stored while
it had no session (``texts``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from threadline.server.ingest.port import Erased
from threadline.server.ingest.rollup import saturate
from threadline.server.store.base import chunks
from threadline.server.store.sqlite import texts

_IN_CHUNK = 500


def find_session(conn: sqlite3.Connection, project_id: int, session_id: str) -> tuple[int, str | None] | None:
    row = conn.execute(
        "SELECT pk, user_id FROM sessions WHERE project_id = ? AND session_id = ?", (project_id, session_id)
    ).fetchone()
    return (row[0], row[1]) if row else None


def user_sessions(conn: sqlite3.Connection, project_id: int, user_id: str) -> list[tuple[int, str]]:
    return conn.execute(
        "SELECT pk, session_id FROM sessions WHERE project_id = ? AND user_id = ?", (project_id, user_id)
    ).fetchall()


def _erase_traces(conn: sqlite3.Connection, project_id: int, where: str, params: tuple[object, ...]) -> Erased:
    traces = conn.execute(f"SELECT pk, trace_id FROM traces WHERE project_id = ? AND {where}", (project_id, *params))
    found = traces.fetchall()
    spans = 0
    for trace_pk, trace_id in found:
        spans += conn.execute("DELETE FROM spans WHERE trace_pk = ?", (trace_pk,)).rowcount
        conn.execute("DELETE FROM span_log_events WHERE project_id = ? AND trace_id = ?", (project_id, trace_id))
    conn.executemany("DELETE FROM traces WHERE pk = ?", [(pk,) for pk, _ in found])
    texts.delete_scopes(conn, [-pk for pk, _ in found])
    return Erased(spans=spans, trace_ids=[trace_id for _, trace_id in found])


def erase_session(conn: sqlite3.Connection, project_id: int, session_pk: int) -> Erased:
    erased = _erase_traces(conn, project_id, "session_pk = ?", (session_pk,))
    for table in ("turns", "session_models", "session_journeys"):
        conn.execute(f"DELETE FROM {table} WHERE session_pk = ?", (session_pk,))
    conn.execute("DELETE FROM sessions WHERE pk = ?", (session_pk,))
    texts.delete_scopes(conn, [session_pk])
    return erased


def erase_orphan_traces_of(conn: sqlite3.Connection, project_id: int, user_id: str) -> Erased:
    return _erase_traces(conn, project_id, "session_pk IS NULL AND user_id = ?", (user_id,))


def quiet_sessions(
    conn: sqlite3.Connection, project_id: int, session_ids: Sequence[str], before_ns: int
) -> list[tuple[int, str, str | None]]:
    """(key, session id, user id) of those sessions whose last activity is still before ``before_ns``."""
    found: list[tuple[int, str, str | None]] = []
    for chunk in chunks(session_ids, _IN_CHUNK):
        marks = ",".join("?" * len(chunk))
        # "+": found by id, never by scanning the range of old sessions (it may be long).
        found += conn.execute(
            f"SELECT pk, session_id, user_id FROM sessions WHERE project_id = ? AND session_id IN ({marks}) "
            "AND +last_ns < ?",
            (project_id, *chunk, before_ns),
        ).fetchall()
    return found


def erase_orphan_traces(
    conn: sqlite3.Connection, project_id: int, trace_ids: Sequence[bytes], before_ns: int
) -> Erased:
    """Those traces that are still orphans and started before ``before_ns`` (an adopted one stays)."""
    erased = Erased()
    for chunk in chunks(trace_ids, _IN_CHUNK):  # "+": found by id, as above
        where = f"session_pk IS NULL AND +start_ns < ? AND trace_id IN ({','.join('?' * len(chunk))})"
        erased.add(_erase_traces(conn, project_id, where, (before_ns, *chunk)))
    return erased


def recompute_user(conn: sqlite3.Connection, project_id: int, user_id: str) -> bool:
    """Rebuild a user's rollup from their sessions; drop the user when none remain. True if dropped."""
    sessions = conn.execute(
        "SELECT turn_count, trace_count, error_count, input_tokens, output_tokens, total_cost_usd, first_ns, last_ns "
        "FROM sessions WHERE project_id = ? AND user_id = ?",
        (project_id, user_id),
    ).fetchall()
    if not sessions:
        deleted = conn.execute("DELETE FROM users WHERE project_id = ? AND user_id = ?", (project_id, user_id))
        if deleted.rowcount:
            conn.execute("UPDATE project_counters SET user_count = user_count - 1 WHERE project_id = ?", (project_id,))
        return True
    conn.execute(
        "UPDATE users SET session_count = ?, turn_count = ?, trace_count = ?, error_count = ?, input_tokens = ?, "
        "output_tokens = ?, total_cost_usd = ?, first_ns = ?, last_ns = ? WHERE project_id = ? AND user_id = ?",
        (*_user_totals(sessions), project_id, user_id),
    )
    return False


def _user_totals(sessions: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """Sessions, summed counters (saturating: SQL's sum() raises past int64), cost (None: none known),
    first and last activity."""
    columns = list(zip(*sessions, strict=True))
    costs = [c for c in columns[5] if c is not None]
    return (
        len(sessions),
        *(saturate(sum(column)) for column in columns[:5]),
        sum(costs) if costs else None,
        min(columns[6]),
        max(columns[7]),
    )
