"""Spans of the popular OpenAI instrumentations, made inside a session and a turn, carry the session.

The instrumentations are real; the OpenAI endpoint is a fake one on loopback.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import threadline
from support.fake_openai import FakeOpenAI, run_fake_openai
from threadline.testing import Capture

INSTRUMENTORS = {
    "openinference": "openinference.instrumentation.openai",
    "openllmetry": "opentelemetry.instrumentation.openai",
    "otel-genai": "opentelemetry.instrumentation.openai_v2",
}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with run_fake_openai() as running:
        yield running


@pytest.fixture(params=sorted(INSTRUMENTORS))
def instrumented(request: pytest.FixtureRequest, threadline_capture: Capture) -> Iterator[str]:
    instrumentor: Any = importlib.import_module(INSTRUMENTORS[request.param]).OpenAIInstrumentor()
    with warnings.catch_warnings():  # OpenLLMetry's models still use pydantic's class-based config
        warnings.filterwarnings("ignore", "Support for class-based `config` is deprecated")
        instrumentor.instrument(tracer_provider=threadline_capture.provider)
    try:
        yield request.param
    finally:
        instrumentor.uninstrument()


def test_llm_spans_of_instrumentations_join_the_turn_and_session(
    instrumented: str, threadline_capture: Capture, fake: FakeOpenAI
) -> None:
    with (
        openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0) as client,
        threadline.session("sess_lib", user_id="kim"),
        threadline.turn("Plan a day in Porto") as turn,
    ):
        response = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Plan a day in Porto"}]
        )
        turn.output(response.choices[0].message.content)
    turn_span = threadline_capture.spans[-1]
    (llm,) = [s for s in threadline_capture.spans if s.instrumentation_scope.name != "threadline"]
    assert llm.parent.span_id == turn_span.context.span_id
    assert {k: llm.attributes[k] for k in ("session.id", "user.id", "conversation.id", "conversation.turn_number")} == {
        "session.id": "sess_lib",
        "user.id": threadline.hash_user_id("kim"),
        "conversation.id": "sess_lib",
        "conversation.turn_number": 1,
    }
