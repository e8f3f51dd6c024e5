"""The bare OpenTelemetry SDK with hand-made GenAI spans; the session id only on each turn's root."""

from __future__ import annotations

import pytest

from clients.harness import check_sessions, run_app, tool_turn_trace
from support.fake_openai import FakeOpenAI
from support.server import RunningServer

pytestmark = pytest.mark.slow


def test_plain_otel_sdk(fake_openai: FakeOpenAI, threadline: RunningServer) -> None:
    run_app("plain_otel", fake_openai, threadline)
    details = check_sessions(threadline, fake_openai)
    spans = tool_turn_trace(threadline, details)
    (tool,) = [s for s in spans if s["category"] == "tool"]
    assert (tool["input"], tool["output"]) == ('{"city": "Paris"}', "sunny and 21 degrees")
    (root,) = [s for s in spans if s["parent_span_id"] is None]
    assert root["category"] == "agent"
    failed = details["sess-bob"]["turns"][1]
    assert "Error code: 400" in failed["error_message"]
