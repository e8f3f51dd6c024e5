"""``openinference-instrumentation-openai``: session and user from ``using_session`` / ``using_user``."""

from __future__ import annotations

import pytest

from clients.harness import check_sessions, run_app, tool_turn_trace
from support.fake_openai import FakeOpenAI
from support.server import RunningServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("genai_semconv", [False, True], ids=["openinference", "with-genai-semconv"])
def test_openinference_openai(fake_openai: FakeOpenAI, threadline: RunningServer, genai_semconv: bool) -> None:
    env = {"OPENINFERENCE_ENABLE_GENAI_SEMCONV": "true"} if genai_semconv else {}
    run_app("openinference_openai", fake_openai, threadline, env=env)
    details = check_sessions(threadline, fake_openai)
    spans = tool_turn_trace(threadline, details)
    llm = [s for s in spans if s["category"] == "llm"]
    # Two conventions on one span are read once, never summed (conventions, general rule 8).
    if genai_semconv:
        assert all("gen_ai.usage.input_tokens" in s["attributes"] for s in llm)
    assert all(s["attributes"]["llm.token_count.prompt"] == s["input_tokens"] for s in llm)
    assert all(s["attributes"]["session.id"] == "sess-alice" for s in spans)
    (tool,) = [s for s in spans if s["category"] == "tool"]
    assert (tool["input"], tool["output"]) == ('{"city": "Paris"}', "sunny and 21 degrees")
