"""Stored counters stay INTEGERs: sums that would overflow int64 saturate (SQLite would make them REALs)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from threadline.server.ingest.port import UserDelta
from threadline.server.ingest.rollup import INT64_MAX
from threadline.server.store.sqlite.store import SqliteStore

_HUGE = 5 * 10**18


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path)
    yield opened
    opened.close()


def _delta(tokens: int) -> UserDelta:
    return UserDelta(session_count=1, turn_count=tokens, input_tokens=tokens, output_tokens=1, first_ns=1, last_ns=2)


def _user(store: SqliteStore) -> tuple[object, ...]:
    with sqlite3.connect(store.path) as conn:
        row = conn.execute(
            "SELECT typeof(turn_count), turn_count, typeof(input_tokens), input_tokens, output_tokens FROM users"
        ).fetchone()
    return tuple(row)


def test_user_totals_saturate_across_transactions(store: SqliteStore) -> None:
    for _ in range(3):
        with store.write() as txn:
            txn.add_users(1, [("u", _delta(_HUGE))])
    assert _user(store) == ("integer", INT64_MAX, "integer", INT64_MAX, 3)


def test_a_delta_past_int64_is_saturated_before_it_is_bound(store: SqliteStore) -> None:
    with store.write() as txn:
        txn.add_users(1, [("u", _delta(3 * _HUGE))])
        txn.add_users(1, [("u", _delta(3 * _HUGE))])
    assert _user(store) == ("integer", INT64_MAX, "integer", INT64_MAX, 2)


def test_ordinary_totals_are_exact(store: SqliteStore) -> None:
    with store.write() as txn:
        txn.add_users(1, [("u", _delta(INT64_MAX - 10))])
    with store.write() as txn:
        txn.add_users(1, [("u", _delta(10))])
    assert _user(store) == ("integer", INT64_MAX, "integer", INT64_MAX, 2)
