"""Spans join their trace's session whatever the order or grouping they arrive in."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request, turn
from support.server import ManualClock, RunningServer, run_server

pytestmark = pytest.mark.both_engines


def post(client: httpx.Client, *spans: SpanSpec) -> None:
    assert client.post("/v1/traces", content=request(*spans), headers=PROTOBUF).status_code == 200


def agent_turn(
    session_id: str, start_s: float, *, number: int | None = None, input_tokens: int = 50, stamped: bool = False
) -> list[SpanSpec]:
    """A root naming the session (only the root, unless ``stamped``: then every span names the session and
    the turn number, as the SDK's span processor does), two LLM calls and a tool call under it."""
    trace_id = new_trace_id()
    attrs: dict[str, Any] = {"session.id": session_id, "user.id": "u-7", "input.value": f"question at {start_s}"}
    if number is not None:
        attrs["conversation.turn_number"] = number
    root = SpanSpec(trace_id, name="turn", start_s=start_s, end_s=start_s + 3, attributes=attrs)
    llm: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": input_tokens,
    }
    if stamped:
        llm["session.id"] = session_id
        if number is not None:
            llm["conversation.turn_number"] = number
    return [
        root,
        SpanSpec(trace_id, parent_span_id=root.span_id, name="chat", start_s=start_s + 0.1, end_s=start_s + 1,
                 attributes={**llm, "gen_ai.usage.output_tokens": 5}),
        SpanSpec(trace_id, parent_span_id=root.span_id, name="execute_tool get_weather", start_s=start_s + 1,
                 end_s=start_s + 1.5, attributes={"gen_ai.tool.name": "get_weather"}),
        SpanSpec(trace_id, parent_span_id=root.span_id, name="chat", start_s=start_s + 1.5, end_s=start_s + 2.5,
                 attributes={**llm, "gen_ai.usage.output_tokens": 7, "output.value": f"answer at {start_s}"}),
    ]  # fmt: skip


def test_children_before_root_are_adopted_when_the_root_arrives(server: RunningServer) -> None:
    root, *children = agent_turn("s-order", 0)
    with server.client() as client:
        post(client, *children)
        assert client.get("/api/v1/stats").json()["orphan_trace_count"] == 1
        post(client, root)
        stats = client.get("/api/v1/stats").json()
        session = client.get("/api/v1/sessions/s-order").json()
    assert stats["orphan_trace_count"] == 0
    assert stats["trace_count"] == 1
    assert session["turn_count"] == 1
    assert session["llm_call_count"] == 2
    assert session["tool_call_count"] == 1
    assert (session["input_tokens"], session["output_tokens"]) == (100, 12)
    assert session["turns"][0]["output"] == "answer at 0"


def test_a_late_span_without_session_joins_its_trace_session(server: RunningServer) -> None:
    spans = agent_turn("s-late", 0)
    with server.client() as client:
        post(client, *spans[:3])
        post(client, spans[3])
        session = client.get("/api/v1/sessions/s-late").json()
        stats = client.get("/api/v1/stats").json()
    assert session["llm_call_count"] == 2
    assert session["last_output"] == "answer at 0"
    assert stats == {**stats, "orphan_trace_count": 0, "span_count": 4, "session_count": 1}


def test_traces_with_no_session_are_counted_and_listed_as_orphans(server: RunningServer) -> None:
    orphan = turn(None, start_s=5)
    with server.client() as client:
        post(client, *orphan)
        post(client, *turn("s-real", start_s=0))
        stats = client.get("/api/v1/stats").json()
        listed = client.get("/api/v1/traces", params={"orphan": "true"}).json()
        trace = client.get(f"/api/v1/traces/{orphan[0].trace_id.hex()}").json()
    assert stats["orphan_trace_count"] == 1
    assert stats["session_count"] == 1
    assert [t["trace_id"] for t in listed["traces"]] == [orphan[0].trace_id.hex()]
    assert listed["traces"][0] == {**listed["traces"][0], "root_name": "turn", "span_count": 2}
    assert trace["session_id"] is None
    assert trace["span_count"] == 2


