"""The OpenTelemetry SDK and OTLP/HTTP exporter by hand, with the OTel GenAI conventions.

The session id (``gen_ai.conversation.id``) and user id are on each turn's root span only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from scenario import MODEL, Hooks, LlmSpan, Session, ToolSpan, TurnSpan, main


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _input_messages(request: dict[str, Any]) -> str:
    out = []
    for m in request["messages"]:
        if m["role"] == "system":
            continue
        parts: list[dict[str, Any]] = []
        if m.get("content"):
            kind = "tool_call_response" if m["role"] == "tool" else "text"
            parts.append({"type": kind, "content": m["content"]})
        for call in m.get("tool_calls") or []:
            parts.append({"type": "tool_call", "id": call["id"], "name": call["function"]["name"]})
        out.append({"role": m["role"], "parts": parts})
    return json.dumps(out)


class _Turn(TurnSpan):
    def __init__(self, span: Span) -> None:
        self.span = span

    def done(self, answer: str) -> None:
        self.span.set_attribute("gen_ai.output.messages", _messages("assistant", answer))


class _Llm(LlmSpan):
    def __init__(self, span: Span) -> None:
        self.span = span

    def done(self, text: str | None, tool_calls: list[Any], usage: Any, model: str | None) -> None:
        if model:
            self.span.set_attribute("gen_ai.response.model", model)
        if usage is not None:
            self.span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
            self.span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
            self.span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.prompt_tokens_details.cached_tokens)
        parts: list[dict[str, Any]] = [{"type": "text", "content": text}] if text else []
        parts += [{"type": "tool_call", "id": c.id, "name": c.function.name} for c in tool_calls]
        self.span.set_attribute("gen_ai.output.messages", json.dumps([{"role": "assistant", "parts": parts}]))
        self.span.set_attribute("gen_ai.response.finish_reasons", ["tool_calls" if tool_calls else "stop"])


class _Tool(ToolSpan):
    def __init__(self, span: Span) -> None:
        self.span = span

    def done(self, result: str) -> None:
        self.span.set_attribute("gen_ai.tool.call.result", result)


class GenAiHooks(Hooks):
    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    @contextmanager
    def turn(self, session: Session, number: int, message: str) -> Iterator[TurnSpan]:
        attributes = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "travel-assistant",
            "gen_ai.conversation.id": session.session_id,
            "user.id": session.user_id,
            "gen_ai.input.messages": _messages("user", message),
        }
        with self.tracer.start_as_current_span("invoke_agent travel-assistant", attributes=attributes) as span:
            yield _Turn(span)

    @contextmanager
    def llm(self, request: dict[str, Any]) -> Iterator[LlmSpan]:
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": request["model"],
            "server.address": "127.0.0.1",
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": request["messages"][0]["content"]}]),
            "gen_ai.input.messages": _input_messages(request),
        }
        with self.tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT, attributes=attributes) as span:
            try:
                yield _Llm(span)
            except openai.APIStatusError as error:
                span.set_attribute("error.type", str(error.status_code))
                span.set_status(Status(StatusCode.ERROR, str(error)))
                raise

    @contextmanager
    def tool(self, name: str, call_id: str, arguments: str) -> Iterator[ToolSpan]:
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.call.arguments": arguments,
        }
        with self.tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes) as span:
            yield _Tool(span)


def setup(args: argparse.Namespace) -> tuple[Any, Hooks, Callable[[], None]]:
    provider = TracerProvider(resource=Resource.create({"service.name": "plain-otel-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{args.threadline}/v1/traces")))
    client = openai.OpenAI(base_url=args.openai, api_key="sk-test", max_retries=0)

    def flush() -> None:
        provider.force_flush()
        provider.shutdown()

    return client, GenAiHooks(provider.get_tracer("plain-otel-app")), flush


if __name__ == "__main__":
    main(setup)
