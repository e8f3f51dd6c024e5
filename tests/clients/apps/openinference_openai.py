"""``openinference-instrumentation-openai`` with ``using_session`` / ``using_user``.

Every span the instrumentation makes (and the app's own OpenInference chain and tool spans) carries
``session.id`` and ``user.id`` from the context. ``OPENINFERENCE_ENABLE_GENAI_SEMCONV=true`` makes the
LLM spans carry the OTel GenAI attributes as well (two conventions on one span).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from openinference.instrumentation import OITracer, TracerProvider, using_session, using_user
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from scenario import Hooks, Session, ToolSpan, TurnSpan, main


class _Output(TurnSpan, ToolSpan):
    def __init__(self, span: Any) -> None:
        self.span = span

    def done(self, value: str) -> None:
        self.span.set_output(value)


class OpenInferenceHooks(Hooks):
    def __init__(self, tracer: OITracer) -> None:
        self.tracer = tracer

    @contextmanager
    def turn(self, session: Session, number: int, message: str) -> Iterator[TurnSpan]:
        with (
            using_session(session.session_id),
            using_user(session.user_id),
            self.tracer.start_as_current_span("travel-assistant", openinference_span_kind="chain") as span,
        ):
            span.set_input(message)
            yield _Output(span)

    @contextmanager
    def tool(self, name: str, call_id: str, arguments: str) -> Iterator[ToolSpan]:
        with self.tracer.start_as_current_span(name, openinference_span_kind="tool") as span:
            span.set_tool(name=name, parameters={"type": "object"})
            span.set_input(arguments, mime_type="application/json")
            yield _Output(span)


def setup(args: argparse.Namespace) -> tuple[Any, Hooks, Callable[[], None]]:
    provider = TracerProvider(resource=Resource.create({"service.name": "openinference-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{args.threadline}/v1/traces")))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=args.openai, api_key="sk-test", max_retries=0)

    def flush() -> None:
        provider.force_flush()
        instrumentor.uninstrument()
        provider.shutdown()

    tracer = provider.get_tracer("openinference-app")
    assert isinstance(tracer, OITracer)
    return client, OpenInferenceHooks(tracer), flush


if __name__ == "__main__":
    main(setup)
