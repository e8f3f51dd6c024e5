"""Valid and near-valid values that used to cost a whole request (HTTP 500) now cost at most their own span,
through the real server (docs/conventions.md, "Limits and bad values")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.otlp import BASE_NS, PROTOBUF, SpanSpec, new_span_id, new_trace_id, request, turn
from support.server import RunningServer, run_server

JSON = {"Content-Type": "application/json"}
INT64_MAX = 2**63 - 1


def _post(server: RunningServer, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with server.client() as client:
        return client.post(path, content=body, headers=headers)


def _get(server: RunningServer, path: str) -> Any:
    with server.client() as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def _partial(response: httpx.Response) -> tuple[int, str]:
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("application/json"):
        partial = response.json().get("partialSuccess", {})
        return int(partial.get("rejectedSpans", 0)), partial.get("errorMessage", "")
    parsed = ExportTraceServiceResponse()
    parsed.ParseFromString(response.content)
    return parsed.partial_success.rejected_spans, parsed.partial_success.error_message


def _spans(server: RunningServer, trace_id: bytes) -> dict[str, dict[str, Any]]:
    """The stored spans of a trace, by name."""
    found: dict[str, dict[str, Any]] = {}
    pending = list(_get(server, f"/api/v1/traces/{trace_id.hex()}")["spans"])
    while pending:
        span = pending.pop()
        found[span["name"]] = span
        pending.extend(span.get("children", []))
    return found


def _pb(*spans: Span) -> bytes:
    message = ExportTraceServiceRequest()
    message.resource_spans.add().scope_spans.add().spans.extend(spans)
    return message.SerializeToString()


def _pb_span(trace_id: bytes, name: str, start: int = BASE_NS, end: int = BASE_NS + 10**9, **attrs: AnyValue) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=new_span_id(),
        name=name,
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[KeyValue(key=k, value=v) for k, v in attrs.items()],
    )


def _json_body(*spans: dict[str, Any], scope: Any = None, resource: Any = None) -> bytes:
    scope_spans: dict[str, Any] = {"spans": list(spans)}
    if scope is not None:
        scope_spans["scope"] = scope
    resource_spans: dict[str, Any] = {"scopeSpans": [scope_spans]}
    if resource is not None:
        resource_spans["resource"] = resource
    return orjson.dumps({"resourceSpans": [resource_spans]})


def _json_span(trace_id: bytes, name: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "traceId": trace_id.hex(),
        "spanId": new_span_id().hex(),
        "name": name,
        "startTimeUnixNano": str(BASE_NS),
        "endTimeUnixNano": str(BASE_NS + 10**9),
    }
    doc.update(fields)
    return doc


def _session_attrs(session: str, user: str = "u-hostile") -> list[dict[str, Any]]:
    return [
        {"key": "session.id", "value": {"stringValue": session}},
        {"key": "user.id", "value": {"stringValue": user}},
    ]


# --- times ---------------------------------------------------------------------------------------


def test_protobuf_times_past_int64_refuse_only_their_spans(server: RunningServer) -> None:
    trace_id = new_trace_id()
    bad_end = _pb_span(trace_id, "end in 2262", end=2**64 - 1)
    bad_event = _pb_span(trace_id, "event in 2262")
    bad_event.events.add(name="e", time_unix_nano=2**63)
    good = _pb_span(trace_id, "good", **{"session.id": AnyValue(string_value="s-times")})
    rejected, message = _partial(_post(server, "/v1/traces", _pb(bad_end, bad_event, good), PROTOBUF))
    assert rejected == 2
    assert "2^63" in message
    assert list(_spans(server, trace_id)) == ["good"]


@pytest.mark.parametrize("value", [str(2**63), 2**64 - 1, 1e19, "-1", -5])
def test_json_times_out_of_range_refuse_only_their_spans(server: RunningServer, value: Any) -> None:
    trace_id = new_trace_id()
    body = _json_body(
        _json_span(trace_id, "bad start", startTimeUnixNano=value),
        _json_span(trace_id, "bad event", events=[{"name": "e", "timeUnixNano": value}]),
        _json_span(trace_id, "good"),
    )
    rejected, message = _partial(_post(server, "/v1/traces", body, JSON))
    assert (rejected, "2^63" in message) == (2, True)
    assert list(_spans(server, trace_id)) == ["good"]


def test_absurd_but_representable_times_are_stored_and_read(server: RunningServer) -> None:
    trace_id = new_trace_id()
    spans = [
        _pb_span(trace_id, "ends before it starts", start=BASE_NS, end=BASE_NS - 10**15),
        _pb_span(trace_id, "from 1970 to 2262", start=0, end=INT64_MAX, **{"session.id": AnyValue(string_value="s-x")}),
    ]
    assert _partial(_post(server, "/v1/traces", _pb(*spans), PROTOBUF)) == (0, "")
    assert set(_spans(server, trace_id)) == {"ends before it starts", "from 1970 to 2262"}
    session = _get(server, "/api/v1/sessions/s-x")
    assert session["duration_ms"] >= 0
    _get(server, "/api/v1/sessions")
    _get(server, "/api/v1/analytics/sessions")


def test_log_records_with_times_past_int64_are_kept(server: RunningServer) -> None:
    trace_id, span_id = new_trace_id(), new_span_id()
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add(
        trace_id=trace_id,
        span_id=span_id,
        time_unix_nano=2**64 - 1,
        event_name="gen_ai.user.message",
        body=AnyValue(string_value="Where is my order?"),
    )
    assert _post(server, "/v1/logs", logs.SerializeToString(), PROTOBUF).status_code == 200
    root = SpanSpec(
        trace_id, span_id=span_id, name="chat gpt-4o", attributes={"session.id": "s-logs", "gen_ai.system": "x"}
    )
    assert _post(server, "/v1/traces", request(root), PROTOBUF).status_code == 200
    assert _get(server, "/api/v1/sessions/s-logs")["first_input"] == "Where is my order?"


# --- values --------------------------------------------------------------------------------------


def test_json_integers_past_int64_are_kept_as_text(server: RunningServer) -> None:
    trace_id = new_trace_id()
    attributes = [
        {"key": "big", "value": {"intValue": str(2**64)}},
        {"key": "bigger", "value": {"intValue": 2**64 - 1}},
        {"key": "nested", "value": {"arrayValue": {"values": [{"intValue": "-" + "9" * 40}]}}},
        {"key": "odd", "value": {"stringValue": {"n": 2**64 - 1}}},
    ]
    body = _json_body(_json_span(trace_id, "big numbers", attributes=attributes))
    assert _partial(_post(server, "/v1/traces", body, JSON)) == (0, "")
    stored = _spans(server, trace_id)["big numbers"]["attributes"]
    assert stored == {
        "big": str(2**64),
        "bigger": str(2**64 - 1),
        "nested": ["-" + "9" * 40],
        "odd": {"n": str(2**64 - 1)},
    }


BAD_TOKENS = [float("inf"), float("-inf"), float("nan"), 1e300, -5.0, 2.5]


@pytest.mark.parametrize("value", BAD_TOKENS, ids=repr)
def test_bad_token_counts_are_ignored_and_the_span_kept(server: RunningServer, value: float) -> None:
    session = f"s-tokens-{value}"
    spans = turn(session, start_s=0, input_tokens=100, output_tokens=20)
    bad = SpanSpec(
        spans[0].trace_id,
        parent_span_id=spans[0].span_id,
        name="chat gpt-4o-mini",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": value,
            "gen_ai.usage.output_tokens": value,
            "threadline.cost.usd": value,
        },
    )
    assert _partial(_post(server, "/v1/traces", request(*spans, bad), PROTOBUF)) == (0, "")
    detail = _get(server, f"/api/v1/sessions/{session}")
    assert (detail["span_count"], detail["input_tokens"], detail["output_tokens"]) == (3, 100, 20)


def test_bad_langfuse_usage_details_are_ignored(server: RunningServer) -> None:
    trace_id = new_trace_id()
    details = '{"input": 1e300, "output": -5, "input_cache_read": 99999999999999999999999}'
    attributes = [
        *_session_attrs("s-langfuse"),
        {"key": "langfuse.observation.type", "value": {"stringValue": "generation"}},
        {"key": "langfuse.observation.usage_details", "value": {"stringValue": details}},
        {"key": "langfuse.observation.cost_details", "value": {"stringValue": '{"total": 1e308}'}},
    ]
    body = _json_body(_json_span(trace_id, "generation", attributes=attributes))
    assert _partial(_post(server, "/v1/traces", body, JSON)) == (0, "")
    detail = _get(server, "/api/v1/sessions/s-langfuse")
    assert (detail["span_count"], detail["input_tokens"], detail["total_cost_usd"]) == (1, 0, None)


def test_huge_token_counts_for_one_user_keep_the_users_api_answering(server: RunningServer) -> None:
    """Two spans of 5e18 input tokens each, one user, two sessions: the user's total used to overflow into a
    REAL, and every GET /api/v1/users answered 500."""
    for session in ("s-huge-1", "s-huge-2"):
        spans = turn(session, start_s=0, user_id="u-huge", input_tokens=5 * 10**18, output_tokens=5 * 10**18)
        assert _partial(_post(server, "/v1/traces", request(*spans), PROTOBUF)) == (0, "")
    users = _get(server, "/api/v1/users")
    (user,) = [u for u in users["users"] if u["user_id"] == "u-huge"]
    assert user["session_count"] == 2
    detail = _get(server, "/api/v1/users/u-huge")
    assert detail["user_id"] == "u-huge"
    for row in (user, _get(server, "/api/v1/sessions/s-huge-1")):
        assert row["input_tokens"] == 0  # a count past 10^10 is not believed
        assert isinstance(row["input_tokens"], int)


@pytest.mark.parametrize("depth", [254, 300, 330])
def test_json_values_nested_hundreds_deep_are_stored_cut(server: RunningServer, depth: int) -> None:
    trace_id = new_trace_id()
    deep = '{"arrayValue":{"values":[' * depth + '{"stringValue":"leaf"}' + "]}}" * depth
    body = _json_body(
        _json_span(trace_id, "deep", attributes=[{"key": "deep", "value": "DEEP"}]), _json_span(trace_id, "ok")
    )
    body = body.replace(b'"DEEP"', deep.encode())
    assert _partial(_post(server, "/v1/traces", body, JSON)) == (0, "")
    stored = _spans(server, trace_id)
    assert "nested deeper than 32 levels" in orjson.dumps(stored["deep"]["attributes"]).decode()
    assert "ok" in stored


def _field(number: int, payload: bytes) -> bytes:
    size, varint = len(payload), bytearray()
    while True:
        varint.append((size & 0x7F) | (0x80 if size > 0x7F else 0))
        size >>= 7
        if not size:
            break
    return bytes([number << 3 | 2]) + bytes(varint) + payload


def test_protobuf_maps_nested_past_the_parsers_limit_are_stored_cut(server: RunningServer) -> None:
    trace_id = new_trace_id()
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(60):
        value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))  # kvlist_value: {k: value}
    deep = _pb_span(trace_id, "deep").SerializeToString() + _field(9, _field(1, b"deep") + _field(2, value))
    body = _field(1, _field(2, _field(2, deep) + _field(2, _pb_span(trace_id, "ok").SerializeToString())))
    assert _partial(_post(server, "/v1/traces", body, PROTOBUF)) == (0, "")
    stored = _spans(server, trace_id)
    assert "nested deeper than 32 levels" in orjson.dumps(stored["deep"]["attributes"]).decode()
    assert "ok" in stored


# --- malformed containers ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["x", 7, [1], True, {"name": ["n"], "attributes": "a", "version": {}}])
def test_malformed_json_containers_keep_the_spans(server: RunningServer, bad: Any) -> None:
    trace_id = new_trace_id()
    odd = _json_span(trace_id, "odd", status=bad, events=bad, links=bad, kind=bad, attributes=[bad, {"key": bad}])
    body = _json_body(odd, _json_span(trace_id, "plain", attributes=[bad]), scope=bad, resource=bad)
    assert _partial(_post(server, "/v1/traces", body, JSON)) == (0, "")
    assert set(_spans(server, trace_id)) == {"odd", "plain"}


def test_a_span_whose_values_are_all_bad_is_stored(server: RunningServer) -> None:
    trace_id = new_trace_id()
    attributes = [
        {"key": "gen_ai.usage.input_tokens", "value": {"doubleValue": "Infinity"}},
        {"key": "conversation.turn_number", "value": {"doubleValue": "NaN"}},
        {"key": "threadline.cost.usd", "value": {"doubleValue": "-Infinity"}},
        {"key": "session.id", "value": {"arrayValue": "x"}},
        {"key": "big", "value": {"intValue": "1" * 5000}},
    ]
    doc = _json_span(trace_id, {"no": "name"}, kind="²", status=[], attributes=attributes, events=[1, "e"])
    assert _partial(_post(server, "/v1/traces", _json_body(doc), JSON)) == (0, "")
    (span,) = _get(server, f"/api/v1/traces/{trace_id.hex()}")["spans"]
    assert (span["name"], span["input_tokens"], span["cost_usd"]) == ("", None, None)


# --- per-request limits --------------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[RunningServer]:
    with run_server(
        tmp_path / "data",
        max_spans_per_request=3,
        max_attributes_per_span=2,
        max_value_chars=10,
        max_value_depth=2,
    ) as running:
        yield running


def test_request_limits_refuse_spans_and_cut_values_visibly(limited: RunningServer) -> None:
    trace_id = new_trace_id()
    first = _pb_span(
        trace_id,
        "first",
        a=AnyValue(string_value="0123456789abcdef"),
        b=AnyValue(int_value=1),
        c=AnyValue(int_value=2),
    )
    first.dropped_attributes_count = 4
    spans = [first] + [_pb_span(trace_id, f"span {n}") for n in range(2, 6)]
    rejected, message = _partial(_post(limited, "/v1/traces", _pb(*spans), PROTOBUF))
    assert rejected == 2
    assert "more than 3 spans" in message
    assert "send smaller batches" in message
    stored = _spans(limited, trace_id)
    assert set(stored) == {"first", "span 2", "span 3"}
    assert stored["first"]["attributes"] == {
        "a": "0123456789…[truncated by Threadline: 6 more characters]",
        "b": 1,
        "threadline.dropped_attributes_count": 5,
    }


def test_request_limits_apply_to_json_too(limited: RunningServer) -> None:
    trace_id = new_trace_id()
    nested = {"arrayValue": {"values": [{"arrayValue": {"values": [{"arrayValue": {"values": [{"intValue": 1}]}}]}}]}}
    doc = _json_span(trace_id, "nested", attributes=[{"key": "n", "value": nested}])
    body = _json_body(doc, *(_json_span(trace_id, f"extra {n}") for n in range(4)))
    rejected, message = _partial(_post(limited, "/v1/traces", body, JSON))
    assert (rejected, "send smaller batches" in message) == (2, True)
    attributes = _spans(limited, trace_id)["nested"]["attributes"]
    assert attributes == {"n": [["[nested deeper than 2 levels: removed by Threadline]"]]}


# --- the real OpenTelemetry SDK ------------------------------------------------------------------


def test_otel_sdk_batch_with_an_infinite_token_count_is_stored(server: RunningServer) -> None:
    collected = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "hostile"}))
    provider.add_span_processor(SimpleSpanProcessor(collected))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("turn", attributes={"session.id": "s-sdk-inf", "user.id": "u-sdk"}):
        for n in range(99):
            tokens = float("inf") if n == 42 else 10
            attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
            with tracer.start_as_current_span(f"chat {n}", attributes=attributes) as span:
                span.set_attribute("gen_ai.usage.input_tokens", tokens)
    provider.shutdown()
    spans = collected.get_finished_spans()
    assert len(spans) == 100
    exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces", timeout=30)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    detail = _get(server, "/api/v1/sessions/s-sdk-inf")
    assert detail["span_count"] == 100  # the infinite one too
    assert detail["input_tokens"] == 98 * 10  # without its count
    stored = _spans(server, spans[0].context.trace_id.to_bytes(16, "big"))
    assert stored["chat 42"]["input_tokens"] is None


@pytest.mark.parametrize("digit", ["²", "٣", "১"], ids=["superscript", "arabic-indic", "bengali"])
def test_digits_other_than_ascii_are_no_numbers(server: RunningServer, digit: str) -> None:
    """``str.isdigit`` accepts them and ``int`` refuses some: a count, an index or a length made of them is
    no number, never a failed request."""
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": str(BASE_NS),
        "endTimeUnixNano": str(BASE_NS + 10**9),
        "droppedAttributesCount": digit,
        "attributes": [
            {"key": "session.id", "value": {"stringValue": "s-digits"}},
            {"key": f"llm.input_messages.{digit}.message.content", "value": {"stringValue": "hello"}},
            {"key": f"gen_ai.prompt.{digit}.content", "value": {"stringValue": "hello"}},
        ],
    }
    body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    assert _post(server, "/v1/traces", body, JSON).status_code == 200
    assert _get(server, "/api/v1/sessions/s-digits")["span_count"] == 1
