"""Run a client app (``apps/*.py``) in a fresh interpreter, then check what Threadline made of it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price

from clients.apps.scenario import APOLOGY, SESSIONS, Session
from support.fake_openai import Call, FakeOpenAI
from support.server import RunningServer

APPS = Path(__file__).resolve().parent / "apps"
PRICED_MODEL = "gpt-4o-mini-2024-07-18"


def run_app(name: str, fake: FakeOpenAI, server: RunningServer, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``apps/<name>.py`` to completion (it flushes its exporters before exiting)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGFUSE_", "LOGFIRE_"))}
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, str(APPS / f"{name}.py"), "--openai", fake.base_url, "--threadline", server.url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=APPS,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stderr


@dataclass
class Expected:
    """What one session must show, computed from what the fake provider answered."""

    session: Session
    calls: list[Call]

    @classmethod
    def of(cls, session: Session, fake: FakeOpenAI) -> Expected:
        messages = {t.message for t in session.turns}
        return cls(session, [c for c in fake.calls if c.user_message in messages])

    def turn_calls(self, number: int) -> list[Call]:
        message = self.session.turns[number - 1].message
        return [c for c in self.calls if c.user_message == message]

    @property
    def input_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.calls if c.status == 200)

    @property
    def output_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.calls if c.status == 200)

    def cached_tokens(self, calls: list[Call] | None = None) -> int:
        return sum(c.cached_tokens for c in (self.calls if calls is None else calls) if c.status == 200)

    @property
    def errored_turns(self) -> list[int]:
        return [n for n, t in enumerate(self.session.turns, start=1) if t.fails]

    @property
    def tool_calls(self) -> int:
        return sum(1 for t in self.session.turns if t.tools)

    def answer(self, number: int) -> str:
        calls = self.turn_calls(number)
        if self.session.turns[number - 1].fails:
            return APOLOGY
        final = calls[-1].answer
        assert final is not None
        return final


def expected_cost(calls: list[Call], *, cache: bool) -> float:
    """What ``genai-prices`` says the successful calls cost (cached tokens priced as such if reported)."""
    total = 0.0
    for call in calls:
        if call.status != 200:
            continue
        usage = Usage(
            input_tokens=call.prompt_tokens,
            cache_read_tokens=call.cached_tokens if cache else 0,
            output_tokens=call.completion_tokens,
        )
        total += float(calc_price(usage, PRICED_MODEL, provider_id="openai").total_price)
    return total


def check_sessions(
    server: RunningServer,
    fake: FakeOpenAI,
    *,
    failed_turn_output: bool = True,
    cache: bool = True,
    cost_sources: frozenset[str] = frozenset({"computed"}),
) -> dict[str, dict[str, Any]]:
    """Everything the sessions API must say about ``SESSIONS``; returns each session's detail.

    ``cache``: the library reports cached prompt tokens (so they are counted and priced as such).
    """
    assert len(fake.calls) == sum(len(s.turns) for s in SESSIONS) + 1  # the tool turn makes two calls
    details: dict[str, dict[str, Any]] = {}
    with server.client() as api:
        stats = api.get("/api/v1/stats").json()
        assert stats["session_count"] == len(SESSIONS)
        assert stats["orphan_trace_count"] == 0
        listed = api.get("/api/v1/sessions", params={"limit": 50}).json()["sessions"]
        assert sorted((s["session_id"], s["user_id"]) for s in listed) == sorted(
            (s.session_id, s.user_id) for s in SESSIONS
        )
        for session in SESSIONS:
            detail = api.get(f"/api/v1/sessions/{session.session_id}").json()
            details[session.session_id] = detail
            _check_session(detail, Expected.of(session, fake), failed_turn_output, cache, cost_sources)
            summary = next(s for s in listed if s["session_id"] == session.session_id)
            for key in ("turn_count", "llm_call_count", "input_tokens", "output_tokens", "total_cost_usd"):
                assert summary[key] == detail[key], key
    return details


def _check_session(
    detail: dict[str, Any], want: Expected, failed_turn_output: bool, cache: bool, cost_sources: frozenset[str]
) -> None:
    session = want.session
    assert detail["user_id"] == session.user_id
    assert detail["turn_count"] == len(session.turns)
    assert detail["llm_call_count"] == len(want.calls)
    assert detail["tool_call_count"] == want.tool_calls
    assert (detail["input_tokens"], detail["output_tokens"]) == (want.input_tokens, want.output_tokens)
    assert detail["input_tokens"] > 0
    assert detail["cache_read_tokens"] == (want.cached_tokens() if cache else 0)
    assert detail["total_cost_usd"] == pytest.approx(expected_cost(want.calls, cache=cache), rel=1e-6)
    assert detail["total_cost_usd"] > 0
    assert detail["cost_source"] in cost_sources
    assert PRICED_MODEL in detail["models"]
    assert detail["first_input"] == session.turns[0].message
    turns = detail["turns"]
    assert [t["turn_number"] for t in turns] == list(range(1, len(session.turns) + 1))
    assert [t["turn_number"] for t in turns if t["error"]] == want.errored_turns
    for turn, spec in zip(turns, session.turns, strict=True):
        number = turn["turn_number"]
        calls = want.turn_calls(number)
        assert turn["input"] == spec.message, number
        if not spec.fails or failed_turn_output:
            assert turn["output"] == want.answer(number), number
        assert turn["llm_call_count"] == len(calls), number
        assert turn["tool_call_count"] == (1 if spec.tools else 0), number
        assert turn["input_tokens"] == sum(c.prompt_tokens for c in calls), number
        assert turn["output_tokens"] == sum(c.completion_tokens for c in calls), number
        if spec.fails:
            assert turn["error_message"], number
        else:
            assert turn["total_cost_usd"] == pytest.approx(expected_cost(calls, cache=cache), rel=1e-6), number
    assert detail["last_output"] == want.answer(len(session.turns))


def tool_turn_trace(
    server: RunningServer, details: dict[str, dict[str, Any]], *, cost_source: str = "computed"
) -> list[dict[str, Any]]:
    """The spans (flattened) of the turn that called ``get_weather``; checks the span tree's shape."""
    session = next(s for s in SESSIONS if any(t.tools for t in s.turns))
    number = next(n for n, t in enumerate(session.turns, start=1) if t.tools)
    turn = details[session.session_id]["turns"][number - 1]
    assert len(turn["trace_ids"]) == 1
    with server.client() as api:
        trace = api.get(f"/api/v1/traces/{turn['trace_ids'][0]}").json()
    assert trace["session_id"] == session.session_id
    spans = _flatten(trace["spans"])
    assert trace["span_count"] == len(spans)
    assert len(trace["spans"]) == 1, "one root span"
    llm = [s for s in spans if s["category"] == "llm"]
    tools = [s for s in spans if s["category"] == "tool"]
    assert len(llm) == 2
    assert [s["tool_name"] for s in tools] == ["get_weather"]
    for span in llm:
        assert span["model"] == PRICED_MODEL
        assert span["input_tokens"] > 0
        assert span["output_tokens"] > 0
        assert span["cost_usd"] > 0
        assert span["cost_source"] == cost_source
    return spans


def _flatten(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for node in nodes:
        out.append(node)
        out.extend(_flatten(node["children"]))
    return out
