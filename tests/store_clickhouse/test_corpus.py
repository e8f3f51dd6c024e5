"""Real OTLP payloads fed to both engines give the same answers to every read."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from store_clickhouse.feed import all_sessions, all_users, clickhouse, corpus_bodies, rounded, snapshot, sqlite
from support.corpus import FOLDERS, manifest
from threadline.server.store.base import ORDERINGS, USER_ORDERINGS, Rules, SessionQuery, Store, UserQuery, Window


@pytest.mark.parametrize("folder", FOLDERS)
def test_corpus_reads_match_sqlite(folder: str, ch_path: Path, tmp_path: Path) -> None:
    bodies = corpus_bodies(folder)
    with clickhouse(ch_path) as ch, sqlite(tmp_path / "sqlite") as lite:
        for content_type, body in bodies:
            ch.write_body(content_type, body)
            lite.write_body(content_type, body)
        expected = manifest(folder)["expected"]
        mine = snapshot(ch.store)
        assert mine["stats"].session_count == expected["session_count"]
        assert sum(s["summary"]["turn_count"] for s in mine["sessions"].values()) == expected["turn_count"]
        assert mine == snapshot(lite.store)
        compare_lists(ch.store, lite.store)


def order_values(items: list[object], ordering: str) -> list[object]:
    names = {
        "last_activity": "last_ns", "first_activity": "first_ns", "total_cost": "total_cost_usd",
        "total_tokens": "total_tokens", "duration": "duration_ns", "turn_count": "turn_count",
        "error_count": "error_count",
    }  # fmt: skip
    return [rounded(getattr(item, names[ordering])) for item in items]


def compare_lists(ch: Store, lite: Store) -> None:
    """Every ordering, both directions, paged by 2, and the filters: the same sessions in the same order of
    values (ties are broken by session id here, by arrival in SQLite)."""
    now = max(s.last_ns for s in all_sessions(lite, SessionQuery(limit=1000))) + 1
    for ordering in ORDERINGS:
        for descending in (True, False):
            query = SessionQuery(ordering=ordering, descending=descending, limit=2)
            mine, theirs = all_sessions(ch, query), all_sessions(lite, query)
            assert order_values(mine, ordering) == order_values(theirs, ordering)
            assert sorted(s.session_id for s in mine) == sorted(s.session_id for s in theirs)
            keys = [(v, s.session_id) for v, s in zip(order_values(mine, ordering), mine, strict=True)]
            assert keys == sorted(keys, key=lambda k: (-1 if k[0] is None else k[0], k[1]), reverse=descending)
    sessions = all_sessions(lite, SessionQuery(limit=1000))
    user = next((s.user_id for s in sessions if s.user_id), None)
    model = next((m for s in sessions for m in s.models), None)
    word = next((s.first_input.split()[0] for s in sessions if s.first_input), None)
    middle = sorted(s.last_ns for s in sessions)[len(sessions) // 2]
    filters: list[dict[str, Any]] = [
        {"user_id": user}, {"min_turns": 2}, {"max_turns": 2}, {"has_error": True}, {"has_error": False},
        {"status": "active", "now_ns": now}, {"status": "ended", "now_ns": now},
        {"status": "ended", "now_ns": now + 10**13, "idle_timeout_ns": 1},
        {"dropped_off": True, "now_ns": now + 10**13}, {"dropped_off": False, "now_ns": now + 10**13},
        {"model": model}, {"model": "no-such-model"}, {"q": word}, {"q": (word or "").upper()}, {"q": "%"},
        {"since_ns": middle}, {"until_ns": middle},
        {"session_ids": [s.session_id for s in sessions[:2]] + ["nope"]},
    ]  # fmt: skip
    for changes in filters:
        query = dataclasses.replace(SessionQuery(limit=1000), **changes)
        mine = sorted(s.session_id for s in all_sessions(ch, query))
        assert mine == sorted(s.session_id for s in all_sessions(lite, query)), changes
    for ordering in USER_ORDERINGS:
        for returning in (None, True, False):
            users = UserQuery(ordering=ordering, limit=2, returning=returning)
            mine_users, their_users = all_users(ch, users), all_users(lite, users)
            assert sorted(u.user_id for u in mine_users) == sorted(u.user_id for u in their_users)
    for window in (Window(), Window(since_ns=middle), Window(until_ns=middle), Window(user_id=user)):
        for rules in (Rules(now, 30 * 60 * 10**9), Rules(now + 10**13, 30 * 60 * 10**9)):
            assert rounded(ch.session_analytics(1, window, rules)) == rounded(lite.session_analytics(1, window, rules))
        mine_j = sorted(rounded(ch.journey_progress(1, window)), key=repr)
        assert mine_j == sorted(rounded(lite.journey_progress(1, window)), key=repr)
    for args in ((0, now), (now - 10**12, now), (0, 0)):
        assert sorted(ch.sessions_going_idle(1, *args)) == sorted(lite.sessions_going_idle(1, *args))
    assert sorted(ch.sessions_quiet_since(1, now, 1000)) == sorted(lite.sessions_quiet_since(1, now, 1000))