def test_turns_are_numbered_by_start_time_whatever_the_arrival_order(server: RunningServer) -> None:
    first, second, third = (agent_turn("s-numbers", t) for t in (0, 60, 120))
    with server.client() as client:
        post(client, *third)
        post(client, *first)
        post(client, *second)
        session = client.get("/api/v1/sessions/s-numbers").json()
    assert [t["turn_number"] for t in session["turns"]] == [1, 2, 3]
    assert [t["input"] for t in session["turns"]] == ["question at 0", "question at 60", "question at 120"]
    assert session["first_input"] == "question at 0"
    assert session["last_output"] == "answer at 120"


def agent_run_trace(session_id: str, start_s: float, *, number: int) -> list[SpanSpec]:
    """A trace of its own for an agent run inside a turn: its root declares the turn's number but carries no
    user input of its own."""
    trace_id = new_trace_id()
    attrs = {
        "session.id": session_id,
        "conversation.turn_number": number,
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "researcher",
    }
    root = SpanSpec(trace_id, name="invoke_agent researcher", start_s=start_s, end_s=start_s + 4, attributes=attrs)
    llm = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 3,
    }
    return [root, SpanSpec(trace_id, parent_span_id=root.span_id, name="chat", start_s=start_s + 1,
                           end_s=start_s + 2, attributes=llm)]  # fmt: skip


def test_traces_declaring_the_same_turn_number_form_one_turn(server: RunningServer) -> None:
    """A turn's root trace and an agent-run trace of its own that declares the same number: one turn."""
    with server.client() as client:
        post(client, *agent_run_trace("s-explicit", 1, number=1))
        post(client, *agent_turn("s-explicit", 0, number=1))
        post(client, *agent_turn("s-explicit", 20, number=2))
        session = client.get("/api/v1/sessions/s-explicit").json()
    assert session["turn_count"] == 2
    assert session["trace_count"] == 3
    assert [(t["turn_number"], len(t["trace_ids"]), t["llm_call_count"]) for t in session["turns"]] == [
        (1, 2, 3),
        (2, 1, 2),
    ]
    assert [t["input"] for t in session["turns"]] == ["question at 0", "question at 20"]
    assert session["turns"][0]["latency_ms"] == 5_000.0
    assert session["turn_numbers_rederived"] is False


def test_complete_turns_declaring_the_same_number_stay_apart(server: RunningServer) -> None:
    """Two turn roots, each with its own input, declaring number 1: two turns, numbered by start time."""
    with server.client() as client:
        post(client, *agent_turn("s-collide", 10, number=1))
        post(client, *agent_turn("s-collide", 0, number=1))
        post(client, *agent_turn("s-collide", 20, number=2))
        session = client.get("/api/v1/sessions/s-collide").json()
    assert session["turn_count"] == 3
    assert [(t["turn_number"], t["input"], len(t["trace_ids"])) for t in session["turns"]] == [
        (1, "question at 0", 1),
        (2, "question at 10", 1),
        (3, "question at 20", 1),
    ]
    assert {t["latency_ms"] for t in session["turns"]} == {3_000.0}
    assert session["turn_numbers_rederived"] is True


def test_declared_turn_numbers_that_do_not_collide_are_kept(server: RunningServer) -> None:
    with server.client() as client:
        post(client, *agent_turn("s-declared", 20))
        post(client, *agent_turn("s-declared", 10, number=5))
        post(client, *agent_turn("s-declared", 0, number=2))
        post(client, *agent_run_trace("s-declared", 11, number=5))
        session = client.get("/api/v1/sessions/s-declared").json()
    assert [(t["turn_number"], len(t["trace_ids"])) for t in session["turns"]] == [(2, 1), (5, 2), (6, 1)]
    assert session["turn_numbers_rederived"] is False


def two_processes(session_id: str, *, stamped: bool = False) -> list[list[SpanSpec]]:
    """One session served by two processes that each number their own turns 1, 2, 3: process A's turns
    start at 0, 20, 40 s and B's at 10, 30, 50 s. Each turn uses its own number of input tokens."""
    return [
        agent_turn(session_id, start, number=number, input_tokens=100 + start, stamped=stamped)
        for number, (a_start, b_start) in enumerate([(0, 10), (20, 30), (40, 50)], start=1)
        for start in (a_start, b_start)
    ]


