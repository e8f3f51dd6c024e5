"""Tricky span sets (traces naming several sessions, roots late or missing, colliding turn numbers, session
events, errors, GenAI log events), in random orders and splits through two servers at once: the stored
sessions are what folding the whole set at once gives."""

from __future__ import annotations

import copy
import random
import threading
from pathlib import Path
from typing import Any

from store_clickhouse.feed import Fed, all_sessions, clickhouse, prepare, rounded
from support.otlp import SpanSpec, new_trace_id, request
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.records import RawSpan
from threadline.server.ingest.rollup import FoldOptions
from threadline.server.ingest.session_state import SessionState
from threadline.server.store.base import SessionQuery
from threadline.server.store.clickhouse import codec
from threadline.server.store.clickhouse.fold import EventCopy, SpanCopy, TraceItems, fold_trace
from threadline.server.store.clickhouse.store import ClickHouseStore
from threadline.server.store.records import SessionDetail, SessionSummary, TurnRecord

SESSIONS = ("a", "b", "c")


def generate(rng: random.Random) -> tuple[list[RawSpan], list[LogEvent]]:
    specs: list[SpanSpec] = []
    for number in range(14):
        trace_id = new_trace_id()
        start = rng.uniform(0, 600)
        root = SpanSpec(trace_id, name="turn", start_s=start, end_s=start + rng.uniform(1, 30))
        attrs: dict[str, Any] = {"input.value": f"question {number}", "output.value": f"answer {number}?"}
        if rng.random() < 0.8:
            attrs["session.id"] = rng.choice(SESSIONS)
        if rng.random() < 0.5:
            attrs["user.id"] = rng.choice(("ann", "bob"))
        if rng.random() < 0.4:
            attrs["conversation.turn_number"] = rng.randint(1, 3)
        if rng.random() < 0.2:
            attrs["turn.id"] = f"t{rng.randint(1, 3)}"
        if rng.random() < 0.1:
            attrs = {"session.id": rng.choice(SESSIONS), "threadline.span.kind": "session_event",
                     "session.end_reason": "user_left"}  # fmt: skip
        if rng.random() < 0.85:
            specs.append(SpanSpec(trace_id, span_id=root.span_id, name="turn", start_s=root.start_s,
                                  end_s=root.end_s, attributes=attrs))  # fmt: skip
        for child in range(rng.randint(1, 4)):
            at = root.start_s + rng.uniform(0, 1)
            child_attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                           "gen_ai.usage.input_tokens": rng.randint(1, 500),
                                           "gen_ai.usage.output_tokens": rng.randint(1, 50)}  # fmt: skip
            if rng.random() < 0.3:
                child_attrs["session.id"] = rng.choice(SESSIONS)
            if rng.random() < 0.2:
                child_attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
            error = "boom" if rng.random() < 0.15 else None
            specs.append(SpanSpec(trace_id, parent_span_id=root.span_id, name=f"step {child}", start_s=at,
                                  end_s=at + rng.uniform(0, 2), attributes=child_attrs, error=error))  # fmt: skip
    spans = decode_protobuf(request(*specs)).spans
    events = [
        LogEvent(s.trace_id, s.span_id, s.start_ns + 1, "gen_ai.choice", {"message": {"content": f"said {i}"}})
        for i, s in enumerate(spans)
        if s.parent_span_id is not None and rng.random() < 0.3
    ]
    return spans, events


def reference(spans: list[RawSpan], events: list[LogEvent]) -> tuple[dict[str, Any], list[bytes]]:
    """Every session and orphan, folded from the whole set at once."""
    traces: dict[bytes, TraceItems] = {}
    for span, facts in prepare(copy.deepcopy(spans)):
        digest = codec.span_row(1, span, facts)[6]
        traces.setdefault(span.trace_id, TraceItems(span.trace_id)).add_span(SpanCopy(span, facts, digest))
    for event in events:
        digest = codec.event_row(1, event)[6]
        traces.setdefault(event.trace_id, TraceItems(event.trace_id)).add_event(EventCopy(event, digest))
    homes: dict[str, list[Any]] = {}
    orphans = []
    for items in traces.values():
        if not items.has_spans:
            continue
        fold = fold_trace(items, prepare)
        if fold.home is None:
            orphans.append(fold.trace_id)
        else:
            homes.setdefault(fold.home, []).append(fold.agg)
    sessions = {}
    for session_id, aggs in homes.items():
        state = SessionState(0, session_id, sorted(aggs, key=lambda a: a.trace_id), FoldOptions())
        state.refresh()
        assert state.rollup is not None
        turns = sorted(state.turns.values(), key=lambda t: (t.start_ns, t.number))
        detail = SessionDetail(SessionSummary.of(session_id, state.rollup), tuple(TurnRecord.of(t) for t in turns))
        sessions[session_id] = rounded(detail)
    return sessions, sorted(orphans)


def send(fed: Fed, jobs: list[Any], project_id: int, failures: list[BaseException]) -> None:
    """Each job: spans to write (its own copies) or log events to attach."""
    try:
        for job in jobs:
            if isinstance(job[0], LogEvent):
                fed.attach(job, project_id)
            else:
                fed.write(prepare(copy.deepcopy(job)), project_id)
    except BaseException as exc:
        failures.append(exc)


def test_random_orders_through_two_servers_give_the_fold_of_the_whole_set(ch_path: Path) -> None:
    with clickhouse(ch_path) as first:
        second = Fed(ClickHouseStore(f"chdb://{ch_path}"))
        try:
            for project_id in (1, 2, 3, 4, 5):
                rng = random.Random(project_id)
                spans, events = generate(rng)
                expected, orphans = reference(spans, events)
                work: list[list[RawSpan] | list[LogEvent]] = []
                shuffled = list(spans)
                rng.shuffle(shuffled)
                while shuffled:
                    size = rng.randint(1, 5)
                    work.append(shuffled[:size])
                    shuffled = shuffled[size:]
                for event in events:
                    work.insert(rng.randrange(len(work) + 1), [event])
                halves: list[list[Any]] = [work[0::2], work[1::2]]
                failures: list[BaseException] = []

                threads = [
                    threading.Thread(target=send, args=(fed, jobs, project_id, failures))
                    for fed, jobs in zip((first, second), halves, strict=True)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert not failures
                stored = {s.session_id for s in all_sessions(first.store, SessionQuery(limit=100), project_id)}
                assert stored == set(expected)
                for session_id, detail in expected.items():
                    assert rounded(first.store.get_session(project_id, session_id)) == detail, (project_id, session_id)
                listed = sorted(t.trace_id for t in first.store.list_orphan_traces(project_id, 100).items)
                assert listed == orphans
                stats = first.store.stats(project_id)
                assert stats.span_count == len(spans)
                assert stats.session_count == len(expected)
                assert stats.orphan_trace_count == len(orphans)
        finally:
            second.close()
