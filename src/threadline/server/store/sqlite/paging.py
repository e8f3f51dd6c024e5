"""Shared query pieces: the activity-window filter, keyset pagination over an indexed ordering, and which text
values can match anything stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from threadline.server.store import cursor
from threadline.server.store.records import Page

T = TypeVar("T")


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
    after: str | None,
    slots: tuple[cursor.Slot, cursor.Slot],
    row: Callable[[tuple[Any, ...]], T],
) -> Page[T]:
    """Rows of ``table`` after the cursor ``after`` in ``order_by``-then-``key`` order, made records by ``row``
    (given the ``columns``); the next page's cursor holds (order value, key) of the last row, each checked by
    its slot when read back (``BadCursor``).

    ``order_by`` must be indexed together with ``key`` (SQLite walks the index and stops at ``limit``).
    """
    where = list(where)
    params = list(params)
    if after is not None:
        position = cursor.decode(after, slots)
        if isinstance(position[1], str) and not storable(position[1]):
            return Page([])
        where.append(f"({order_by}, {key}) {'<' if descending else '>'} (?, ?)")
        params.extend(position)
    direction = "DESC" if descending else "ASC"
    found = conn.execute(
        f"SELECT {columns}, {order_by}, {key} FROM {table} WHERE {' AND '.join(where)} "
        f"ORDER BY {order_by} {direction}, {key} {direction} LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    items = [row(values[:-2]) for values in found[:limit]]
    next_cursor = cursor.encode(found[limit - 1][-2:]) if len(found) > limit else None
    return Page(items, next_cursor)