def test_two_processes_numbering_their_own_turns_keep_every_turn(server: RunningServer) -> None:
    turns = two_processes("s-two")
    with server.client() as client:
        for spans in turns[::2] + turns[1::2]:  # all of process A, then all of process B
            post(client, *spans)
        session = client.get("/api/v1/sessions/s-two").json()
    starts = [0, 10, 20, 30, 40, 50]
    assert session["turn_count"] == 6
    assert session["turn_numbers_rederived"] is True
    assert [
        (t["turn_number"], t["input"], t["output"], t["input_tokens"], t["output_tokens"], t["latency_ms"])
        for t in session["turns"]
    ] == [(n, f"question at {s}", f"answer at {s}", 2 * (100 + s), 12, 3_000.0) for n, s in enumerate(starts, start=1)]
    assert session["input_tokens"] == sum(t["input_tokens"] for t in session["turns"])
    assert session["output_tokens"] == 6 * 12
    assert (session["llm_call_count"], session["tool_call_count"]) == (12, 6)
    assert (session["first_input"], session["last_output"]) == ("question at 0", "answer at 50")
    assert session["conversations"][0]["turn_count"] == 6


@pytest.mark.parametrize(("seed", "stamped"), [(seed, seed % 2 == 1) for seed in range(6)])
def test_two_processes_give_the_same_session_whatever_the_arrival(
    tmp_path: Path, seed: int, stamped: bool, clock: ManualClock
) -> None:
    """Any arrival order and any split over requests, roots after their children included; with ``stamped``
    the children name the session and the number, so a turn's children first join the other process's turn."""
    spans = [s for turn in two_processes("s-two", stamped=stamped) for s in turn]
    with run_server(tmp_path / "in-order", clock=clock) as srv, srv.client() as client:
        post(client, *spans)
        expected = _session_view(client, "s-two")
    assert [t["input"] for t in expected["turns"]] == [f"question at {s}" for s in (0, 10, 20, 30, 40, 50)]
    rng = random.Random(seed)
    shuffled = spans[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), 6))
    with run_server(tmp_path / "shuffled", clock=clock) as srv, srv.client() as client:
        for start, end in zip([0, *cuts], [*cuts, len(shuffled)], strict=True):
            post(client, *shuffled[start:end])
        assert _session_view(client, "s-two") == expected
        assert client.get("/api/v1/stats").json()["orphan_trace_count"] == 0


def test_colliding_turns_split_across_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    """Caches start cold: the turns already written are split or joined again, and no stale turn row stays."""
    spans = [s for turn in two_processes("s-restart-two", stamped=True) for s in turn]
    with run_server(tmp_path / "in-order", clock=clock) as srv, srv.client() as client:
        post(client, *spans)
        expected = _session_view(client, "s-restart-two")
    children = [s for s in spans if s.parent_span_id]
    roots = [s for s in spans if not s.parent_span_id]
    with run_server(tmp_path / "restarted", clock=clock) as srv, srv.client() as client:
        post(client, *children, *roots[:2])  # both turns 1 are whole; turns 2 and 3 have no root yet
        partial = _session_view(client, "s-restart-two")
    with run_server(tmp_path / "restarted", clock=clock) as srv, srv.client() as client:
        post(client, *roots[2:])
        assert _session_view(client, "s-restart-two") == expected
    assert [len(t["trace_ids"]) for t in partial["turns"]] == [1, 1, 2, 2]


def test_an_explicit_turn_number_arriving_late_regroups_the_trace(server: RunningServer) -> None:
    """Children name the session (as OpenInference does); the root, arriving last, names the turn."""
    root, *children = agent_turn("s-regroup", 0, number=4)
    for child in children:
        child.attributes["session.id"] = "s-regroup"
    with server.client() as client:
        post(client, *children)
        before = client.get("/api/v1/sessions/s-regroup").json()
        post(client, root)
        after = client.get("/api/v1/sessions/s-regroup").json()
    assert [t["turn_number"] for t in before["turns"]] == [1]
    assert [t["turn_number"] for t in after["turns"]] == [4]
    assert after["turn_count"] == 1
    assert after["turns"][0]["llm_call_count"] == 2


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """Caches start cold after a restart: late spans still find their trace and session in the file."""
    spans = agent_turn("s-restart", 0)
    with run_server(tmp_path / "data") as first, first.client() as client:
        post(client, *spans[:2])
    with run_server(tmp_path / "data") as second, second.client() as client:
        post(client, *spans[2:])
        post(client, *agent_turn("s-restart", 30))
        session = client.get("/api/v1/sessions/s-restart").json()
        stats = client.get("/api/v1/stats").json()
    assert session["turn_count"] == 2
    assert session["llm_call_count"] == 4
    assert stats["span_count"] == 8


