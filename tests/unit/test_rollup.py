"""Spans → trace aggregates → turns → sessions (``ingest.rollup``): exact whatever the arrival order."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.server.ingest.normalize import normalize
from threadline.server.ingest.records import RawSpan
from threadline.server.ingest.rollup import INT64_MAX, FoldOptions, fold_session, fold_turn, split_turn, turn_numbers
from threadline.server.ingest.session_state import SessionState
from threadline.server.ingest.trace_agg import TraceAgg, turn_key
from threadline.server.store.sqlite import codec
from unit.spans import span, span_id, trace_id

# --- building traces -----------------------------------------------------------------------------

_CHILD_KINDS = ("llm", "tool", "agent", "log", "other", "retrieval")


def _child(kind: str, n: int, *, start: float, duration: float, tokens: tuple[int, int], model: str, error: bool):
    attrs: dict[str, Any] = {}
    name = f"{kind}-{n}"
    if kind == "llm":
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": tokens[0],
            "gen_ai.usage.output_tokens": tokens[1],
            "gen_ai.input.messages": f'[{{"role": "user", "content": "question {n}"}}]',
            "gen_ai.output.messages": f'[{{"role": "assistant", "content": "answer {n}"}}]',
            "threadline.cost.usd": tokens[0] / 1000,
        }
    elif kind == "log":
        attrs = {
            "logfire.span_type": "log",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": tokens[0],
            "gen_ai.usage.output_tokens": tokens[1],
        }
    elif kind == "tool":
        attrs = {"gen_ai.tool.name": "get_weather", "gen_ai.tool.call.result": f"result {n}"}
    elif kind == "agent":
        attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "helper"}
    elif kind == "retrieval":
        attrs = {"openinference.span.kind": "RETRIEVER", "input.value": f"query {n}"}
    return name, attrs, start, start + duration, 2 if error else 0


_children = st.lists(
    st.tuples(
        st.sampled_from(_CHILD_KINDS),
        st.integers(1, 30),  # start, in tenths of a second (ties allowed)
        st.integers(0, 30),  # duration, in tenths
        st.tuples(st.integers(0, 5000), st.integers(0, 800)),
        st.sampled_from(["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku"]),
        st.booleans(),
    ),
    min_size=0,
    max_size=8,
)


def _trace(children: list[Any], *, with_root: bool = True) -> list[RawSpan]:
    tid = trace_id()
    root_id = span_id()
    spans = []
    if with_root:
        spans.append(
            span(
                {
                    "session.id": "sess",
                    "user.id": "alice",
                    "session.channel": "web",
                    "input.value": "root question",
                    "output.value": "root answer",
                },
                name="turn",
                trace=tid,
                span_id_=root_id,
                start_s=0.0,
                end_s=10.0,
            )
        )
    for n, (kind, start, duration, tokens, model, error) in enumerate(children):
        name, attrs, s, e, status = _child(
            kind, n, start=start / 10, duration=duration / 10, tokens=tokens, model=model, error=error
        )
        spans.append(span(attrs, name=name, trace=tid, parent=root_id, start_s=s, end_s=e, status=status))
    return spans


def _aggregate(spans: list[RawSpan]) -> TraceAgg:
    agg = TraceAgg(spans[0].trace_id)
    for raw in spans:
        agg.add(raw, normalize(raw))
    return agg


def _comparable(agg: TraceAgg) -> TraceAgg:
    """The aggregate with its cost rounded (float addition is not associative)."""
    return dataclasses.replace(agg, cost_usd=round(agg.cost_usd, 9))


# --- TraceAgg ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(children=_children, data=st.data())
def test_trace_aggregate_is_order_independent(children: list[Any], data: st.DataObject) -> None:
    spans = _trace(children)
    permuted = data.draw(st.permutations(spans))
    assert _comparable(_aggregate(permuted)) == _comparable(_aggregate(spans))


@settings(max_examples=100, deadline=None)
@given(children=_children.filter(bool), data=st.data())
def test_trace_aggregate_without_root_is_order_independent(children: list[Any], data: st.DataObject) -> None:
    spans = _trace(children, with_root=False)
    permuted = data.draw(st.permutations(spans))
    assert _comparable(_aggregate(permuted)) == _comparable(_aggregate(spans))


def _two_llm_calls(first: dict[str, Any], second: dict[str, Any], *, start_s: float, end_s: float) -> list[RawSpan]:
    tid, root = trace_id(), span_id()
    return [
        span({"session.id": "s"}, trace=tid, span_id_=root, end_s=10),
        span(first, trace=tid, parent=root, start_s=1, end_s=2),
        span(second, trace=tid, parent=root, start_s=start_s, end_s=end_s),
    ]


def test_models_listed_in_call_order_whatever_the_arrival() -> None:
    spans = _two_llm_calls(
        {"gen_ai.request.model": "gpt-4o-mini"}, {"gen_ai.request.model": "gpt-4o"}, start_s=3, end_s=4
    )
    assert _aggregate(spans[::-1]).models == _aggregate(spans).models == ["gpt-4o-mini", "gpt-4o"]


def test_tied_llm_calls_pick_the_same_input_whatever_the_arrival() -> None:
    spans = _two_llm_calls(
        {"gen_ai.request.model": "m", "input.value": "one"},
        {"gen_ai.request.model": "m", "input.value": "two"},
        start_s=1,
        end_s=2,
    )
    assert _aggregate(spans).input_text == _aggregate(spans[::-1]).input_text


def test_tied_llm_calls_give_the_same_context_tokens_whatever_the_arrival() -> None:
    spans = _two_llm_calls(
        {"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 1},
        {"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 2},
        start_s=1.5,
        end_s=2,
    )
    assert _aggregate(spans).last_llm_input_tokens == _aggregate(spans[::-1]).last_llm_input_tokens


def test_trace_aggregate_counts() -> None:
    spans = _trace(
        [
            ("llm", 1, 5, (100, 20), "gpt-4o-mini", False),
            ("tool", 7, 1, (0, 0), "", False),
            ("llm", 9, 5, (150, 30), "gpt-4o", True),
            ("log", 9, 0, (15, 3), "gpt-4o-mini", False),
            ("agent", 0, 20, (0, 0), "", False),
            ("tool", 15, 1, (0, 0), "", True),
        ]
    )
    agg = _aggregate(spans)
    assert (agg.span_count, agg.llm_call_count, agg.tool_call_count, agg.agent_run_count) == (7, 2, 2, 1)
    assert (agg.input_tokens, agg.output_tokens) == (265, 53)  # the log span's usage counts once
    assert agg.error
    assert agg.tool_error
    assert agg.error_span_count == 2
    assert agg.models == ["gpt-4o-mini", "gpt-4o"]
    assert agg.cost_usd == pytest.approx(0.25)
    assert (agg.priced_given, agg.unpriced_calls) == (2, 0)
    assert (agg.input_text, agg.output_text) == ("root question", "root answer")
    assert agg.user_id == "alice"
    assert agg.seed == {"session.id": "sess", "session.channel": "web"}
    assert agg.last_llm_input_tokens == 150
    assert (agg.has_root, agg.root_name) == (True, "turn")


def test_text_comes_from_llm_when_root_has_none() -> None:
    tid, root = trace_id(), span_id()
    spans = [
        span({"session.id": "s"}, name="turn", trace=tid, span_id_=root, end_s=10),
        span(
            {"gen_ai.request.model": "m", "gen_ai.input.messages": '[{"role": "user", "content": "q1"}]'},
            trace=tid,
            parent=root,
            start_s=1,
            end_s=2,
        ),
        span(
            {
                "gen_ai.request.model": "m",
                "gen_ai.input.messages": '[{"role": "user", "content": "q2"}]',
                "gen_ai.output.messages": '[{"role": "assistant", "content": "final"}]',
            },
            trace=tid,
            parent=root,
            start_s=3,
            end_s=4,
        ),
        span({"gen_ai.tool.name": "t", "gen_ai.tool.call.result": "tool says"}, trace=tid, parent=root, start_s=5),
    ]
    agg = _aggregate(spans)
    assert (agg.input_text, agg.output_text) == ("q1", "final")


def test_plain_text_beats_structured_output() -> None:
    tid, root = trace_id(), span_id()
    spans = [
        span({"output.value": '{"result": 1}'}, trace=tid, span_id_=root, end_s=10),
        span({"gen_ai.request.model": "m", "output.value": "plain"}, trace=tid, parent=root, end_s=5),
    ]
    assert _aggregate(spans).output_text == "plain"


# --- turns ---------------------------------------------------------------------------------------


def _turn_spans(
    start_s: float,
    *,
    turn: int | None = None,
    tokens: int = 10,
    error: bool = False,
    text: str = "",
    marked: bool = False,
    turn_id: str | None = None,
    stamped: bool = False,
) -> list[RawSpan]:
    """A root (with the user's ``text`` as input, if any; ``marked`` as the SDK's turn span) and an LLM call
    under it; ``stamped``: the call names the session and the turn number too."""
    attrs: dict[str, Any] = {"session.id": "sess", "user.id": "bob"}
    if turn is not None:
        attrs["turn.number"] = turn
    if text:
        attrs["input.value"] = text
        attrs["output.value"] = f"answer to {text}"
    if marked:
        attrs["threadline.span.kind"] = "turn"
    if turn_id is not None:
        attrs["turn.id"] = turn_id
    call: dict[str, Any] = {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": tokens,
        "gen_ai.usage.output_tokens": 1,
    }
    if stamped:
        call["session.id"] = "sess"
        if turn is not None:
            call["conversation.turn_number"] = turn
    tid = trace_id()
    root = span_id()
    return [
        span(
            attrs,
            name="turn",
            trace=tid,
            span_id_=root,
            start_s=start_s,
            end_s=start_s + 1,
            status=2 if error else 0,
            status_message="failed" if error else "",
        ),
        span(call, trace=tid, parent=root, start_s=start_s + 0.1, end_s=start_s + 0.9),
    ]


def _turn_trace(
    start_s: float, *, turn: int | None = None, tokens: int = 10, error: bool = False, text: str = "", **marks: Any
) -> TraceAgg:
    return _aggregate(_turn_spans(start_s, turn=turn, tokens=tokens, error=error, text=text, **marks))


def test_fold_turn_sums_traces_that_share_a_turn_number() -> None:
    first = _turn_trace(0, turn=2, tokens=10, text="hello")
    second = _turn_trace(5, turn=2, tokens=20, error=True)
    rollup = fold_turn("sess", turn_key(first), [second, first])
    assert rollup.key == "n:2"
    assert rollup.number == 2
    assert rollup.trace_ids == [first.trace_id, second.trace_id]
    assert (rollup.llm_call_count, rollup.input_tokens, rollup.output_tokens) == (2, 30, 2)
    assert rollup.error
    assert rollup.error_message == "failed"
    assert (rollup.input_text, rollup.output_text) == ("hello", "answer to hello")
    assert rollup.input_trace_id == first.trace_id
    assert rollup.latency_ms == pytest.approx(6000)
    assert rollup.context_tokens == 20  # input tokens of the turn's last LLM call
    assert rollup.user_id == "bob"
    assert rollup.explicit_number


def test_turn_key_explicit_or_trace() -> None:
    assert turn_key(_turn_trace(0, turn=3)) == "n:3"
    derived = _turn_trace(0)
    assert turn_key(derived) == f"t:{derived.trace_id.hex()}"


# --- turns that declare the same number ---------------------------------------------------------


def _members(turns: dict[str, list[TraceAgg]]) -> dict[str, list[bytes]]:
    return {key: sorted(t.trace_id for t in traces) for key, traces in turns.items()}


def test_turn_roots_with_their_own_input_collide() -> None:
    first, second = _turn_trace(0, turn=1, text="a1"), _turn_trace(10, turn=1, text="b1")
    turns = split_turn("n:1", [second, first])
    assert _members(turns) == {
        f"n:1/t:{first.trace_id.hex()}": [first.trace_id],
        f"n:1/t:{second.trace_id.hex()}": [second.trace_id],
    }


def test_one_turn_root_and_traces_without_their_own_input_form_one_turn() -> None:
    opener, agent_run = _turn_trace(0, turn=1, text="hi"), _turn_trace(0.5, turn=1)
    assert (opener.opens_turn, agent_run.opens_turn) == (True, False)
    assert _members(split_turn("n:1", [agent_run, opener])) == {"n:1": sorted([opener.trace_id, agent_run.trace_id])}


def test_traces_without_a_turn_root_join_the_latest_turn_started_at_or_before_them() -> None:
    first, second = _turn_trace(10, turn=1, text="a"), _turn_trace(20, turn=1, text="b")
    early, between, tied, late = (_turn_trace(s, turn=1) for s in (5, 15, 20, 40))
    turns = split_turn("n:1", [late, second, tied, early, first, between])
    assert _members(turns) == {
        f"n:1/t:{first.trace_id.hex()}": sorted([first.trace_id, early.trace_id, between.trace_id]),
        f"n:1/t:{second.trace_id.hex()}": sorted([second.trace_id, tied.trace_id, late.trace_id]),
    }


def test_sdk_turn_roots_outrank_roots_that_only_carry_input() -> None:
    """An agent framework's own root trace inside an SDK turn may carry the user's input: it joins."""
    sdk_turn, framework = _turn_trace(0, turn=1, text="hi", marked=True), _turn_trace(0.2, turn=1, text="hi")
    assert _members(split_turn("n:1", [framework, sdk_turn])) == {
        "n:1": sorted([sdk_turn.trace_id, framework.trace_id])
    }
    other_process = _turn_trace(30, turn=1, marked=True)  # content capture off: no input, still a turn root
    assert len(split_turn("n:1", [framework, sdk_turn, other_process])) == 2


def test_turn_roots_sharing_a_turn_id_are_one_turn() -> None:
    one, two, other = (_turn_trace(s, turn=1, text=f"q{s}", turn_id=i) for s, i in ((0, "x"), (5, "x"), (9, "y")))
    assert _members(split_turn("n:1", [one, two])) == {"n:1": sorted([one.trace_id, two.trace_id])}
    assert _members(split_turn("n:1", [other, two, one])) == {
        "n:1/i:x": sorted([one.trace_id, two.trace_id]),
        "n:1/i:y": [other.trace_id],
    }


def test_session_events_are_never_turn_roots() -> None:
    event = TraceAgg(trace_id())
    root = span({"threadline.span.kind": "session_event", "session.id": "s", "turn.id": "x", "input.value": "hi"})
    event.add(root, normalize(root))
    assert not event.opens_turn


def _numbered(state: SessionState) -> list[tuple[int, str | None]]:
    return [(t.number, t.input_text) for t in sorted(state.turns.values(), key=lambda t: t.start_ns)]


def test_colliding_numbers_renumber_the_conversation_by_start_time() -> None:
    traces = [_turn_trace(s, turn=n, text=f"{p}{n}") for p, offset in (("a", 0), ("b", 10)) for n, s in
              ((1, offset), (2, offset + 20), (3, offset + 40))]  # fmt: skip
    state = SessionState(1, "sess", traces)
    state.refresh()
    assert _numbered(state) == [(1, "a1"), (2, "b1"), (3, "a2"), (4, "b2"), (5, "a3"), (6, "b3")]
    assert state.rederived == {"sess"}
    assert state.rollup is not None
    assert (state.rollup.turn_count, state.rollup.input_tokens) == (6, 60)


def test_numbers_that_do_not_collide_stay_as_declared() -> None:
    state = SessionState(1, "sess", [_turn_trace(0, turn=2, text="x"), _turn_trace(5, turn=1), _turn_trace(9)])
    state.refresh()
    assert [t.number for t in sorted(state.turns.values(), key=lambda t: t.start_ns)] == [2, 1, 3]
    assert state.rederived == set()


def test_turn_numbers_rule() -> None:
    declared = [fold_turn("c", f"n:{n}", [_turn_trace(s, turn=n)]) for s, n in ((0, 4), (1, 2))]
    derived = fold_turn("c", "t:ab", [_turn_trace(2)])
    assert turn_numbers([*declared, derived]) == [4, 2, 3]
    split = fold_turn("c", "n:4/t:cd", [_turn_trace(3, turn=4)])
    assert turn_numbers([*declared, derived, split]) == [1, 2, 3, 4]


def test_a_late_root_splits_the_turn_its_children_joined() -> None:
    """The children of process B's turn 1 (stamped with the number) arrive first and join A's turn 1; B's
    root arrives: the turn splits, the merged row is deleted and both halves are written."""
    first = _turn_trace(0, turn=1, text="a1")
    spans = _turn_spans(10, turn=1, text="b1", stamped=True)
    late = _aggregate(spans[1:])
    state = SessionState(1, "sess", [first, late])
    state.refresh()
    assert [(t.key, len(t.trace_ids)) for t in state.turns.values()] == [("n:1", 2)]
    state.update(_aggregate(spans))
    written, removed = state.refresh()
    keys = {f"n:1/t:{first.trace_id.hex()}", f"n:1/t:{late.trace_id.hex()}"}
    assert removed == [("sess", "n:1")]
    assert {t.key for t in written} == keys
    assert _numbered(state) == [(1, "a1"), (2, "b1")]
    assert state.rederived == {"sess"}


_TRACE_SPECS = st.lists(
    st.tuples(
        st.integers(0, 6),  # start, in tens of seconds (ties allowed)
        st.sampled_from([None, 1, 1, 2]),  # declared number
        st.sampled_from(["input", "marked", "none", "turn_id"]),  # what the root says
        st.booleans(),  # the children arrive before the root
    ),
    min_size=1,
    max_size=6,
)


def _spec_trace(start: int, number: int | None, root: str) -> list[RawSpan]:
    marks: dict[str, Any] = {"marked": root == "marked", "turn_id": "same" if root == "turn_id" else None}
    return _turn_spans(start * 10, turn=number, text="q" if root == "input" else "", stamped=True, **marks)


@settings(max_examples=150, deadline=None)
@given(specs=_TRACE_SPECS, data=st.data())
def test_turns_and_their_writes_are_the_same_whatever_the_order(specs: list[Any], data: st.DataObject) -> None:
    """Any order, roots after their children included: the same turns, and the writes and deletes
    ``refresh`` returns keep a copy of the turns (what the store holds) exact."""
    traces = [_spec_trace(start, number, root) for start, number, root, _ in specs]
    steps = [spans[1:] for spans, spec in zip(traces, specs, strict=True) if spec[3]] + traces
    order = list(data.draw(st.permutations(steps)))
    for spans in traces:  # a trace's children alone come before the whole trace
        whole = order.index(spans)
        children = order.index(spans[1:]) if spans[1:] in order else whole
        if children > whole:
            order[whole], order[children] = order[children], order[whole]
    state = SessionState(1, "sess")
    stored: dict[Any, tuple[int, list[bytes]]] = {}
    for step in order:
        state.update(_aggregate(step))
        written, removed = state.refresh()
        assert not {(t.conversation_id, t.key) for t in written} & set(removed)
        for turn_id in removed:
            del stored[turn_id]
        stored.update({(t.conversation_id, t.key): (t.number, sorted(t.trace_ids)) for t in written})
    fresh = SessionState(1, "sess", [_aggregate(spans) for spans in traces])
    fresh.refresh()
    expected = {tid: (t.number, sorted(t.trace_ids)) for tid, t in fresh.turns.items()}
    assert {tid: (t.number, sorted(t.trace_ids)) for tid, t in state.turns.items()} == expected
    assert stored == expected


# --- sessions ------------------------------------------------------------------------------------


def test_derived_turn_numbers_follow_start_time_whatever_the_arrival_order() -> None:
    traces = [_turn_trace(30, text="third"), _turn_trace(10, text="first"), _turn_trace(20, text="second")]
    state = SessionState(1, "sess")
    for trace in traces:
        state.update(trace)
        state.refresh()
    turns = sorted(state.turns.values(), key=lambda t: t.number)
    assert [(t.number, t.input_text) for t in turns] == [(1, "first"), (2, "second"), (3, "third")]
    assert state.rollup is not None
    assert (state.rollup.turn_count, state.rollup.first_input) == (3, "first")
    assert state.rollup.last_output == "answer to third"


def test_explicit_turn_numbers_are_kept() -> None:
    state = SessionState(1, "sess", [_turn_trace(10, turn=5, text="five"), _turn_trace(20, turn=7, text="seven")])
    state.refresh()
    assert sorted(t.number for t in state.turns.values()) == [5, 7]


def test_trace_rekeyed_when_its_explicit_turn_number_arrives_late() -> None:
    early = _turn_trace(10, turn=1, text="one")
    state = SessionState(1, "sess", [early])
    state.refresh()
    # A trace whose children arrived first: no turn number yet, so it is a turn of its own.
    late = TraceAgg(trace_id())
    child = span({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 7}, trace=late.trace_id, parent=span_id())
    late.add(child, normalize(child))
    late.start_ns = early.start_ns + 1
    state.update(late)
    state.refresh()
    assert len(state.turns) == 2
    # Its root arrives, naming turn 1: the trace joins turn 1 and its own turn is deleted.
    root = span({"session.id": "sess", "turn.number": 1}, trace=late.trace_id, start_s=10.5, end_s=11)
    late.add(root, normalize(root))
    state.update(late)
    written, removed = state.refresh()
    assert removed == [("sess", f"t:{late.trace_id.hex()}")]
    assert [t.key for t in written] == ["n:1"]
    (turn,) = state.turns.values()
    assert turn.trace_ids == [early.trace_id, late.trace_id]
    assert turn.input_tokens == 17
    assert state.rollup is not None
    assert (state.rollup.turn_count, state.rollup.trace_count) == (1, 2)


def test_session_events_are_not_turns() -> None:
    event_trace = TraceAgg(trace_id())
    root = span(
        {"threadline.span.kind": "session_event", "session.id": "sess", "session.end_reason": "user_left"},
        trace=event_trace.trace_id,
        start_s=100,
        end_s=100,
    )
    event_trace.add(root, normalize(root))
    state = SessionState(1, "sess", [_turn_trace(10, text="hi"), event_trace])
    state.refresh()
    assert len(state.turns) == 1
    assert state.rollup is not None
    assert state.rollup.turn_count == 1
    assert state.rollup.trace_count == 2
    assert state.rollup.attributes["session.end_reason"] == "user_left"
    assert state.rollup.last_ns == event_trace.end_ns


def test_session_with_only_an_event_exists_without_turns() -> None:
    event_trace = TraceAgg(trace_id())
    root = span(
        {"threadline.span.kind": "session_event", "session.id": "s", "session.end_reason": "closed"},
        trace=event_trace.trace_id,
    )
    event_trace.add(root, normalize(root))
    state = SessionState(1, "s", [event_trace])
    written, removed = state.refresh()
    assert (written, removed) == ([], [])
    assert state.rollup is not None
    assert (state.rollup.turn_count, state.rollup.trace_count, state.rollup.end_reason) == (0, 1, "closed")
    assert state.rollup.last_action is None


def test_session_rollup_totals_and_errors() -> None:
    traces = [_turn_trace(10, tokens=5), _turn_trace(20, tokens=6, error=True), _turn_trace(30, tokens=7)]
    state = SessionState(1, "sess", traces)
    state.refresh()
    rollup = state.rollup
    assert rollup is not None
    assert (rollup.turn_count, rollup.llm_call_count, rollup.input_tokens, rollup.output_tokens) == (3, 3, 18, 3)
    assert (rollup.errored_turn_count, rollup.error_count) == (1, 1)
    assert rollup.user_id == "bob"
    assert rollup.models == ["gpt-4o-mini"]
    assert rollup.cost_usd is None
    assert rollup.unpriced_calls == 3


def test_a_call_without_usage_is_not_counted_as_unpriced() -> None:
    """A streamed request span whose usage sits elsewhere (Logfire) has nothing to price."""
    tid, root = trace_id(), span_id()
    spans = [
        span({"session.id": "s"}, trace=tid, span_id_=root, end_s=10),
        span({"gen_ai.request.model": "mystery-model"}, trace=tid, parent=root, start_s=1, end_s=2),
        span(
            {"gen_ai.request.model": "mystery-model", "gen_ai.usage.input_tokens": 5},
            trace=tid,
            parent=root,
            start_s=3,
            end_s=4,
        ),
    ]
    agg = _aggregate(spans)
    assert agg.llm_call_count == 2
    assert agg.unpriced_calls == 1


# --- saturation ----------------------------------------------------------------------------------

_HUGE = 5 * 10**18
"""Twice this overflows int64: no single span can carry it (counts are believed up to 10^10), but stored sums
must saturate rather than overflow whatever they add up."""


def _huge_trace(start_s: float, turn: int) -> TraceAgg:
    agg = _turn_trace(start_s, turn=turn)
    for name in ("span_count", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"):
        setattr(agg, name, _HUGE)
    return agg


def test_turn_and_session_sums_saturate_at_int64() -> None:
    traces = [_huge_trace(0, 1), _huge_trace(5, 1), _huge_trace(10, 2), _huge_trace(15, 2)]
    turns = [fold_turn("sess", "n:1", traces[:2]), fold_turn("sess", "n:2", traces[2:])]
    for turn in turns:
        assert (turn.span_count, turn.input_tokens, turn.cache_read_tokens) == (INT64_MAX,) * 3
    session = fold_session(turns, traces, FoldOptions())
    assert (session.span_count, session.input_tokens, session.output_tokens) == (INT64_MAX,) * 3
    assert session.total_tokens == INT64_MAX
    assert session.duration_ns == 16 * 10**9


def test_trace_rows_saturate_their_sums() -> None:
    agg = _huge_trace(0, 1)
    agg.input_tokens = agg.span_count = 3 * _HUGE
    columns = codec.encode_trace(agg)
    assert columns[codec.TRACE_COLUMNS.index("span_count")] == INT64_MAX
    assert orjson.loads(columns[-1])["input_tokens"] == INT64_MAX
