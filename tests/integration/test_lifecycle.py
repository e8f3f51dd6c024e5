"""Lifecycle and drop-off, scenario by scenario, with a clock the test controls (idle timeout 30 min)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.scenario import Session, at, iso_at
from support.server import ManualClock, run_server

pytestmark = pytest.mark.both_engines

IDLE_S = 1800


@pytest.fixture
def client(tmp_path: Path, clock: ManualClock) -> Iterator[httpx.Client]:
    with run_server(tmp_path / "data", clock=clock) as server, server.client() as http:
        yield http


def get(client: httpx.Client, session_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def two_turns(session_id: str, **last: Any) -> Session:
    return Session(session_id).turn(0, answer="Sure, I can help.").turn(60, **last)


def test_active_then_ended_by_inactivity_after_an_answer(client: httpx.Client, clock: ManualClock) -> None:
    two_turns("s-answered", answer="Your order ships tomorrow.").send(client)
    clock.now_ns = at(62 + 60)
    live = get(client, "s-answered")
    assert live["status"] == "active"
    assert live["end_reason"] is None
    assert live["ended_at"] is None
    assert live["idle_time_ms"] == 60_000
    clock.now_ns = at(62 + IDLE_S)
    ended = get(client, "s-answered")
    assert ended["status"] == "ended"
    assert ended["end_reason"] == "inactive_timeout"
    assert ended["ended_at"] == iso_at(62 + IDLE_S)
    assert ended["last_agent_action"] == "answered"
    assert ended["dropped_off"] is False
    assert ended["dropoff"]["detected"] is False
    assert ended["abandoned"] is False
    assert ended["reopened_count"] == 0


@pytest.mark.parametrize(
    ("last", "action"),
    [
        ({"answer": "Which city are you in?"}, "asked_question"),
        ({"answer": "Could you share the order number? 🙂"}, "asked_question"),
        ({"answer": None, "llm_error": "RateLimitError: 429"}, "error"),
        ({"answer": "Let me check.", "tool_error": "TimeoutError"}, "tool_failure"),
    ],
    ids=["question", "question-with-emoji", "llm-error", "tool-failure"],
)
def test_ended_by_inactivity_after_a_question_or_failure_is_a_dropoff(
    client: httpx.Client, clock: ManualClock, last: dict[str, Any], action: str
) -> None:
    two_turns("s-drop", **last).send(client)
    clock.now_ns = at(62 + IDLE_S - 1)
    before = get(client, "s-drop")
    assert before["status"] == "active"
    assert before["dropped_off"] is False  # still active: the user may yet answer
    assert before["last_agent_action"] == action
    clock.now_ns = at(62 + IDLE_S + 5)
    after = get(client, "s-drop")
    assert after["status"] == "ended"
    assert after["dropped_off"] is True
    assert after["dropoff"] == {
        "detected": True,
        "source": "derived",
        "last_turn": 2,
        "last_intent": "question",
        "agent_last_action": action,
        "time_since_last_turn_ms": (IDLE_S + 5) * 1000.0,
    }
    assert after["turns"][-1]["agent_last_action"] == action
    listed = client.get("/api/v1/sessions", params={"dropped_off": "true"}).json()["sessions"]
    assert [s["session_id"] for s in listed] == ["s-drop"]


def test_an_explicit_end_is_not_a_dropoff(client: httpx.Client, clock: ManualClock) -> None:
    two_turns("s-closed", answer="Anything else?").event(70, {"session.end_reason": "user_closed"}).send(client)
    clock.now_ns = at(80)
    session = get(client, "s-closed")
    assert session["status"] == "ended"
    assert session["end_reason"] == "user_closed"
    assert session["ended_at"] == iso_at(70)
    assert session["turn_count"] == 2  # the end event is not a turn
    assert session["trace_count"] == 3
    clock.now_ns = at(70 + IDLE_S * 3)
    later = get(client, "s-closed")
    assert later["end_reason"] == "user_closed"
    assert later["dropped_off"] is False


def test_activity_after_an_end_reopens_the_session(client: httpx.Client, clock: ManualClock) -> None:
    session = Session("s-reopen").turn(0).event(10, {"session.end_reason": "user_closed"})
    session.turn(20)  # after an explicit end
    session.turn(22 + IDLE_S + 100)  # after an idle gap longer than the timeout
    session.send(client)
    clock.now_ns = at(22 + IDLE_S + 110)
    reopened = get(client, "s-reopen")
    assert reopened["reopened_count"] == 2
    assert reopened["status"] == "active"
    assert reopened["end_reason"] is None
    assert [t["turn_number"] for t in reopened["turns"]] == [1, 2, 3]


def test_a_late_span_that_closes_an_idle_gap_is_not_a_reopening(client: httpx.Client, clock: ManualClock) -> None:
    session = Session("s-gap").turn(0)
    session.turns = 2
    session.turn(1000 + IDLE_S).send(client)  # turns 1 and 3
    clock.now_ns = at(1000 + IDLE_S + 10)
    assert get(client, "s-gap")["reopened_count"] == 1
    Session("s-gap", turns=1).turn(1000).send(client)  # turn 2, in the middle, arrives late
    after = get(client, "s-gap")
    assert after["reopened_count"] == 0
    assert [t["turn_number"] for t in after["turns"]] == [1, 2, 3]


def test_old_sessions_imported_in_bulk_read_as_ended(client: httpx.Client, clock: ManualClock) -> None:
    clock.now_ns = at(10 * 86_400)  # ten days after the spans' timestamps
    Session("s-old").turn(0).turn(30, answer="Which size?").send(client)
    session = get(client, "s-old")
    assert session["status"] == "ended"
    assert session["end_reason"] == "inactive_timeout"
    assert session["ended_at"] == iso_at(32 + IDLE_S)
    assert session["reopened_count"] == 0
    assert session["dropped_off"] is True
    assert client.get("/api/v1/sessions", params={"status": "active"}).json()["sessions"] == []
    assert [s["session_id"] for s in client.get("/api/v1/sessions", params={"status": "ended"}).json()["sessions"]] == [
        "s-old"
    ]


def test_a_converted_journey_is_not_a_dropoff(client: httpx.Client, clock: ManualClock) -> None:
    journey = {"journey.name": "onboarding", "journey.total_stages": 3}
    converted = Session("s-won")
    converted.turn(0, attributes={**journey, "journey.stage": "signup", "journey.stage_number": 1})
    converted.turn(60, attributes={**journey, "journey.stage": "verify", "journey.stage_number": 2})
    converted.turn(
        120,
        answer="All set! Want a tour?",
        attributes={**journey, "journey.stage": "activated", "journey.stage_number": 3, "journey.converted": True},
    )
    converted.send(client)
    lost = Session("s-lost", user_id="user-2")
    lost.turn(0, attributes={**journey, "journey.stage": "signup", "journey.stage_number": 1})
    lost.turn(
        60, answer="What is your email?", attributes={**journey, "journey.stage": "verify", "journey.stage_number": 2}
    )
    lost.send(client)
    clock.now_ns = at(122 + IDLE_S)
    won = get(client, "s-won")
    assert won["converted"] is True
    assert won["last_agent_action"] == "asked_question"
    assert won["dropped_off"] is False
    (journey_state,) = won["journeys"]
    assert journey_state["name"] == "onboarding"
    assert [(s["stage"], s["stage_number"], s["turn"]) for s in journey_state["stages"]] == [
        ("signup", 1, 1),
        ("verify", 2, 2),
        ("activated", 3, 3),
    ]
    assert journey_state["highest_stage"] == 3
    assert journey_state["converted"] is True
    assert journey_state["conversion_turn"] == 3
    assert journey_state["conversion_time_ms"] == 122_000.0  # the converting turn's end, from the first activity
    lost_state = get(client, "s-lost")
    assert lost_state["converted"] is False
    assert lost_state["dropped_off"] is True
    assert lost_state["journeys"][0]["highest_stage"] == 2
    funnels = client.get("/api/v1/analytics/journeys").json()["journeys"]
    assert funnels == [
        {
            "name": "onboarding",
            "session_count": 2,
            "converted_count": 1,
            "conversion_rate": 0.5,
            "stages": [
                {"stage_number": 1, "stage": "signup", "sessions": 2, "rate": 1.0},
                {"stage_number": 2, "stage": "verify", "sessions": 2, "rate": 1.0},
                {"stage_number": 3, "stage": "activated", "sessions": 1, "rate": 0.5},
            ],
            "conversion_turn_p50": 3,
            "conversion_time_p50_ms": 122_000.0,
        }
    ]


def test_a_conversion_recorded_by_a_session_event(client: httpx.Client, clock: ManualClock) -> None:
    Session("s-paid").turn(0).event(
        500, {"journey.name": "checkout", "journey.stage": "paid", "journey.stage_number": 2, "journey.converted": True}
    ).send(client)
    clock.now_ns = at(600)
    (journey,) = get(client, "s-paid")["journeys"]
    assert journey["converted"] is True
    assert journey["conversion_time_ms"] == 500_000.0
    assert journey["conversion_turn"] is None


def test_the_clients_dropoff_takes_precedence(client: httpx.Client, clock: ManualClock) -> None:
    Session("s-told").turn(0, answer="Done.").event(
        100,
        {
            "dropoff.detected": True,
            "dropoff.last_turn": 1,
            "dropoff.last_intent": "cancel_subscription",
            "dropoff.agent_last_action": "offered_discount",
            "dropoff.time_since_last_turn_ms": 42_000,
        },
    ).send(client)
    clock.now_ns = at(200)  # still active by the clock: the client's word is enough
    session = get(client, "s-told")
    assert session["status"] == "active"
    assert session["dropped_off"] is True
    assert session["dropoff"] == {
        "detected": True,
        "source": "client",
        "last_turn": 1,
        "last_intent": "cancel_subscription",
        "agent_last_action": "offered_discount",
        "time_since_last_turn_ms": 42_000.0,
    }


def test_a_single_turn_session_is_abandoned_once_ended(client: httpx.Client, clock: ManualClock) -> None:
    Session("s-one").turn(0, answer="Hello!").send(client)
    clock.now_ns = at(10)
    assert get(client, "s-one")["abandoned"] is False
    clock.now_ns = at(2 + IDLE_S)
    session = get(client, "s-one")
    assert session["abandoned"] is True
    assert session["dropped_off"] is False  # abandonment is reported apart from drop-off


def test_context_window_per_turn(client: httpx.Client, clock: ManualClock) -> None:
    session = Session("s-context")
    session.turn(0, input_tokens=32_000)  # gpt-4o-mini: the price data knows its 128k window
    session.turn(
        60,
        input_tokens=9_000,
        attributes={"context.limit": 10_000, "context.pruned": True, "context.messages_pruned": 4},
    )
    session.turn(120, attributes={"conversation.context_tokens": 64_000})
    session.send(client)
    clock.now_ns = at(200)
    turns = get(client, "s-context")["turns"]
    assert [
        (t["context_tokens"], t["context_limit"], t["context_limit_source"], t["context_window_pct"]) for t in turns
    ] == [
        (32_000, 128_000, "model", 25.0),
        (9_000, 10_000, "client", 90.0),
        (64_000, 128_000, "model", 50.0),
    ]
    assert [(t["context_pruned"], t["messages_pruned"]) for t in turns] == [(False, None), (True, 4), (False, None)]
    assert get(client, "s-context")["max_context_window_pct"] == 90.0