def _session_view(client: httpx.Client, session_id: str) -> dict[str, Any]:
    session: dict[str, Any] = client.get(f"/api/v1/sessions/{session_id}").json()
    return session


@pytest.mark.parametrize("seed", range(6))
def test_any_order_and_any_split_give_the_same_session(tmp_path: Path, seed: int, clock: ManualClock) -> None:
    spans = [s for start in (0, 30, 60, 90) for s in agent_turn("s-shuffle", start)]
    with run_server(tmp_path / "in-order", clock=clock) as srv, srv.client() as client:
        post(client, *spans)
        expected = _session_view(client, "s-shuffle")
    rng = random.Random(seed)
    shuffled = spans[:]
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), 4))
    with run_server(tmp_path / "shuffled", clock=clock) as srv, srv.client() as client:
        for start, end in zip([0, *cuts], [*cuts, len(shuffled)], strict=True):
            post(client, *shuffled[start:end])
        assert _session_view(client, "s-shuffle") == expected
        assert client.get("/api/v1/stats").json()["orphan_trace_count"] == 0


def test_derived_turn_numbers_never_take_a_declared_one(server: RunningServer) -> None:
    with server.client() as client:
        post(client, *agent_turn("s-mixed", 0, number=1))
        post(client, *agent_turn("s-mixed", 10))
        post(client, *agent_turn("s-mixed", 20, number=2))
        session = client.get("/api/v1/sessions/s-mixed").json()
    assert [t["turn_number"] for t in session["turns"]] == [1, 3, 2]


def test_a_session_with_only_a_session_event_exists(server: RunningServer) -> None:
    event = SpanSpec(
        new_trace_id(),
        name="session.end",
        attributes={"session.id": "s-events", "threadline.span.kind": "session_event", "session.end_reason": "done"},
    )
    with server.client() as client:
        post(client, event)
        session = client.get("/api/v1/sessions/s-events").json()
        listed = [s["session_id"] for s in client.get("/api/v1/sessions").json()["sessions"]]
        stats = client.get("/api/v1/stats").json()
    assert session["turn_count"] == 0
    assert (session["status"], session["end_reason"]) == ("ended", "done")
    assert session["turns"] == []
    assert listed == ["s-events"]
    assert stats["session_count"] == 1


def test_ids_with_slashes_reach_their_session(server: RunningServer) -> None:
    with server.client() as client:
        post(client, *agent_turn("team/alpha", 0))
        detail = client.get("/api/v1/sessions/team%2Falpha")
        user = client.get("/api/v1/users/u-7")
    assert detail.status_code == 200
    assert detail.json()["session_id"] == "team/alpha"
    assert user.json()["recent_sessions"][0]["session_id"] == "team/alpha"


def test_a_turn_says_what_its_first_failed_tool_call_said(server: RunningServer) -> None:
    root, llm, tool, answer = agent_turn("s-tools", 0)
    late_failure = SpanSpec(
        root.trace_id,
        parent_span_id=root.span_id,
        name="execute_tool refund",
        start_s=2,
        end_s=2.2,
        attributes={"gen_ai.tool.name": "refund"},
        error="refund_window_closed",
    )
    tool.error = "card_declined"
    with server.client() as client:
        post(client, late_failure, answer, llm)  # the later failure arrives first
        post(client, root, tool)
        (turn,) = client.get("/api/v1/sessions/s-tools").json()["turns"]
    assert turn["tool_error"] is True
    assert turn["tool_error_message"] == "card_declined"
    assert turn["error"] is False
