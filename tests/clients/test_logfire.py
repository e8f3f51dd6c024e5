"""Pydantic Logfire's SDK and OpenAI instrumentation, exporting to Threadline only."""

from __future__ import annotations

from typing import Any

import pytest

from clients.apps.scenario import SESSIONS
from clients.harness import Expected, check_sessions, run_app, tool_turn_trace
from support.fake_openai import FakeOpenAI
from support.server import RunningServer

pytestmark = pytest.mark.slow


def test_logfire_openai(fake_openai: FakeOpenAI, threadline: RunningServer) -> None:
    run_app("logfire_openai", fake_openai, threadline)
    # Logfire prices each call itself (operation.cost, cached tokens at their price).
    details = check_sessions(threadline, fake_openai, cost_sources=frozenset({"given"}))
    spans = tool_turn_trace(threadline, details, cost_source="given")
    (tool,) = [s for s in spans if s["category"] == "tool"]
    # A value Logfire's scrubber replaced is no value (conventions, general rule 6): the trace keeps its session.
    assert tool["attributes"]["session_id"].startswith("[Scrubbed due to ")
    assert (tool["input"], tool["output"]) == ('{"city": "Paris"}', "sunny and 21 degrees")

    # A streamed call: the request span has no usage; a sibling log-type span reports it, counted once.
    streamed = details["sess-alice"]["turns"][2]
    (call,) = [c for c in fake_openai.calls if c.user_message == "Write a two line poem about rain."]
    assert call.stream
    with threadline.client() as api:
        trace = api.get(f"/api/v1/traces/{streamed['trace_ids'][0]}").json()
    children = trace["spans"][0]["children"]
    request, log = sorted(children, key=lambda s: s["attributes"]["logfire.span_type"] == "log")
    assert request["attributes"]["logfire.span_type"] == "span"
    assert (request["input_tokens"], request["output_tokens"]) == (None, None)
    assert log["attributes"]["logfire.span_type"] == "log"
    assert (log["input_tokens"], log["output_tokens"]) == (call.prompt_tokens, call.completion_tokens)
    assert (streamed["llm_call_count"], streamed["input_tokens"]) == (1, call.prompt_tokens)
    assert streamed["output"] == call.answer
    _check_turn_spans_are_not_calls(threadline, fake_openai, details)


def _check_turn_spans_are_not_calls(
    server: RunningServer, fake: FakeOpenAI, details: dict[str, dict[str, Any]]
) -> None:
    """The app's own ``chat turn N`` span has no GenAI attribute: only the real calls count (rule 6)."""
    with server.client() as api:
        for session in SESSIONS:
            want = Expected.of(session, fake)
            for turn in details[session.session_id]["turns"]:
                number = turn["turn_number"]
                assert turn["llm_call_count"] == len(want.turn_calls(number)) > 0, number
                (trace_id,) = turn["trace_ids"]
                (root,) = api.get(f"/api/v1/traces/{trace_id}").json()["spans"]
                assert (root["name"], root["category"]) == (f"chat turn {number}", "other")
