"""The read half of the contract: what every engine answers over the same data (``dataset.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from store_contract import dataset
from store_contract.conftest import ENGINES, IDLE_NS, Engine, at, make_engine
from threadline.server.intelligence import analytics
from threadline.server.intelligence.rules import DROPPED_OFF_BY, ENDED_BY
from threadline.server.store.base import ORDERINGS, USER_ORDERINGS, Rules, SessionQuery, UserQuery, Window
from threadline.server.store.records import BadCursor, Page, SessionSummary, UserSummary

NOW = at(dataset.NOW_S)
CUTOFF = NOW - IDLE_NS
SORT_KEYS: dict[str, Callable[[SessionSummary], Any]] = {
    "last_activity": lambda s: s.last_ns,
    "first_activity": lambda s: s.first_ns,
    "total_cost": lambda s: -1.0 if s.total_cost_usd is None else s.total_cost_usd,
    "total_tokens": lambda s: s.total_tokens,
    "duration": lambda s: s.duration_ns,
    "turn_count": lambda s: s.turn_count,
    "error_count": lambda s: s.error_count,
}


@pytest.fixture(scope="module", params=ENGINES)
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = Path(tmp_path_factory.mktemp(f"filled-{request.param}"))
    for engine in make_engine(request.param, folder):
        for session in dataset.sessions():
            engine.send(session.spans)
        engine.send(dataset.orphan())
        yield engine


def query(**values: Any) -> SessionQuery:
    return SessionQuery(now_ns=NOW, idle_timeout_ns=IDLE_NS, **values)


def every_page(read: Callable[[str | None], Page[Any]]) -> list[Any]:
    """Every item of a list, page after page."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = read(cursor)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def all_sessions(engine: Engine) -> list[SessionSummary]:
    return list(engine.store.list_sessions(1, query(limit=1000)).items)


def test_every_session_is_listed_once(filled: Engine) -> None:
    ids = [s.session_id for s in all_sessions(filled)]
    assert sorted(ids) == sorted(s.session_id for s in dataset.sessions())


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
def test_orderings_page_through_every_session_in_order(filled: Engine, ordering: str, descending: bool) -> None:
    rows = every_page(
        lambda cursor: filled.store.list_sessions(
            1, query(ordering=ordering, descending=descending, limit=7, after=cursor)
        )
    )
    assert len(rows) == len({r.session_id for r in rows}) == len(dataset.sessions())
    values = [SORT_KEYS[ordering](r) for r in rows]
    assert values == sorted(values, reverse=descending)


def test_a_cursor_the_engine_did_not_make_is_refused(filled: Engine) -> None:
    for cursor in ("junk", "W10", "WyJhIiwgImIiLCAzXQ", "%%%"):  # not base64 JSON; []; ["a", "b", 3]
        with pytest.raises(BadCursor):
            filled.store.list_sessions(1, query(after=cursor))
        with pytest.raises(BadCursor):
            filled.store.list_users(1, UserQuery(after=cursor))
        with pytest.raises(BadCursor):
            filled.store.list_orphan_traces(1, 10, cursor)


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"user_id": "ann"}, lambda s: s.user_id == "ann"),
        ({"min_turns": 3}, lambda s: s.turn_count >= 3),
        ({"max_turns": 1}, lambda s: s.turn_count <= 1),
        ({"has_error": True}, lambda s: s.error_count > 0),
        ({"has_error": False}, lambda s: s.error_count == 0),
        ({"since_ns": at(15_000)}, lambda s: s.last_ns >= at(15_000)),
        ({"until_ns": at(3_000)}, lambda s: s.first_ns <= at(3_000)),
        ({"model": "gpt-4o"}, lambda s: "gpt-4o" in s.models),
        ({"session_ids": ["asked", "live", "nope"]}, lambda s: s.session_id in ("asked", "live")),
        ({"q": "100% of 50_000"}, lambda s: s.session_id == "live"),
        ({"q": "%"}, lambda s: "%" in (s.first_input or "") + (s.last_output or "")),
        ({"q": "Which date"}, lambda s: s.session_id == "asked"),
    ],
)
def test_filters_keep_what_they_say(
    filled: Engine, filters: dict[str, Any], keep: Callable[[SessionSummary], bool]
) -> None:
    expected = sorted(s.session_id for s in all_sessions(filled) if keep(s))
    got = sorted(s.session_id for s in filled.store.list_sessions(1, query(limit=1000, **filters)).items)
    assert got == expected
    assert got, "the dataset must give each filter something to keep"


def _ended(s: SessionSummary) -> bool:
    return ENDED_BY(s.end_reason, s.last_ns, s.converted, s.last_action, s.client_dropoff, CUTOFF)


