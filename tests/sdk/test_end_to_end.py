"""SDK → real OTLP/HTTP exporter → real Threadline server on loopback → the sessions API.

``threadline.flush()`` returns once the server acknowledged every span, and the server acknowledges
only after its commit: each test queries right after flushing, without polling.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider

import threadline
from support.server import RunningServer
from threadline.testing import TestClock, configured


def _session(client: httpx.Client, session_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 200, response.text
    doc: dict[str, Any] = response.json()
    return doc


def _chat(turn: threadline.Turn, question: str, answer: str, tokens: tuple[int, int], tool: str | None = None) -> None:
    with threadline.llm_call(model="gpt-4o-mini", provider="openai") as call:
        call.record(input_tokens=tokens[0], output_tokens=tokens[1], input=question, output=answer)
    if tool:
        with threadline.tool_call(tool, {"q": question}) as result:
            result.result({"ok": True})
    turn.output(answer)


def test_a_multi_turn_session_arrives_whole(live: RunningServer) -> None:
    with threadline.session("sess_e2e_1", user_id="alice@example.com", channel="web", type="chat"):
        for number, (question, answer, tokens, tool) in enumerate(
            [
                ("Where is my order 1234?", "It left the warehouse today.", (420, 12), "order_status"),
                ("When will it arrive?", "Thursday before noon.", (510, 6), None),
                ("Thanks!", "You're welcome. Anything else?", (530, 7), None),
            ],
            start=1,
        ):
            with threadline.turn(question, input_type="question") as turn:
                _chat(turn, question, answer, tokens, tool)
            assert turn.number == number
    assert threadline.flush(timeout=30)
    with live.client() as client:
        got = _session(client, "sess_e2e_1")
        listed = client.get("/api/v1/sessions", params={"user_id": threadline.hash_user_id("alice@example.com")})
        stats = client.get("/api/v1/stats").json()
    assert got["user_id"] == threadline.hash_user_id("alice@example.com", salt="e2e-salt")
    assert [s["session_id"] for s in listed.json()["sessions"]] == ["sess_e2e_1"]
    assert (got["turn_count"], got["llm_call_count"], got["tool_call_count"], got["error_count"]) == (3, 3, 1, 0)
    assert (got["input_tokens"], got["output_tokens"]) == (1460, 25)
    assert got["first_input"] == "Where is my order 1234?"
    assert got["last_output"] == "You're welcome. Anything else?"
    assert got["models"] == ["gpt-4o-mini"]
    assert got["total_cost_usd"] is not None
    assert got["total_cost_usd"] > 0
    turns = [
        (t["turn_number"], t["input"], t["output"], t["input_tokens"], t["output_tokens"], t["tool_call_count"])
        for t in got["turns"]
    ]
    assert turns == [
        (1, "Where is my order 1234?", "It left the warehouse today.", 420, 12, 1),
        (2, "When will it arrive?", "Thursday before noon.", 510, 6, 0),
        (3, "Thanks!", "You're welcome. Anything else?", 530, 7, 0),
    ]
    assert got["turns"][0]["attributes"]["session.channel"] == "web"
    assert got["turns"][0]["attributes"]["turn.input_type"] == "question"
    assert stats["span_count"] == threadline.stats().spans_exported == 7
    assert stats["orphan_trace_count"] == 0


def test_errors_and_tool_failures_are_reported(live: RunningServer) -> None:
    with threadline.session("sess_e2e_err", user_id="bob"):
        with threadline.turn("Summarise this PDF"), threadline.llm_call(model="gpt-4o", provider="openai") as call:
            call.error("429 Too Many Requests")
            raise_later = False
        with threadline.turn("Convert 5 USD") as turn:
            with threadline.tool_call("fx_rates") as tool:
                tool.error("fx service timed out")
            turn.output("Sorry, I could not get today's rate.")
        turn = threadline.turn("Try again")
        turn.error("agent crashed")
        assert not raise_later
    assert threadline.flush(timeout=30)
    with live.client() as client:
        got = _session(client, "sess_e2e_err")
    first, second, third = got["turns"]
    assert (first["error"], first["error_message"]) == (True, "429 Too Many Requests")
    assert (second["error"], second["tool_error"], second["output"]) == (
        False,
        True,
        "Sorry, I could not get today's rate.",
    )
    assert (third["error"], third["error_message"]) == (True, "agent crashed")
    assert got["errored_turn_count"] == 2


def test_a_timed_out_turn_is_exported_with_error(tmp_path: Any, server: RunningServer) -> None:
    clock = TestClock(start=time.time())
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")
    with configured(exporter=exporter, clock=clock, synchronous=False, deterministic_ids=False) as capture:
        with threadline.session("sess_e2e_timeout", user_id="carol"):
            with threadline.turn("quick") as turn:
                turn.output("fine")
            threadline.turn("never finishes")  # the application forgot to end it
        capture.advance(20 * 60 + 5)
        assert threadline.flush(timeout=30)
        with server.client() as client:
            got = _session(client, "sess_e2e_timeout")
    assert [(t["turn_number"], t["error"], t["error_message"]) for t in got["turns"]] == [
        (1, False, None),
        (2, True, "turn not ended within 1200s"),
    ]
    assert got["turns"][1]["latency_ms"] >= 1200 * 1000


def test_session_events_end_and_feedback_fold_into_the_session(live: RunningServer) -> None:
    with threadline.session("sess_e2e_ev", user_id="dan"):
        with threadline.turn("Set up my account") as turn:
            threadline.journey("onboarding", "account_created", stage_number=1, total_stages=2)
            threadline.context_window(3000, 128_000)
            turn.output("Done. Want to invite your team?")
        threadline.feedback(1)
        threadline.feedback(satisfaction=0.9)
        threadline.end_session(reason="completed")
    assert threadline.flush(timeout=30)
    with live.client() as client:
        got = _session(client, "sess_e2e_ev")
        stats = client.get("/api/v1/stats").json()
    assert (got["status"], got["end_reason"], got["turn_count"]) == ("ended", "completed", 1)
    (turn,) = got["turns"]
    assert turn["attributes"]["turn.feedback"] == 1
    assert turn["attributes"]["journey.name"] == "onboarding"
    assert (turn["context_tokens"], turn["context_window_pct"]) == (3000, 2.34)
    assert got["attributes"]["session.user_satisfaction"] == 0.9
    assert stats["session_count"] == 1
    (journey,) = got["journeys"]
    assert (journey["name"], [s["stage"] for s in journey["stages"]], journey["converted"]) == (
        "onboarding",
        ["account_created"],
        False,
    )


def test_a_journey_that_converts_and_a_drop_off_the_application_saw(live: RunningServer) -> None:
    with threadline.session("sess_e2e_journey", user_id="gwen"):
        for number, stage in enumerate(("signup", "profile", "first_project"), start=1):
            with threadline.turn(f"step {number}") as turn:
                threadline.journey("onboarding", stage, stage_number=number, total_stages=3, converted=number == 3)
                turn.output("ok")
    with threadline.session("sess_e2e_drop", user_id="gwen"):
        with threadline.turn("cancel my plan", input_type="cancel") as turn:
            turn.output("Are you sure you want to cancel?")
        threadline.end_session(reason="user_left", dropped_off=True, agent_last_action="asked_question")
    assert threadline.flush(timeout=30)
    with live.client() as client:
        converted = _session(client, "sess_e2e_journey")
        dropped = _session(client, "sess_e2e_drop")
    (journey,) = converted["journeys"]
    assert (journey["converted"], journey["conversion_turn"], len(journey["stages"])) == (True, 3, 3)
    assert dropped["dropped_off"] is True
    assert (dropped["dropoff"]["last_turn"], dropped["dropoff"]["agent_last_action"]) == (1, "asked_question")


def test_spans_of_other_libraries_join_the_session_without_a_trace_join(
    live: RunningServer, app_provider: TracerProvider
) -> None:
    tracer = app_provider.get_tracer("another.instrumentation")
    # no SDK turn: a trace of its own, that names the session thanks to the SDK's span processor
    with threadline.session("sess_e2e_foreign", user_id="erin"), tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 77})
    assert threadline.flush(timeout=30)
    with live.client() as client:
        got = _session(client, "sess_e2e_foreign")
        stats = client.get("/api/v1/stats").json()
    assert (got["turn_count"], got["input_tokens"], got["user_id"]) == (1, 77, threadline.hash_user_id("erin"))
    assert stats["orphan_trace_count"] == 0


def test_send_run_and_content_capture_off(server: RunningServer) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")
    with configured(exporter=exporter, synchronous=False, capture_content=False, clock=TestClock(time.time())):
        threadline.send_run(
            session_id="sess_e2e_private",
            user_id="frank",
            input="my password is hunter2",
            output="noted",
            start_time=time.time() - 10,
            end_time=time.time() - 7,
            llm_calls=[{"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 30, "output_tokens": 2}],
        )
        assert threadline.flush(timeout=30)
        with server.client() as client:
            got = _session(client, "sess_e2e_private")
            trace_doc = client.get(f"/api/v1/traces/{got['turns'][0]['trace_ids'][0]}").json()
    (turn,) = got["turns"]
    assert (turn["input"], turn["output"], turn["input_tokens"], turn["output_tokens"]) == (None, None, 30, 2)
    assert 2900 <= turn["latency_ms"] <= 3100
    assert "hunter2" not in str(trace_doc)
