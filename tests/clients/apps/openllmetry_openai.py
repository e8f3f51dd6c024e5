"""``opentelemetry-instrumentation-openai`` (OpenLLMetry) under the app's own OpenTelemetry spans.

The session and user ids are only on each turn's root span (the instrumentation's LLM spans carry
none): Threadline joins the rest of the trace by trace id. Tools are traced the way traceloop's
``@tool`` decorator does it. With ``--events``, prompts and answers travel as OTel log records
(``use_attributes=False``) to ``/v1/logs`` instead of span attributes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Tracer
from scenario import Hooks, Session, ToolSpan, TurnSpan, main


class _Entity(TurnSpan, ToolSpan):
    def __init__(self, span: Span) -> None:
        self.span = span

    def done(self, value: str) -> None:
        self.span.set_attribute("traceloop.entity.output", json.dumps(value))


class OpenLLMetryHooks(Hooks):
    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    @contextmanager
    def turn(self, session: Session, number: int, message: str) -> Iterator[TurnSpan]:
        attributes = {
            "session.id": session.session_id,
            "user.id": session.user_id,
            "traceloop.span.kind": "workflow",
            "traceloop.entity.name": "travel_assistant",
            "traceloop.entity.input": json.dumps({"args": [], "kwargs": {"message": message}}),
        }
        with self.tracer.start_as_current_span("travel_assistant.workflow", attributes=attributes) as span:
            yield _Entity(span)

    @contextmanager
    def tool(self, name: str, call_id: str, arguments: str) -> Iterator[ToolSpan]:
        attributes = {
            "traceloop.span.kind": "tool",
            "traceloop.entity.name": name,
            "traceloop.entity.input": json.dumps({"args": [], "kwargs": json.loads(arguments)}),
        }
        with self.tracer.start_as_current_span(f"{name}.tool", attributes=attributes) as span:
            yield _Entity(span)


def setup(args: argparse.Namespace) -> tuple[Any, Hooks, Callable[[], None]]:
    resource = Resource.create({"service.name": "openllmetry-app"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{args.threadline}/v1/traces")))
    events = "--events" in sys.argv
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{args.threadline}/v1/logs")))
    instrumentor = OpenAIInstrumentor(use_attributes=not events)
    instrumentor.instrument(tracer_provider=provider, logger_provider=logs)
    client = openai.OpenAI(base_url=args.openai, api_key="sk-test", max_retries=0)

    def flush() -> None:
        provider.force_flush()
        logs.force_flush()
        instrumentor.uninstrument()
        provider.shutdown()
        logs.shutdown()

    return client, OpenLLMetryHooks(provider.get_tracer("openllmetry-app")), flush


if __name__ == "__main__":
    main(setup)
