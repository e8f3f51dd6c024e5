"""The write half of the contract: spans in any order and any number of times give the same sessions; log
events join their spans; erasure and expiry leave every count exact."""

from __future__ import annotations

import random

import pytest

from store_contract import dataset
from store_contract.conftest import Engine, at
from support.otlp import SpanSpec, new_span_id, new_trace_id
from support.scenario import Session
from threadline.server.ingest.logs import LogEvent
from threadline.server.store.base import SessionQuery, UserQuery
from threadline.server.store.records import SessionSummary, Stats


def summaries(engine: Engine, project_id: int = 1) -> dict[str, SessionSummary]:
    return {s.session_id: s for s in engine.store.list_sessions(project_id, SessionQuery(limit=1000)).items}


def turns(engine: Engine, session_id: str, project_id: int = 1) -> list[tuple[int, str | None, str | None, int]]:
    detail = engine.store.get_session(project_id, session_id)
    assert detail is not None
    return [(t.turn_number, t.input, t.output, t.span_count) for t in detail.turns]


def test_retried_batches_change_nothing(engine: Engine) -> None:
    spans = [span for s in dataset.sessions()[:6] for span in s.spans]
    engine.send(spans)
    before, stats = summaries(engine), engine.store.stats(1)
    engine.send(spans)
    engine.send(spans[: len(spans) // 2])
    assert summaries(engine) == before
    assert engine.store.stats(1) == stats


def test_any_order_and_any_split_give_the_same_sessions(engine: Engine) -> None:
    """The same spans into two projects: in order at once, and shuffled in small requests."""
    twin = engine.store.create_project("twin", at(0)).id
    sessions = dataset.sessions()
    spans = [span for s in sessions for span in s.spans]
    engine.send(spans)
    shuffled = spans[:]
    random.Random(7).shuffle(shuffled)
    for start in range(0, len(shuffled), 9):
        engine.send(shuffled[start : start + 9], project_id=twin)
    assert summaries(engine, twin) == summaries(engine)
    for session in ("bulk-07", "broken", "journey", "ended"):
        assert turns(engine, session, twin) == turns(engine, session)
    assert engine.store.stats(twin) == engine.store.stats(1)


def test_children_before_their_root_are_adopted(engine: Engine) -> None:
    session = Session("late-root").turn(100)
    root, llm = session.spans
    engine.send([llm])
    assert engine.store.stats(1).orphan_trace_count == 1
    engine.send([root])
    stats = engine.store.stats(1)
    assert (stats.orphan_trace_count, stats.session_count, stats.trace_count, stats.span_count) == (0, 1, 1, 2)
    assert summaries(engine)["late-root"].llm_call_count == 1
    info = engine.store.trace(1, root.trace_id)
    assert info is not None
    assert info.session_id == "late-root"


@pytest.mark.parametrize("events_first", [False, True], ids=["spans-then-events", "events-then-spans"])
def test_log_events_join_their_span_whichever_comes_first(engine: Engine, events_first: bool) -> None:
    trace_id = new_trace_id()
    root = SpanSpec(trace_id, name="turn", end_s=2, attributes={"session.id": "s-logs", "user.id": "u"})
    llm = SpanSpec(
        trace_id, parent_span_id=root.span_id, name="chat", start_s=0.5, end_s=1.5,
        attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"},
    )  # fmt: skip
    events = [
        LogEvent(trace_id, llm.span_id, at(0.6), "gen_ai.user.message", {"content": "Is it sunny in Lyon?"}),
        LogEvent(trace_id, llm.span_id, at(1.4), "gen_ai.choice", {"message": {"content": "Yes, 24°C."}}),
    ]
    if events_first:
        engine.attach(events)
        engine.send([root, llm])
    else:
        engine.send([root, llm])
        changed = engine.attach(events)
        assert changed.sessions == {"s-logs"}
    summary = summaries(engine)["s-logs"]
    assert (summary.first_input, summary.last_output) == ("Is it sunny in Lyon?", "Yes, 24°C.")
    spans = engine.store.trace_spans(1, trace_id)
    names = [e.name for s in spans for e in s.span.events]
    assert sorted(names) == ["gen_ai.choice", "gen_ai.user.message"]
    engine.attach(events)  # sent again: nothing doubles
    assert len([e for s in engine.store.trace_spans(1, trace_id) for e in s.span.events]) == 2


def test_projects_are_apart(engine: Engine) -> None:
    other = engine.store.create_project("other", at(0)).id
    engine.send(Session("mine", user_id="ann").turn(0).spans, project_id=1)
    engine.send(Session("theirs", user_id="ann").turn(0).spans, project_id=other)
    assert list(summaries(engine, 1)) == ["mine"]
    assert list(summaries(engine, other)) == ["theirs"]
    assert engine.store.get_session(1, "theirs") is None
    assert engine.store.stats(other).session_count == 1
    assert engine.store.stats(1).session_count == 1
    assert [u.user_id for u in engine.store.list_users(other, UserQuery()).items] == ["ann"]


def test_commits_report_the_sessions_they_changed(engine: Engine) -> None:
    changed = engine.send(Session("a").turn(0).spans + Session("b").turn(5).spans)
    assert changed.sessions == {"a", "b"}
    assert {s for c in engine.commits for s in c.sessions} >= {"a", "b"}


def _counts(engine: Engine) -> Stats:
    return engine.store.stats(1)


def test_erasing_a_session_keeps_every_count_exact(engine: Engine) -> None:
    for s in dataset.sessions()[:4]:
        engine.send(s.spans)
    ann_before = engine.store.get_user(1, "ann")
    victim = summaries(engine)["bulk-00"]
    erased = engine.erase_session("bulk-00")
    assert erased is not None
    assert erased.sessions == ["bulk-00"]
    assert erased.spans == victim.span_count
    assert len(erased.trace_ids) == victim.trace_count
    assert engine.store.get_session(1, "bulk-00") is None
    assert "bulk-00" not in summaries(engine)
    remaining = list(summaries(engine).values())
    stats = _counts(engine)
    assert stats.session_count == len(remaining)
    assert stats.span_count == sum(s.span_count for s in remaining)
    assert stats.trace_count == sum(s.trace_count for s in remaining)
    ann = engine.store.get_user(1, "ann")
    assert ann_before is not None
    assert ann is not None
    assert ann.session_count == ann_before.session_count - 1
    assert engine.erase_session("bulk-00") is None


def test_erasing_a_user_takes_their_sessions_and_orphans(engine: Engine) -> None:
    engine.send(Session("s1", user_id="ann").turn(0).turn(10).spans)
    engine.send(Session("s2", user_id="ann-hashed").turn(20).spans)
    engine.send(Session("s3", user_id="bob").turn(30).spans)
    orphan = SpanSpec(new_trace_id(), name="job", start_s=40, end_s=41, attributes={"user.id": "ann"})
    engine.send([orphan])
    erased = engine.erase_user("ann", "ann-hashed")
    assert sorted(erased.sessions) == ["s1", "s2"]
    assert orphan.trace_id in erased.trace_ids
    assert list(summaries(engine)) == ["s3"]
    assert engine.store.get_user(1, "ann") is None
    assert [u.user_id for u in engine.store.list_users(1, UserQuery()).items] == ["bob"]
    stats = _counts(engine)
    assert (stats.session_count, stats.trace_count, stats.span_count, stats.orphan_trace_count, stats.user_count) == (
        1, 1, 2, 0, 1,
    )  # fmt: skip


def test_expiry_spares_what_moved_since(engine: Engine) -> None:
    engine.send(Session("old", user_id="ann").turn(0).spans)
    engine.send(Session("revived", user_id="ann").turn(0).spans)
    engine.send([SpanSpec(new_trace_id(), name="old-job", start_s=1, end_s=2)])
    engine.send(Session("revived", user_id="ann").turn(5_000).spans)
    quiet = engine.store.sessions_quiet_since(1, at(1_000), 10)
    assert quiet == ["old"]
    erased = engine.run(engine.writer.expire_sessions(1, ["old", "revived"], at(1_000)))
    assert erased.sessions == ["old"]
    orphans = engine.store.orphan_traces_before(1, at(1_000), 10)
    gone = engine.run(engine.writer.expire_orphan_traces(1, orphans, at(1_000)))
    assert gone.trace_ids == orphans
    stats = _counts(engine)
    assert (stats.session_count, stats.orphan_trace_count, stats.user_count) == (1, 0, 1)
    ann = engine.store.get_user(1, "ann")
    assert ann is not None
    assert ann.session_count == 1
    assert ann.turn_count == 2


def test_a_span_after_erasure_starts_the_session_again(engine: Engine) -> None:
    engine.send(Session("phoenix").turn(0).spans)
    engine.erase_session("phoenix")
    engine.send(Session("phoenix").turn(100).spans)
    summary = summaries(engine)["phoenix"]
    assert summary.turn_count == 1
    assert summary.first_ns == at(100)


def test_a_span_of_a_stored_trace_refolds_its_turn(engine: Engine) -> None:
    session = Session("grows").turn(0)
    engine.send(session.spans)
    root = session.spans[0]
    extra = SpanSpec(
        root.trace_id, span_id=new_span_id(), parent_span_id=root.span_id, name="execute_tool search",
        start_s=0.5, end_s=0.7, attributes={"gen_ai.tool.name": "search"},
    )  # fmt: skip
    engine.send([extra])
    summary = summaries(engine)["grows"]
    assert (summary.span_count, summary.tool_call_count, summary.trace_count, summary.turn_count) == (3, 1, 1, 1)
