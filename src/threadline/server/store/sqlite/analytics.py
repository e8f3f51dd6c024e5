"""Queries behind the analytics endpoints: one pass over the sessions of a window, and their turns."""

from __future__ import annotations

import sqlite3
from array import array
from typing import Any

import orjson

from threadline.server.intelligence import analytics
from threadline.server.intelligence.analytics import SessionRow
from threadline.server.store.base import Rules, Window
from threadline.server.store.records import JourneyProgress, SessionAnalytics
from threadline.server.store.sqlite.paging import add_window, storable


def _window(project_id: int, window: Window, alias: str = "") -> tuple[str, list[Any]]:
    prefix = f"{alias}." if alias else ""
    where = [f"{prefix}project_id = ?"]
    params: list[Any] = [project_id]
    if window.user_id is not None:
        where.append(f"{prefix}user_id = ?")
        params.append(window.user_id)
    add_window(where, params, window.since_ns, window.until_ns, prefix)
    return " AND ".join(where), params


def session_analytics(conn: sqlite3.Connection, project_id: int, window: Window, rules: Rules) -> SessionAnalytics:
    """One pass in Python over the window's sessions, read from a covering index."""
    if not storable(window.user_id):
        return analytics.session_analytics([], rules.now_ns, rules.idle_timeout_ns)
    where, params = _window(project_id, window)
    rows: list[SessionRow] = [
        (*row[:8], bool(row[8]), orjson.loads(row[9]) if row[9] else None, row[10], array("q", row[11] or b""))
        for row in conn.execute(
            "SELECT first_ns, last_ns, duration_ns, turn_count, total_cost_usd, error_count, end_reason, "
            "last_action, converted, client_dropoff, last_turn_number, turn_latencies "
            f"FROM sessions WHERE {where}",
            params,
        )
    ]
    return analytics.session_analytics(rows, rules.now_ns, rules.idle_timeout_ns)


def journey_progress(conn: sqlite3.Connection, project_id: int, window: Window) -> list[JourneyProgress]:
    if not storable(window.user_id):
        return []
    where, params = _window(project_id, window, "s")
    rows = conn.execute(
        "SELECT j.name, j.highest_stage, j.total_stages, j.stages, j.converted, j.conversion_turn, "
        f"j.conversion_time_ms FROM session_journeys j JOIN sessions s ON s.pk = j.session_pk WHERE {where} "
        "ORDER BY j.name",
        params,
    )
    return [JourneyProgress(r[0], r[1], r[2], tuple(orjson.loads(r[3])), bool(r[4]), r[5], r[6]) for r in rows]
