"""User rollups: listed and sorted like sessions, keyset-paginated on an index."""

from __future__ import annotations

import sqlite3
from typing import Any

from threadline.server.store.base import Page, UserQuery
from threadline.server.store.sqlite.paging import add_window, keyset_page, storable

USER_ORDER_EXPRESSIONS = {
    "last_seen": "last_ns",
    "first_seen": "first_ns",
    "session_count": "session_count",
    "turn_count": "turn_count",
    "total_cost": "ifnull(total_cost_usd, -1.0)",
}
USER_COLUMNS = (
    "user_id, session_count, turn_count, trace_count, error_count, input_tokens, output_tokens, total_cost_usd, "
    "first_ns, last_ns"
)


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
    return {c[0]: value for c, value in zip(cursor.description, values, strict=True)}


def list_users(conn: sqlite3.Connection, project_id: int, query: UserQuery) -> Page:
    if query.after is not None and not storable(query.after[1]):
        return Page([])
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    add_window(where, params, query.since_ns, query.until_ns)
    if query.returning is not None:
        where.append("session_count > 1" if query.returning else "session_count <= 1")
    return keyset_page(
        conn,
        table="users",
        columns=USER_COLUMNS,
        order_by=USER_ORDER_EXPRESSIONS[query.ordering],
        key="user_id",
        where=where,
        params=params,
        descending=query.descending,
        limit=query.limit,
        after=query.after,
        row=_row,
    )


def get_user(conn: sqlite3.Connection, project_id: int, user_id: str) -> dict[str, Any] | None:
    if not storable(user_id):
        return None
    cursor = conn.execute(
        f"SELECT {USER_COLUMNS} FROM users WHERE project_id = ? AND user_id = ?", (project_id, user_id)
    )
    rows = _rows(cursor)
    return rows[0] if rows else None
