"""Langfuse's Python SDK (v3+, OTel-based) exporting to Threadline's Langfuse-compatible OTLP path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clients.harness import check_sessions, run_app, tool_turn_trace
from support.fake_openai import FakeOpenAI
from support.server import RunningServer

pytestmark = pytest.mark.slow


def test_langfuse_openai_integration(fake_openai: FakeOpenAI, threadline: RunningServer) -> None:
    """``langfuse.openai``: generations carry OpenAI's usage dict (cache inside prompt_tokens_details)."""
    run_app("langfuse_sdk", fake_openai, threadline)
    # The integration reports a failed call's cost as 0 (given); the other calls are priced here.
    details = check_sessions(threadline, fake_openai, cost_sources=frozenset({"computed", "mixed"}))
    assert details["sess-alice"]["cost_source"] == "computed"
    assert details["sess-bob"]["cost_source"] == "mixed"
    failed = details["sess-bob"]["turns"][1]
    assert failed["total_cost_usd"] == 0.0
    assert "Simulated 400 error" in failed["error_message"]
    spans = tool_turn_trace(threadline, details)
    _check_langfuse_attributes(spans)
    for span in (s for s in spans if s["category"] == "llm"):
        usage = json.loads(span["attributes"]["langfuse.observation.usage_details"])
        assert span["input_tokens"] == usage["prompt_tokens"]
        assert span["cache_read_tokens"] == usage["prompt_tokens_details"]["cached_tokens"] > 0


def test_langfuse_generations_by_hand(fake_openai: FakeOpenAI, threadline: RunningServer) -> None:
    """Generations with Langfuse's own usage keys (``input`` excludes cache) and ``cost_details``."""
    run_app("langfuse_sdk", fake_openai, threadline, "--by-hand")
    details = check_sessions(threadline, fake_openai, cost_sources=frozenset({"given"}))
    failed = details["sess-bob"]["turns"][1]
    assert failed["total_cost_usd"] is None  # no cost reported for the failed call, none computed
    assert "Simulated 400 error" in failed["error_message"]
    spans = tool_turn_trace(threadline, details, cost_source="given")
    _check_langfuse_attributes(spans)
    for span in (s for s in spans if s["category"] == "llm"):
        usage = json.loads(span["attributes"]["langfuse.observation.usage_details"])
        cost = json.loads(span["attributes"]["langfuse.observation.cost_details"])
        assert span["input_tokens"] == usage["input"] + usage["input_cached_tokens"]
        assert span["cache_read_tokens"] == usage["input_cached_tokens"] > 0
        assert span["cost_usd"] == pytest.approx(cost["total"])
        assert span["cost_source"] == "given"


def _check_langfuse_attributes(spans: list[dict[str, Any]]) -> None:
    by_type = {s["attributes"]["langfuse.observation.type"]: s for s in spans}
    assert set(by_type) == {"agent", "generation", "tool"}
    assert by_type["agent"]["category"] == "agent"
    assert by_type["agent"]["input"] == "What is the weather in Paris today?"
    assert by_type["agent"]["output"] == "It is sunny and 21 degrees in Paris right now."
    assert by_type["tool"]["input"] == '{"city": "Paris"}'
    assert by_type["tool"]["output"] == "sunny and 21 degrees"
    assert all(s["attributes"]["session.id"] == "sess-alice" for s in spans)
    assert all(s["attributes"]["user.id"] == "alice" for s in spans)
