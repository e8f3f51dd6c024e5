"""Queries behind the analytics endpoints: one pass over the sessions of a window, and their turns."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from threadline.server.intelligence.analytics import SessionRow
from threadline.server.store.base import Window
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


def session_rows(conn: sqlite3.Connection, project_id: int, window: Window) -> list[SessionRow]:
    """``intelligence.analytics.SessionRow`` for every session of the window (from a covering index)."""
    if not storable(window.user_id):
        return []
    where, params = _window(project_id, window)
    rows: list[SessionRow] = conn.execute(
        "SELECT first_ns, last_ns, duration_ns, turn_count, total_cost_usd, error_count, end_reason, last_action, "
        f"converted, client_dropoff, last_turn_number, turn_latencies FROM sessions WHERE {where}",
        params,
    ).fetchall()
    return rows


def session_journeys(conn: sqlite3.Connection, project_id: int, window: Window) -> list[dict[str, Any]]:
    if not storable(window.user_id):
        return []
    where, params = _window(project_id, window, "s")
    cursor = conn.execute(
        "SELECT j.name, j.highest_stage, j.total_stages, j.stages, j.converted, j.conversion_turn, "
        f"j.conversion_time_ms FROM session_journeys j JOIN sessions s ON s.pk = j.session_pk WHERE {where} "
        "ORDER BY j.name",
        params,
    )
    return [
        {
            "name": r[0],
            "highest_stage": r[1],
            "total_stages": r[2],
            "stages": orjson.loads(r[3]),
            "converted": bool(r[4]),
            "conversion_turn": r[5],
            "conversion_time_ms": r[6],
        }
        for r in cursor
    ]
