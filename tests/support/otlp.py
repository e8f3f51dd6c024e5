"""Build OTLP trace requests (protobuf) by hand for tests that need exact shapes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

PROTOBUF = {"Content-Type": "application/x-protobuf"}
_ids = itertools.count(1)
BASE_NS = 1_800_000_000 * 10**9


def new_trace_id() -> bytes:
    return next(_ids).to_bytes(16, "big")


def new_span_id() -> bytes:
    return next(_ids).to_bytes(8, "big")


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


@dataclass
class SpanSpec:
    """One span to put in a request; ``start_s``/``end_s`` are seconds after ``BASE_NS``."""

    trace_id: bytes
    span_id: bytes = field(default_factory=new_span_id)
    parent_span_id: bytes = b""
    name: str = "span"
    start_s: float = 0.0
    end_s: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def request(*spans: SpanSpec, service: str = "test-app") -> bytes:
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=any_value(service)))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    for spec in spans:
        span = scope_spans.spans.add(
            trace_id=spec.trace_id,
            span_id=spec.span_id,
            parent_span_id=spec.parent_span_id,
            name=spec.name,
            start_time_unix_nano=BASE_NS + int(spec.start_s * 1e9),
            end_time_unix_nano=BASE_NS + int(spec.end_s * 1e9),
        )
        for key, value in spec.attributes.items():
            span.attributes.append(KeyValue(key=key, value=any_value(value)))
        if spec.error is not None:
            span.status.code = 2
            span.status.message = spec.error
    return message.SerializeToString()


def turn(
    session_id: str | None,
    *,
    start_s: float,
    user_id: str | None = "user-1",
    question: str = "What is the weather?",
    answer: str = "Sunny.",
    input_tokens: int = 100,
    output_tokens: int = 20,
    model: str = "gpt-4o-mini",
    extra: dict[str, Any] | None = None,
) -> list[SpanSpec]:
    """A two-span turn: a root span naming the session, and one LLM call under it."""
    trace_id = new_trace_id()
    root_attrs: dict[str, Any] = {"input.value": question, "output.value": answer, **(extra or {})}
    if session_id is not None:
        root_attrs["session.id"] = session_id
    if user_id is not None:
        root_attrs["user.id"] = user_id
    root = SpanSpec(trace_id, name="turn", start_s=start_s, end_s=start_s + 2, attributes=root_attrs)
    llm = SpanSpec(
        trace_id,
        parent_span_id=root.span_id,
        name=f"chat {model}",
        start_s=start_s + 0.5,
        end_s=start_s + 1.5,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
        },
    )
    return [root, llm]