def _dropped(s: SessionSummary) -> bool:
    return DROPPED_OFF_BY(s.end_reason, s.last_ns, s.converted, s.last_action, s.client_dropoff, CUTOFF)


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({"status": "active"}, lambda s: not _ended(s)),
        ({"status": "ended"}, _ended),
        ({"dropped_off": True}, _dropped),
        ({"dropped_off": False}, lambda s: not _dropped(s)),
    ],
)
def test_clock_filters_follow_the_shared_rules(
    filled: Engine, filters: dict[str, Any], keep: Callable[[SessionSummary], bool]
) -> None:
    expected = sorted(s.session_id for s in all_sessions(filled) if keep(s))
    got = sorted(s.session_id for s in filled.store.list_sessions(1, query(limit=1000, **filters)).items)
    assert got == expected
    assert got


def test_the_dataset_holds_each_lifecycle(filled: Engine) -> None:
    by_id = {s.session_id: s for s in all_sessions(filled)}
    assert not _ended(by_id["live"])
    assert by_id["ended"].end_reason == "user_left"
    assert _dropped(by_id["asked"])
    assert by_id["asked"].last_action == "asked_question"
    assert by_id["broken"].error_count == 2  # the failed LLM call and the failed tool
    assert by_id["journey"].converted


def test_detail_agrees_with_the_list(filled: Engine) -> None:
    for summary in all_sessions(filled):
        detail = filled.store.get_session(1, summary.session_id)
        assert detail is not None
        assert detail.summary == summary
        assert len(detail.turns) == summary.turn_count
        assert [t.start_ns for t in detail.turns] == sorted(t.start_ns for t in detail.turns)
        assert sum(t.span_count for t in detail.turns) <= summary.span_count


def test_turns_carry_their_texts_errors_and_traces(filled: Engine) -> None:
    detail = filled.store.get_session(1, "broken")
    assert detail is not None
    first, second = detail.turns
    assert (first.turn_number, second.turn_number) == (1, 2)
    assert first.error
    assert first.error_message == "HTTP 500 upstream"
    assert second.tool_error
    assert second.tool_error_message == "card_declined"
    assert second.model == "gpt-4o"
    assert first.input == "Where is my order?"
    for turn in detail.turns:
        for trace_id in turn.trace_ids:
            info = filled.store.trace(1, bytes.fromhex(trace_id))
            assert info is not None
            assert info.session_id == "broken"


def test_unknown_ids_are_none(filled: Engine) -> None:
    assert filled.store.get_session(1, "nope") is None
    assert filled.store.get_session(2, "asked") is None  # another project
    assert filled.store.get_user(1, "nobody") is None
    assert filled.store.trace(1, b"\x00" * 16) is None
    assert filled.store.trace_spans(1, b"\x00" * 16) == []


def test_get_sessions_returns_those_stored(filled: Engine) -> None:
    got = filled.store.get_sessions(1, ["asked", "live", "nope"])
    listed = {s.session_id: s for s in all_sessions(filled)}
    assert sorted(got, key=lambda s: s.session_id) == [listed["asked"], listed["live"]]


def test_trace_spans_come_by_start_time_with_costs(filled: Engine) -> None:
    detail = filled.store.get_session(1, "bulk-05")
    assert detail is not None
    spans = filled.store.trace_spans(1, bytes.fromhex(detail.turns[0].trace_ids[0]))
    assert [s.span.start_ns for s in spans] == sorted(s.span.start_ns for s in spans)
    assert {s.category for s in spans} == {"agent", "llm"} or len(spans) == 2
    llm = next(s for s in spans if s.span.parent_span_id)
    assert llm.cost_usd == pytest.approx(0.006)
    assert llm.cost_source == "given"


def test_orphan_traces_are_listed_and_have_no_session(filled: Engine) -> None:
    orphans = every_page(lambda cursor: filled.store.list_orphan_traces(1, 1, cursor))
    assert [o.root_name for o in orphans] == ["nightly-job"]
    info = filled.store.trace(1, orphans[0].trace_id)
    assert info is not None
    assert info.session_id is None
    assert filled.store.orphan_traces_before(1, at(18_000) + 1, 10) == [orphans[0].trace_id]
    assert filled.store.orphan_traces_before(1, at(18_000), 10) == []


def test_stats_are_exact(filled: Engine) -> None:
    sessions = dataset.sessions()
    stats = filled.store.stats(1)
    assert stats.session_count == len(sessions)
    assert stats.span_count == sum(len(s.spans) for s in sessions) + len(dataset.orphan())
    assert stats.trace_count == len({span.trace_id for s in sessions for span in s.spans}) + 1
    assert stats.orphan_trace_count == 1
    assert stats.user_count == len({s.user_id for s in sessions})


