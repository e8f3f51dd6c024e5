"""Pydantic Logfire's SDK with its OpenAI instrumentation, exporting only to Threadline.

``send_to_logfire=False`` and an extra OTLP/HTTP span processor. Logfire scrubs attribute values whose
name looks sensitive (``session`` is one of its patterns): the app allows ``session.id`` through its
scrubbing callback, as Logfire's documentation shows, and leaves a ``session_id`` attribute on the
tool span scrubbed, which Threadline must ignore. A streamed call's usage arrives on a sibling
"streaming response" log-type span. Each turn's own span is named ``chat turn N`` and carries no GenAI
attribute: it wraps the real instrumented calls and is not an LLM call itself.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import logfire
import openai
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from scenario import Hooks, Session, ToolSpan, TurnSpan, main

ALLOWED = frozenset({"session.id"})


def _allow_session_ids(match: logfire.ScrubMatch) -> Any:
    return match.value if match.path[-1] in ALLOWED else None


class _Answer(TurnSpan):
    def __init__(self, span: Any) -> None:
        self.span = span

    def done(self, answer: str) -> None:
        self.span.set_attribute("output.value", answer)


class _Tool(ToolSpan):
    def __init__(self, span: Any) -> None:
        self.span = span

    def done(self, result: str) -> None:
        self.span.set_attribute("gen_ai.tool.call.result", result)


class LogfireHooks(Hooks):
    def __init__(self) -> None:
        self.session: Session | None = None

    @contextmanager
    def turn(self, session: Session, number: int, message: str) -> Iterator[TurnSpan]:
        self.session = session
        attributes = {"session.id": session.session_id, "user.id": session.user_id, "input.value": message}
        # The app's own span, no GenAI attribute, named like an LLM call: it must not count as one.
        with logfire.span("chat turn {number}", _span_name=f"chat turn {number}", number=number, **attributes) as span:
            yield _Answer(span)

    @contextmanager
    def tool(self, name: str, call_id: str, arguments: str) -> Iterator[ToolSpan]:
        assert self.session is not None
        attributes = {
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.call.arguments": arguments,
            "session_id": self.session.session_id,  # scrubbed by Logfire's default patterns
        }
        with logfire.span("running tool {tool}", tool=name, **attributes) as span:
            yield _Tool(span)


def setup(args: argparse.Namespace) -> tuple[Any, Hooks, Callable[[], None]]:
    logfire.configure(
        send_to_logfire=False,
        console=False,
        service_name="logfire-app",
        additional_span_processors=[BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{args.threadline}/v1/traces"))],
        scrubbing=logfire.ScrubbingOptions(callback=_allow_session_ids),
        metrics=False,
    )
    client = openai.OpenAI(base_url=args.openai, api_key="sk-test", max_retries=0)
    logfire.instrument_openai(client)

    def flush() -> None:
        logfire.force_flush()
        logfire.shutdown()

    return client, LogfireHooks(), flush


if __name__ == "__main__":
    main(setup)
