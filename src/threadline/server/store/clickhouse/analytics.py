"""Analytics over the sessions active in a window: the rows are read in SQL (one pass over ``sessions FINAL``)
and folded by ``intelligence.analytics``, the definitions both engines share, so the numbers are the same."""

from __future__ import annotations

import orjson

from threadline.server.intelligence import analytics
from threadline.server.intelligence.analytics import SessionRow
from threadline.server.store.base import Rules, Window
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.reads import LIVE, window
from threadline.server.store.clickhouse.sql import literal, storable
from threadline.server.store.records import JourneyProgress, SessionAnalytics


def _where(project_id: int, scope: Window) -> str:
    where = [f"project_id = {project_id}", "alive = 1"]
    if scope.user_id is not None:
        where.append(f"user_id = {literal(scope.user_id)}")
    window(where, scope.since_ns, scope.until_ns)
    return " AND ".join(where)


def session_analytics(conn: Connection, project_id: int, scope: Window, rules: Rules) -> SessionAnalytics:
    if not storable(scope.user_id):
        return analytics.session_analytics([], rules.now_ns, rules.idle_timeout_ns)
    rows: list[SessionRow] = [
        (*row[:8], bool(row[8]), orjson.loads(row[9]) if row[9] is not None else None, row[10], row[11])
        for row in conn.query(
            "SELECT first_ns, last_ns, duration_ns, turn_count, total_cost_usd, error_count, end_reason, last_action, "
            f"converted, client_dropoff, last_turn_number, turn_latencies FROM {LIVE} WHERE {_where(project_id, scope)}"
        )
    ]
    return analytics.session_analytics(rows, rules.now_ns, rules.idle_timeout_ns)


def journey_progress(conn: Connection, project_id: int, scope: Window) -> list[JourneyProgress]:
    if not storable(scope.user_id):
        return []
    found = []
    for (text,) in conn.query(
        f"SELECT journeys FROM {LIVE} WHERE {_where(project_id, scope)} AND journeys != '[]' ORDER BY session_id"
    ):
        for j in orjson.loads(text):
            found.append(
                JourneyProgress(
                    j["name"],
                    j["highest_stage"],
                    j["total_stages"],
                    tuple(j["stages"]),
                    bool(j["converted"]),
                    j["conversion_turn"],
                    j["conversion_time_ms"],
                )
            )
    found.sort(key=lambda j: j.name)
    return found
