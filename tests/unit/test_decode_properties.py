"""The decoders over any input: spans and a count of refused ones (or log events), or ``BadRequest``; never
another exception, and whatever they decode is storable (docs/conventions.md, "Limits and bad values")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from threadline.server.errors import BadRequest
from threadline.server.ingest.decode import decode_json, decode_protobuf, parse_request
from threadline.server.ingest.logs import LogEvent, decode_logs_json, decode_logs_protobuf
from threadline.server.ingest.records import DecodedBatch, Limits
from unit import otlp_strategies as ost
from unit.storable import assert_event_storable, assert_span_storable

_FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PROTOBUF = settings(_FAST, max_examples=60)
"""Building protobuf messages is the slow part: fewer, each checked whole and corrupted."""


def _attempt(decoder: Callable[[bytes, Limits], Any], body: bytes, limits: Limits) -> Any:
    """The decoder's result, or ``None`` when it refused the body as a bad request (a 400)."""
    try:
        return decoder(body, limits)
    except BadRequest as error:
        status = error.status_code
    assert status == 400
    return None


def _check_batch(batch: DecodedBatch, limits: Limits, total: int) -> None:
    assert batch.rejected >= 0
    assert len(batch.reasons) <= 5
    assert len(batch.spans) + batch.rejected == total, "every span is either kept or counted as refused"
    assert len(batch.spans) <= limits.spans
    for span in batch.spans:
        assert_span_storable(span, limits)


def _check_events(events: list[LogEvent]) -> None:
    for event in events:
        assert_event_storable(event)


def _json_span_count(doc: Any) -> int:
    """How many span entries a JSON document holds in well-formed containers."""
    count = 0
    resource_spans = doc.get("resourceSpans") if isinstance(doc, dict) else None
    for rs in resource_spans if isinstance(resource_spans, list) else []:
        scope_spans = rs.get("scopeSpans") if isinstance(rs, dict) else None
        for ss in scope_spans if isinstance(scope_spans, list) else []:
            spans = ss.get("spans") if isinstance(ss, dict) else None
            count += len(spans) if isinstance(spans, list) else 0
    return count


def _pb_span_count(message: Any) -> int:
    return sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)


@_FAST
@given(doc=ost.json_trace_docs, limits=ost.limits)
def test_json_traces_any_document(doc: dict[str, Any], limits: Limits) -> None:
    batch = decode_json(ost.json_text(doc).encode(), limits)
    _check_batch(batch, limits, _json_span_count(doc))


@_FAST
@given(doc=ost.any_json, limits=ost.limits)
def test_json_traces_any_json(doc: Any, limits: Limits) -> None:
    batch = _attempt(decode_json, ost.json_text(doc).encode(), limits)
    if batch is not None:
        _check_batch(batch, limits, _json_span_count(doc))


@_PROTOBUF
@given(data=st.data(), message=ost.pb_trace_requests(), limits=ost.limits)
def test_protobuf_traces_any_message(data: st.DataObject, message: ExportTraceServiceRequest, limits: Limits) -> None:
    body = message.SerializeToString()
    _check_batch(decode_protobuf(body, limits), limits, _pb_span_count(message))
    corrupted = data.draw(ost.corrupted(body))  # nested values that no longer parse, lengths that lie...
    batch = _attempt(decode_protobuf, corrupted, limits)
    if batch is not None:
        parsed = parse_request("traces", corrupted, "request")  # its structure parsed: its span count is known
        _check_batch(batch, limits, _pb_span_count(parsed))


@_FAST
@given(doc=ost.json_log_docs, limits=ost.limits)
def test_json_logs_any_document(doc: dict[str, Any], limits: Limits) -> None:
    _check_events(decode_logs_json(ost.json_text(doc).encode(), limits))


@_PROTOBUF
@given(data=st.data(), message=ost.pb_log_requests(), limits=ost.limits)
def test_protobuf_logs_any_message(data: st.DataObject, message: ExportLogsServiceRequest, limits: Limits) -> None:
    body = message.SerializeToString()
    _check_events(decode_logs_protobuf(body, limits))
    events = _attempt(decode_logs_protobuf, data.draw(ost.corrupted(body)), limits)
    if events is not None:
        _check_events(events)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300), limits=ost.limits)
def test_any_bytes_decode_or_are_a_bad_request(body: bytes, limits: Limits) -> None:
    for decoder in (decode_protobuf, decode_json):
        batch = _attempt(decoder, body, limits)
        if batch is not None:
            for span in batch.spans:
                assert_span_storable(span, limits)
    for log_decoder in (decode_logs_protobuf, decode_logs_json):
        events = _attempt(log_decoder, body, limits)
        if events is not None:
            _check_events(events)
