"""Spans → trace aggregates → turns → sessions (``ingest.rollup``): exact whatever the arrival order."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.server.ingest.normalize import normalize
from threadline.server.ingest.records import RawSpan
from threadline.server.ingest.rollup import fold_turn
from threadline.server.ingest.session_state import SessionState
from threadline.server.ingest.trace_agg import TraceAgg, turn_key
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


def _turn_trace(
    start_s: float, *, turn: int | None = None, tokens: int = 10, error: bool = False, text: str = ""
) -> TraceAgg:
    attrs: dict[str, Any] = {"session.id": "sess", "user.id": "bob"}
    if turn is not None:
        attrs["turn.number"] = turn
    if text:
        attrs["input.value"] = text
        attrs["output.value"] = f"answer to {text}"
    tid = trace_id()
    root = span_id()
    spans = [
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
        span(
            {
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": tokens,
                "gen_ai.usage.output_tokens": 1,
            },
            trace=tid,
            parent=root,
            start_s=start_s + 0.1,
            end_s=start_s + 0.9,
        ),
    ]
    return _aggregate(spans)


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
