"""The documented examples, run as an application runs them (own process, fake OpenAI on loopback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import threadline
from support.fake_openai import FakeOpenAI, run_fake_openai
from support.server import RunningServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def fake() -> Any:
    with run_fake_openai() as running:
        yield running


def _run(name: str, fake: FakeOpenAI, server: RunningServer) -> tuple[str, dict[str, Any], dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "THREADLINE_", "OPENAI_"))}
    env["OPENAI_API_KEY"] = "sk-test"
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--openai", fake.base_url, "--threadline", server.url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    session_id = done.stdout.strip().splitlines()[-1]
    with server.client() as client:
        session = client.get(f"/api/v1/sessions/{session_id}").json()
        trace = client.get(f"/api/v1/traces/{session['turns'][0]['trace_ids'][0]}").json()
    return session_id, session, trace


def test_langgraph_state_carries_the_session_and_turn_number(fake: FakeOpenAI, server: RunningServer) -> None:
    session_id, session, trace = _run("langgraph_agent", fake, server)
    ok = [c for c in fake.calls if c.status == 200]
    assert session_id.startswith("sess_")
    assert session["user_id"] == threadline.hash_user_id("ana@example.com", salt="")
    assert [(t["turn_number"], t["llm_call_count"], t["tool_call_count"]) for t in session["turns"]] == [
        (1, 2, 1),
        (2, 1, 0),
        (3, 1, 0),
    ]
    assert session["turns"][0]["input"] == "What's the weather in Paris?"
    assert session["turns"][0]["output"] == "It is 18°C and cloudy in Paris right now."
    assert session["input_tokens"] == sum(c.prompt_tokens for c in ok)
    assert session["output_tokens"] == sum(c.completion_tokens for c in ok)
    (root,) = trace["spans"]
    assert root["attributes"]["turn.tool_calls"] == 1
    assert {child["category"] for child in root["children"]} == {"llm", "tool"}


def test_openinference_spans_inside_a_session_need_no_trace_join(fake: FakeOpenAI, server: RunningServer) -> None:
    _, session, trace = _run("openinference_openai", fake, server)
    ok = [c for c in fake.calls if c.status == 200]
    assert (session["turn_count"], session["llm_call_count"]) == (3, 3)
    assert session["input_tokens"] == sum(c.prompt_tokens for c in ok)
    assert [t["error"] for t in session["turns"]] == [False, False, True]
    assert session["turns"][2]["error_message"].startswith("Error code: 500")
    assert session["turns"][0]["output"] == fake.calls[0].answer
    (root,) = trace["spans"]
    (llm,) = root["children"]
    assert llm["category"] == "llm"
    assert llm["scope"]["name"].startswith("openinference")
    assert llm["attributes"]["session.id"] == session["session_id"]
    assert llm["attributes"]["user.id"] == session["user_id"]
