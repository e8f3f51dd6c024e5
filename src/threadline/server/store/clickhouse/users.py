"""Users, aggregated from the live sessions at read time (the SQLite engine's user rollups, by definition:
sessions with a user id, summed counters saturating at int64, cost over the priced sessions, first and last
activity), filtered and keyset-paged like sessions."""

from __future__ import annotations

from threadline.server.ingest.rollup import INT64_MAX
from threadline.server.store.base import UserQuery
from threadline.server.store.clickhouse import cursor
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.reads import LIVE
from threadline.server.store.clickhouse.sql import literal, storable
from threadline.server.store.records import Page, UserSummary

ORDER_EXPRESSIONS = {
    "last_seen": "u_last",
    "first_seen": "u_first",
    "session_count": "u_sessions",
    "turn_count": "u_turns",
    "total_cost": "ifNull(u_cost, -1.0)",
}


def _sum(column: str) -> str:
    return f"toInt64(least(sum(toInt128({column})), {INT64_MAX}))"


SELECT = (
    "SELECT user_id, toInt64(count()) AS u_sessions, "
    f"{_sum('turn_count')} AS u_turns, {_sum('trace_count')} AS u_traces, {_sum('error_count')} AS u_errors, "
    f"{_sum('input_tokens')} AS u_input, {_sum('output_tokens')} AS u_output, "
    "if(count(total_cost_usd) > 0, sum(ifNull(total_cost_usd, 0)), NULL) AS u_cost, "
    "min(first_ns) AS u_first, max(last_ns) AS u_last"
)


def _from(project_id: int, condition: str = "") -> str:
    return (
        f"FROM {LIVE} WHERE project_id = {project_id} AND alive = 1 AND user_id IS NOT NULL AND user_id != '' "
        f"{condition} GROUP BY user_id"
    )


def _user(row: tuple[object, ...]) -> UserSummary:
    return UserSummary(*row)  # type: ignore[arg-type]


def list_users(conn: Connection, project_id: int, query: UserQuery) -> Page[UserSummary]:
    having: list[str] = []
    if query.since_ns is not None:
        having.append(f"u_last >= {literal(query.since_ns)}")
    if query.until_ns is not None:
        having.append(f"u_first <= {literal(query.until_ns)}")
    if query.returning is not None:
        having.append("u_sessions > 1" if query.returning else "u_sessions <= 1")
    order = ORDER_EXPRESSIONS[query.ordering]
    number = query.ordering == "total_cost"
    if query.after is not None:
        value, key = cursor.decode(query.after, f"users:{query.ordering}", query.descending, number=number)
        if not storable(key):
            return Page([])
        having.append(f"({order}, user_id) {'<' if query.descending else '>'} ({literal(value)}, {literal(key)})")
    direction = "DESC" if query.descending else "ASC"
    rows = conn.query(
        f"{SELECT}, {order} AS u_order {_from(project_id)} {'HAVING ' + ' AND '.join(having) if having else ''} "
        f"ORDER BY u_order {direction}, user_id {direction} LIMIT {int(query.limit) + 1}"
    )
    items = [_user(row[:-1]) for row in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit and query.limit > 0:
        last = rows[query.limit - 1]
        value = float(last[-1]) if number else int(last[-1])
        next_cursor = cursor.encode(f"users:{query.ordering}", query.descending, value, last[0])
    return Page(items, next_cursor)


def get_user(conn: Connection, project_id: int, user_id: str) -> UserSummary | None:
    if not storable(user_id):
        return None
    rows = conn.query(f"{SELECT} {_from(project_id, f'AND user_id = {literal(user_id)}')}")
    return _user(rows[0]) if rows else None
