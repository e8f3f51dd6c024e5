"""Facts that are not turns: session end, feedback, journeys, context window."""

from __future__ import annotations

import logging

import pytest

import threadline
from threadline.testing import Capture


def _events(capture: Capture) -> list[dict[str, object]]:
    return [s for s in capture.snapshot() if s["attributes"].get("threadline.span.kind") == "session_event"]


def test_end_session_is_a_root_session_event(threadline_capture: Capture) -> None:
    with threadline.session("sess_end", user_id="erin"):
        threadline.turn("bye").end()
        threadline_capture.advance(60)
        threadline.end_session(reason="user_left", dropped_off=True, last_intent="cancel")
    event = threadline_capture.snapshot()[-1]
    assert event["name"] == "session.end"
    assert event["parent_id"] is None
    assert event["trace_id"] != threadline_capture.snapshot()[0]["trace_id"]
    assert event["start_time"] == event["end_time"]
    assert event["attributes"] == {
        "threadline.span.kind": "session_event",
        "session.id": "sess_end",
        "user.id": threadline.hash_user_id("erin"),
        "conversation.id": "sess_end",
        "session.end_reason": "user_left",
        "dropoff.detected": True,
        "dropoff.last_turn": 1,
        "dropoff.last_intent": "cancel",
        "dropoff.time_since_last_turn_ms": 61000.0,
    }


def test_end_session_by_id_outside_the_session_and_via_the_handle(threadline_capture: Capture) -> None:
    threadline.end_session("sess_other", "completed")
    session = threadline.session("sess_handle")
    session.end("resolved")
    reasons = [
        (e["attributes"]["session.id"], e["attributes"]["session.end_reason"]) for e in _events(threadline_capture)
    ]
    assert reasons == [("sess_other", "completed"), ("sess_handle", "resolved")]


def test_feedback_inside_a_turn_is_a_turn_attribute(threadline_capture: Capture) -> None:
    with threadline.session("sess_fb"), threadline.turn("q") as turn:
        threadline.feedback(True, comment="great")
        turn.output("a")
    (root,) = threadline_capture.snapshot()
    assert root["attributes"]["turn.feedback"] == 1
    assert root["attributes"]["turn.feedback_comment"] == "great"


def test_feedback_after_the_turn_names_the_turn_it_is_about(threadline_capture: Capture) -> None:
    with threadline.session("sess_fb2"):
        with threadline.conversation(conversation_id="conv_support"):
            threadline.turn("one").end()
            threadline.turn("two").end()
        threadline.feedback(-1)  # about the last turn, even outside its conversation block
        threadline.feedback(1, turn_number=1)
        threadline.feedback(satisfaction=0.4)
    events = [e["attributes"] for e in _events(threadline_capture)]
    assert [(e.get("turn.feedback"), e.get("conversation.turn_number"), e.get("conversation.id")) for e in events] == [
        (-1, 2, "conv_support"),
        (1, 1, "sess_fb2"),
        (None, None, "sess_fb2"),
    ]
    assert events[2]["session.user_satisfaction"] == 0.4


def test_journey_stages_conversion_and_timings(threadline_capture: Capture) -> None:
    with threadline.session("sess_j"):
        with threadline.turn("sign me up"):
            threadline.journey("onboarding", "signup", stage_number=1, total_stages=3)
            threadline.journey("upsell", "offer_shown")  # a second journey in the same turn: an event
        threadline_capture.advance(30)
        with threadline.turn("done"):
            threadline.journey("onboarding", "first_project", stage_number=3, total_stages=3, converted=True)
        threadline.journey("onboarding", "first_project", converted=True)  # already converted: no new conversion
    spans = threadline_capture.snapshot()
    first_turn, upsell, second_turn, after = (spans[1], spans[0], spans[2], spans[3])
    assert upsell["attributes"]["journey.name"] == "upsell"
    assert upsell["attributes"]["conversation.turn_number"] == 1
    assert first_turn["attributes"]["journey.stage"] == "signup"
    assert "journey.time_in_stage_ms" not in first_turn["attributes"]
    second = second_turn["attributes"]
    assert second["journey.converted"] is True
    assert second["journey.conversion_turn"] == 2
    assert second["journey.time_in_stage_ms"] == second["journey.conversion_time_ms"] > 30_000
    assert after["attributes"]["journey.converted"] is True
    assert "journey.conversion_turn" not in after["attributes"]
    assert after["attributes"]["conversation.turn_number"] == 2


def test_context_window_on_the_turn_or_as_an_event(threadline_capture: Capture) -> None:
    with threadline.session("sess_cw"):
        with threadline.turn("long chat"):
            threadline.context_window(96_000, 128_000, new_tokens=1200, messages_in_context=42)
        threadline.context_window(40_000, 128_000, pruned=True, messages_pruned=30)
    root, event = threadline_capture.snapshot()
    assert {
        k: v for k, v in root["attributes"].items() if k.startswith(("context.", "conversation.c", "conversation.m"))
    } == {
        "context.current_tokens": 96_000,
        "context.limit": 128_000,
        "context.new_tokens": 1200,
        "conversation.context_tokens": 96_000,
        "conversation.context_window_pct": 75.0,
        "conversation.messages_in_context": 42,
    }
    assert event["attributes"]["context.pruned"] is True
    assert event["attributes"]["context.messages_pruned"] == 30
    assert event["attributes"]["conversation.turn_number"] == 1


def test_facts_outside_any_session_are_not_sent_and_warn_once(
    threadline_capture: Capture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="threadline"):
        threadline.feedback(1)
        threadline.feedback(-1)
        threadline.end_session(reason="done")
    assert threadline_capture.spans == []
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if m.startswith("threadline: feedback outside any session")]) == 1
    assert len([m for m in messages if m.startswith("threadline: session.end outside any session")]) == 1
