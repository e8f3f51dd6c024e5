"""Shared query pieces: the activity-window filter, keyset pagination over an indexed ordering, and which text
values can match anything stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from threadline.server.store.base import Page

RowFactory = Callable[[sqlite3.Cursor, tuple[Any, ...]], dict[str, Any]]


def storable(*texts: str | None) -> bool:
    """Whether each text could be stored (encodes as UTF-8): one that cannot (a lone surrogate) matches nothing."""
    try:
        for text in texts:
            if text is not None:
                text.encode()
    except UnicodeEncodeError:
        return False
    return True


def add_window(
    where: list[str], params: list[Any], since_ns: int | None, until_ns: int | None, prefix: str = ""
) -> None:
    """Rows active in [since, until]: last activity at or after ``since``, first at or before ``until``."""
    if since_ns is not None:
        where.append(f"{prefix}last_ns >= ?")
        params.append(since_ns)
    if until_ns is not None:
        where.append(f"{prefix}first_ns <= ?")
        params.append(until_ns)


def keyset_page(
    conn: sqlite3.Connection,
    *,
    table: str,
    columns: str,
    order_by: str,
    key: str,
    where: list[str],
    params: list[Any],
    descending: bool,
    limit: int,
    after: tuple[Any, Any] | None,
    row: RowFactory,
) -> Page:
    """Rows of ``table`` after ``after`` = (order value, key) in ``order_by``-then-``key`` order.

    ``order_by`` must be indexed together with ``key`` (SQLite walks the index and stops at ``limit``).
    """
    where = list(where)
    params = list(params)
    if after is not None:
        where.append(f"({order_by}, {key}) {'<' if descending else '>'} (?, ?)")
        params.extend(after)
    direction = "DESC" if descending else "ASC"
    cursor = conn.execute(
        f"SELECT {columns}, {order_by} AS sort_value FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY {order_by} {direction}, {key} {direction} LIMIT ?",
        (*params, limit + 1),
    )
    rows = [row(cursor, values) for values in cursor.fetchall()]
    next_after = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_after = (rows[-1]["sort_value"], rows[-1][key])
    for found in rows:
        del found["sort_value"]
    return Page(rows, next_after)