@pytest.mark.parametrize("ordering", USER_ORDERINGS)
@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
def test_users_roll_their_sessions_up(filled: Engine, ordering: str, descending: bool) -> None:
    users = every_page(
        lambda cursor: filled.store.list_users(
            1, UserQuery(ordering=ordering, descending=descending, limit=2, after=cursor)
        )
    )
    sessions = all_sessions(filled)
    assert sorted(u.user_id for u in users) == sorted({s.user_id for s in sessions if s.user_id})
    for user in users:
        mine = [s for s in sessions if s.user_id == user.user_id]
        assert user.session_count == len(mine)
        assert user.turn_count == sum(s.turn_count for s in mine)
        assert user.trace_count == sum(s.trace_count for s in mine)
        assert user.error_count == sum(s.error_count for s in mine)
        assert user.input_tokens == sum(s.input_tokens for s in mine)
        assert user.first_ns == min(s.first_ns for s in mine)
        assert user.last_ns == max(s.last_ns for s in mine)
        costs = [s.total_cost_usd for s in mine if s.total_cost_usd is not None]
        assert user.total_cost_usd == (pytest.approx(sum(costs)) if costs else None)
        assert filled.store.get_user(1, user.user_id) == user
    key = {
        "last_seen": lambda u: u.last_ns,
        "first_seen": lambda u: u.first_ns,
        "session_count": lambda u: u.session_count,
        "turn_count": lambda u: u.turn_count,
        "total_cost": lambda u: -1.0 if u.total_cost_usd is None else u.total_cost_usd,
    }[ordering]
    values = [key(u) for u in users]
    assert values == sorted(values, reverse=descending)


def test_user_filters(filled: Engine) -> None:
    returning = filled.store.list_users(1, UserQuery(returning=True, limit=100)).items
    assert {u.user_id for u in returning} == {"ann", "bob", "cy"}
    window = filled.store.list_users(1, UserQuery(since_ns=at(19_800), limit=100)).items
    assert {u.user_id for u in window} == {"dee"}


def _user(users: list[UserSummary], user_id: str) -> UserSummary:
    return next(u for u in users if u.user_id == user_id)


@pytest.mark.parametrize(
    "window",
    [Window(), Window(since_ns=at(15_000)), Window(until_ns=at(5_000)), Window(user_id="ann"), Window(user_id="x")],
    ids=["all", "since", "until", "one user", "no one"],
)
def test_session_analytics_match_the_definitions(filled: Engine, window: Window) -> None:
    rules = Rules(NOW, IDLE_NS)
    got = filled.store.session_analytics(1, window, rules)
    rows = [
        (s.first_ns, s.last_ns, s.duration_ns, s.turn_count, s.total_cost_usd, s.error_count, s.end_reason,
         s.last_action, s.converted, s.client_dropoff, s.last_turn_number, _latencies(filled, s.session_id))
        for s in all_sessions(filled)
        if (window.user_id is None or s.user_id == window.user_id)
        and (window.since_ns is None or s.last_ns >= window.since_ns)
        and (window.until_ns is None or s.first_ns <= window.until_ns)
    ]  # fmt: skip
    expected = analytics.session_analytics(rows, NOW, IDLE_NS)
    assert _rounded(got) == _rounded(expected)


def _latencies(engine: Engine, session_id: str) -> list[int]:
    detail = engine.store.get_session(1, session_id)
    assert detail is not None
    return [max(t.end_ns - t.start_ns, 0) for t in detail.turns]


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits: engines may sum in another order."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if hasattr(value, "__dataclass_fields__"):
        return {name: _rounded(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def test_journey_progress(filled: Engine) -> None:
    progress = filled.store.journey_progress(1, Window())
    assert [(p.name, p.highest_stage, p.total_stages, p.converted) for p in progress] == [("checkout", 3, 3, True)]
    assert filled.store.journey_progress(1, Window(until_ns=at(1_000))) == []


def test_models(filled: Engine) -> None:
    assert filled.store.models(1) == ["gpt-4o", "gpt-4o-mini"]
    assert filled.store.models(2) == []


def test_sessions_going_idle_and_quiet(filled: Engine) -> None:
    sessions = all_sessions(filled)
    low, high = at(15_000), at(19_950)
    expected = sorted(s.session_id for s in sessions if s.end_reason is None and low < s.last_ns <= high)
    assert sorted(filled.store.sessions_going_idle(1, low, high)) == expected
    quiet = filled.store.sessions_quiet_since(1, at(1_000), 100)
    assert quiet == [s.session_id for s in sorted(sessions, key=lambda s: s.last_ns) if s.last_ns < at(1_000)]
    assert len(filled.store.sessions_quiet_since(1, at(30_000), 5)) == 5


def test_idle_timeout_is_remembered(filled: Engine) -> None:
    filled.store.set_idle_timeout_ms(1, 90_000)
    assert filled.store.idle_timeout_ms(1) == 90_000
