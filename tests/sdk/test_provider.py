"""``configure`` joins the application's TracerProvider, and creates one only when there is none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import threadline
from threadline.testing import CapturingExporter, reset_otel_globals


@pytest.fixture
def fresh_globals() -> Iterator[None]:
    provider = trace.get_tracer_provider()
    reset_otel_globals()
    yield
    threadline.shutdown()
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        current.shutdown()
    reset_otel_globals()
    if not isinstance(provider, trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)


@pytest.mark.usefixtures("fresh_globals")
def test_joins_the_global_sdk_provider_the_application_set() -> None:
    app_exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(app_exporter))
    trace.set_tracer_provider(app_provider)
    ours = CapturingExporter()
    threadline.configure(exporter=ours)
    threadline.configure(exporter=ours)  # configuring twice adds nothing twice
    assert trace.get_tracer_provider() is app_provider
    with threadline.session("sess_join"), trace.get_tracer("app").start_as_current_span("app work"):
        pass
    threadline.flush()
    # both pipelines export the span, stamped with the session id
    assert [s.attributes["session.id"] for s in app_exporter.get_finished_spans()] == ["sess_join"]
    assert [s.attributes["session.id"] for s in ours.spans] == ["sess_join"]


@pytest.mark.usefixtures("fresh_globals")
def test_creates_and_sets_a_provider_when_there_is_none() -> None:
    ours = CapturingExporter()
    threadline.configure(exporter=ours, service_name="checkout-agent")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    assert provider.resource.attributes["service.name"] == "checkout-agent"
    with threadline.session("sess_new"), trace.get_tracer("lib").start_as_current_span("lib span"):
        pass
    threadline.flush()
    assert [s.name for s in ours.spans] == ["lib span"]


@pytest.mark.usefixtures("fresh_globals")
def test_used_before_configure_it_configures_itself_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLINE_ENABLED", "false")
    with threadline.session("sess_env"), threadline.turn("x") as turn:
        turn.output("y")
    assert not threadline.stats().spans_exported
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # disabled: nothing set up
