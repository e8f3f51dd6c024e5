"""``opentelemetry-instrumentation-openai`` (OpenLLMetry): the session id only on the app's root span."""

from __future__ import annotations

import pytest

from clients.harness import check_sessions, run_app, tool_turn_trace
from support.fake_openai import FakeOpenAI
from support.server import RunningServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", ["attributes", "events"])
def test_openllmetry_openai(fake_openai: FakeOpenAI, threadline: RunningServer, mode: str) -> None:
    run_app("openllmetry_openai", fake_openai, threadline, *(["--events"] if mode == "events" else []))
    details = check_sessions(threadline, fake_openai)
    spans = tool_turn_trace(threadline, details)
    (root,) = [s for s in spans if s["parent_span_id"] is None]
    assert root["attributes"]["session.id"] == "sess-alice"
    assert all("session.id" not in s["attributes"] for s in spans if s is not root)
    (tool,) = [s for s in spans if s["category"] == "tool"]
    assert tool["output"] == "sunny and 21 degrees"
    llm = [s for s in spans if s["category"] == "llm"]
    assert [s["input"] for s in llm] == ["What is the weather in Paris today?"] * 2
    assert llm[-1]["output"] == details["sess-alice"]["turns"][1]["output"]
