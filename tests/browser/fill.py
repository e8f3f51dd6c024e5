"""Data for the browser tests: sessions sent over OTLP, timed relative to now (so the pages' relative times,
statuses and windows are realistic), with content chosen to exercise the pages."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from support.otlp import PROTOBUF, any_value

MINUTE_NS = 60 * 10**9


@dataclass
class Span:
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    trace_id: bytes = field(default_factory=lambda: os.urandom(16))
    span_id: bytes = field(default_factory=lambda: os.urandom(8))
    parent_span_id: bytes = b""


def send(client: httpx.Client, spans: list[Span]) -> None:
    message = ExportTraceServiceRequest()
    scope_spans = message.resource_spans.add().scope_spans.add()
    scope_spans.scope.name = "browser-tests"
    for spec in spans:
        span = scope_spans.spans.add(
            trace_id=spec.trace_id,
            span_id=spec.span_id,
            parent_span_id=spec.parent_span_id,
            name=spec.name,
            start_time_unix_nano=spec.start_ns,
            end_time_unix_nano=spec.end_ns,
        )
        for key, value in spec.attributes.items():
            span.attributes.append(KeyValue(key=key, value=any_value(value)))
        if spec.error is not None:
            span.status.code = 2
            span.status.message = spec.error
    response = client.post("/v1/traces", content=message.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200, response.text


def turn(
    session_id: str,
    start_ns: int,
    *,
    user_id: str = "user-b",
    question: str = "Where is my parcel?",
    answer: str | None = "It ships tomorrow.",
    model: str = "gpt-4o-mini",
    tokens: tuple[int, int] = (120, 30),
    tool: tuple[str, str, str | None] | None = None,
    llm_error: str | None = None,
    root_attributes: dict[str, Any] | None = None,
) -> list[Span]:
    """One turn: a root span, an LLM call with its messages, and a tool call (``(name, arguments, error)``)."""
    root = Span(
        "turn",
        start_ns,
        start_ns + 3 * 10**9,
        {
            "session.id": session_id,
            "user.id": user_id,
            "input.value": question,
            **({"output.value": answer} if answer is not None else {}),
            **(root_attributes or {}),
        },
    )
    spans = [root]
    if tool is not None:
        name, arguments, failure = tool
        spans.append(
            Span(
                f"execute_tool {name}",
                start_ns + 10**9,
                start_ns + 15 * 10**8,
                {
                    "gen_ai.tool.name": name,
                    "gen_ai.tool.call.arguments": arguments,
                    "gen_ai.operation.name": "execute_tool",
                },
                error=failure,
                trace_id=root.trace_id,
                parent_span_id=root.span_id,
            )
        )
    messages = json.dumps(
        [
            {"role": "system", "parts": [{"type": "text", "content": "You are helpful."}]},
            {"role": "user", "parts": [{"type": "text", "content": question}]},
        ]
    )
    spans.append(
        Span(
            f"chat {model}",
            start_ns + 2 * 10**9,
            start_ns + 29 * 10**8,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": tokens[0],
                "gen_ai.usage.output_tokens": tokens[1],
                "gen_ai.input.messages": messages,
                **({"gen_ai.output.messages": _assistant(answer)} if answer else {}),
            },
            error=llm_error,
            trace_id=root.trace_id,
            parent_span_id=root.span_id,
        )
    )
    return spans


def _assistant(text: str) -> str:
    return json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": text}]}])


def now_ns() -> int:
    return time.time_ns()
