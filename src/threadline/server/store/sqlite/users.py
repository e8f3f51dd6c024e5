"""User rollups: listed and sorted like sessions, keyset-paginated on an index."""

from __future__ import annotations

import sqlite3
from typing import Any

from threadline.server.store import cursor
from threadline.server.store.base import UserQuery
from threadline.server.store.records import Page, UserSummary
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


def _user(values: tuple[Any, ...]) -> UserSummary:
    return UserSummary(*values)


def list_users(conn: sqlite3.Connection, project_id: int, query: UserQuery) -> Page[UserSummary]:
    where = ["project_id = ?"]
    params: list[Any] = [project_id]
    add_window(where, params, query.since_ns, query.until_ns)
    if query.returning is not None:
        where.append("session_count > 1" if query.returning else "session_count <= 1")
    value = cursor.number if query.ordering == "total_cost" else cursor.integer
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
        slots=(value, cursor.text),
        row=_user,
    )


def get_user(conn: sqlite3.Connection, project_id: int, user_id: str) -> UserSummary | None:
    if not storable(user_id):
        return None
    row = conn.execute(
        f"SELECT {USER_COLUMNS} FROM users WHERE project_id = ? AND user_id = ?", (project_id, user_id)
    ).fetchone()
    return None if row is None else _user(row)
