"""Errors and timeouts: what ends with error status, and that the application's exceptions pass through."""

from __future__ import annotations

import pytest

import threadline
from threadline.testing import Capture, CapturingExporter, configured


class AppError(Exception):
    pass


def _fail_inside_a_call(error: Exception) -> None:
    with threadline.turn("hello"), threadline.llm_call(model="gpt-4o"):
        raise error


def test_error_ends_every_open_child_with_error_status(threadline_capture: Capture) -> None:
    with threadline.session("sess_e"):
        turn = threadline.turn("plan my week")
        agent = turn.agent_run("planner")
        call = turn.llm_call(model="gpt-4o", provider="openai")
        tool = turn.tool_call("calendar")
        tool.end()
        turn.error("upstream unavailable")
        call.end()  # already ended by the turn: no-op
    snapshot = {s["name"]: s for s in threadline_capture.snapshot()}
    assert snapshot["execute_tool calendar"]["status"] == "UNSET"
    assert snapshot["chat gpt-4o"]["status"] == "ERROR: upstream unavailable"
    assert snapshot["invoke_agent planner"]["status"] == "ERROR: upstream unavailable"
    assert snapshot["turn"]["status"] == "ERROR: upstream unavailable"
    assert snapshot["turn"]["attributes"]["error.type"] == "error"
    assert snapshot["turn"]["attributes"]["turn.agent_runs"] == 1
    assert agent.ended
    assert call.ended
    # children end before their turn, at the same instant
    assert snapshot["chat gpt-4o"]["end_time"] == snapshot["turn"]["end_time"]


def test_an_exception_in_a_with_block_marks_the_span_and_propagates_unchanged(threadline_capture: Capture) -> None:
    error = AppError("database is down")
    with threadline.session("sess_x"), pytest.raises(AppError) as raised:
        _fail_inside_a_call(error)
    assert raised.value is error
    call, turn = threadline_capture.snapshot()
    for span in (call, turn):
        assert span["status"] == "ERROR: database is down"
        assert span["attributes"]["error.type"].endswith("AppError")
    assert call["events"][0]["attributes"]["exception.message"] == "database is down"


def test_a_failed_tool_does_not_fail_the_turn_that_recovers(threadline_capture: Capture) -> None:
    with threadline.session("sess_t"), threadline.turn("convert 5 USD") as turn:
        try:
            with threadline.tool_call("fx_rates", {"from": "USD"}):
                raise TimeoutError("fx service timed out")
        except TimeoutError:
            turn.output("I could not get today's rate, sorry.")
    tool, root = threadline_capture.snapshot()
    assert tool["status"] == "ERROR: fx service timed out"
    assert root["status"] == "UNSET"


def test_a_turn_not_ended_within_its_timeout_is_ended_with_error_and_exported(threadline_capture: Capture) -> None:
    with threadline.session("sess_slow"):
        turn = threadline.turn("long job", timeout=30)
        call = turn.llm_call(model="o3")
    threadline_capture.advance(25)  # the test clock also ticks 1 s per read
    assert threadline_capture.spans == []
    threadline_capture.advance(10)
    call_span, turn_span = threadline_capture.snapshot()
    assert turn_span["status"] == "ERROR: turn not ended within 30s"
    assert turn_span["attributes"]["threadline.turn.timed_out"] is True
    assert turn_span["attributes"]["error.type"] == "TurnTimeout"
    assert call_span["status"] == "ERROR: turn not ended within 30s"
    assert turn.ended
    assert call.ended
    turn.end()  # the application ending it late changes nothing
    assert len(threadline_capture.spans) == 2
    assert threadline.stats().turns_timed_out == 1


def test_the_default_timeout_is_twenty_minutes_and_zero_disables_it(threadline_capture: Capture) -> None:
    with threadline.session("sess_d"):
        default = threadline.turn("default")
        never = threadline.turn("never", timeout=0)
    threadline_capture.advance(20 * 60 - 10)
    assert not default.ended
    threadline_capture.advance(20)
    assert default.ended
    assert not never.ended
    threadline_capture.advance(10 * 24 * 3600)
    assert not never.ended
    never.end()
    assert [s.attributes["input.value"] for s in threadline_capture.spans] == ["default", "never"]


def test_turn_timeout_setting_applies_to_every_turn() -> None:
    with configured(turn_timeout=5) as capture, threadline.session("sess_s"):
        turn = threadline.turn("x")
        capture.advance(6)
        assert turn.ended


def test_the_timeout_thread_ends_turns_in_real_time() -> None:
    exporter = CapturingExporter()
    from threadline.testing import SystemClock

    with configured(exporter=exporter, clock=SystemClock(), synchronous=False, schedule_delay=0.01):
        with threadline.session("sess_rt"):
            threadline.turn("stuck", timeout=0.05)
        assert exporter.wait_for(1, timeout=10)
        assert exporter.spans[0].status.description == "turn not ended within 0.05s"


def test_shutdown_ends_open_turns_with_error(threadline_capture: Capture) -> None:
    with threadline.session("sess_shutdown"):
        turn = threadline.turn("in flight")
    assert threadline.shutdown()
    assert turn.ended
    assert threadline_capture.spans[0].status.description == "the SDK shut down before the turn ended"
    with threadline.session("sess_after"):
        threadline.turn("after shutdown").end()  # records nothing, raises nothing
    assert len(threadline_capture.spans) == 1
