"""Spans join their trace's session whatever the order or grouping they arrive in."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request, turn
from support.server import ManualClock, RunningServer, run_server


def post(client: httpx.Client, *spans: SpanSpec) -> None:
    assert client.post("/v1/traces", content=request(*spans), headers=PROTOBUF).status_code == 200


def agent_turn(session_id: str, start_s: float, *, number: int | None = None) -> list[SpanSpec]:
    """A root naming the session (only the root), two LLM calls and a tool call under it."""
    trace_id = new_trace_id()
    attrs: dict[str, Any] = {"session.id": session_id, "user.id": "u-7", "input.value": f"question at {start_s}"}
    if number is not None:
        attrs["conversation.turn_number"] = number
    root = SpanSpec(trace_id, name="turn", start_s=start_s, end_s=start_s + 3, attributes=attrs)
    llm = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 50}
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


def test_traces_declaring_the_same_turn_number_form_one_turn(server: RunningServer) -> None:
    with server.client() as client:
        post(client, *agent_turn("s-explicit", 0, number=1))
        post(client, *agent_turn("s-explicit", 10, number=1))
        post(client, *agent_turn("s-explicit", 20, number=2))
        session = client.get("/api/v1/sessions/s-explicit").json()
    assert session["turn_count"] == 2
    assert session["trace_count"] == 3
    assert [(t["turn_number"], len(t["trace_ids"]), t["llm_call_count"]) for t in session["turns"]] == [
        (1, 2, 4),
        (2, 1, 2),
    ]
    assert session["turns"][0]["latency_ms"] == 13_000.0


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
