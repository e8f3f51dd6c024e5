"""Hostile and near-valid OTLP values: refused per span, coerced or cut under ``Limits``, never a crash.

docs/conventions.md, "Limits and bad values".
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from threadline.server.errors import BadRequest
from threadline.server.ingest.decode import (
    DROPPED_ATTRIBUTES,
    DROPPED_EVENTS,
    DROPPED_LINKS,
    NS_LIMIT,
    TIME_REASON,
    UNDECODABLE,
    decode_json,
    decode_protobuf,
)
from threadline.server.ingest.logs import decode_logs_json, decode_logs_protobuf
from threadline.server.ingest.records import DecodedBatch, Limits, RawSpan
from threadline.server.settings import Settings
from threadline.server.store.sqlite import codec

TRACE = bytes(range(1, 17))
START = 1_800_000_000 * 10**9


def _sid(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _pb(*spans: Span, resource: list[KeyValue] | None = None) -> bytes:
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.extend(resource or [])
    resource_spans.scope_spans.add().spans.extend(spans)
    return message.SerializeToString()


def _pb_span(n: int, start: int = START, end: int = START + 10, **attributes: AnyValue) -> Span:
    return Span(
        trace_id=TRACE,
        span_id=_sid(n),
        name=f"s{n}",
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=[KeyValue(key=k, value=v) for k, v in attributes.items()],
    )


def _json(*spans: Any, scope: Any = None, resource: Any = None) -> bytes:
    scope_spans: dict[str, Any] = {"spans": list(spans)}
    if scope is not None:
        scope_spans["scope"] = scope
    resource_spans: dict[str, Any] = {"scopeSpans": [scope_spans]}
    if resource is not None:
        resource_spans["resource"] = resource
    return orjson.dumps({"resourceSpans": [resource_spans]})


def _json_span(n: int, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "traceId": TRACE.hex(),
        "spanId": _sid(n).hex(),
        "name": f"s{n}",
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(START + 10),
    }
    doc.update(fields)
    return doc


def _attr(value: Any) -> list[dict[str, Any]]:
    return [{"key": "a", "value": value}]


def _storable(batch: DecodedBatch) -> list[RawSpan]:
    for span in batch.spans:
        codec.encode_body(span)
    return batch.spans


def _field(number: int, payload: bytes) -> bytes:
    size, varint = len(payload), bytearray()
    while True:
        byte = size & 0x7F
        size >>= 7
        varint.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([number << 3 | 2]) + bytes(varint) + payload


def _nested_json(depth: int) -> str:
    """An OTLP/JSON AnyValue of arrays nested ``depth`` deep, as text (too deep for the JSON encoder)."""
    return '{"arrayValue":{"values":[' * depth + '{"stringValue":"leaf"}' + "]}}" * depth


def _with_deep_value(body: bytes, depth: int) -> bytes:
    return body.replace(b'"DEEP"', _nested_json(depth).encode())


def _nested_pb(depth: int) -> bytes:
    """A protobuf AnyValue of maps nested ``depth`` deep, as bytes (deeper than the library builds)."""
    value = AnyValue(string_value="leaf").SerializeToString()
    for _ in range(depth):
        value = _field(6, _field(1, _field(1, b"k") + _field(2, value)))  # kvlist_value.values[0] = {k: value}
    return value


def _deep_span(n: int, depth: int) -> bytes:
    """Span ``n`` with an attribute ``deep`` nested ``depth`` maps deep, as bytes."""
    return _pb_span(n).SerializeToString() + _field(9, _field(1, b"deep") + _field(2, _nested_pb(depth)))


def _pb_raw(*spans: bytes) -> bytes:
    """A request of serialized spans (in one scope)."""
    return _field(1, _field(2, b"".join(_field(2, span) for span in spans)))


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def test_limits_default_to_the_settings_defaults() -> None:
    settings = Settings()
    assert Limits() == Limits.from_settings(settings)
    custom = Limits.from_settings(settings.replace(max_spans_per_request=3, max_value_depth=10_000))
    assert (custom.spans, custom.value_depth) == (3, 200)  # deeper than storage can hold: capped


# --- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(NS_LIMIT, NS_LIMIT + 1, id="both-past-2262"),
        pytest.param(START, 2**64 - 1, id="end-max-fixed64"),
        pytest.param(2**63, START, id="start-2^63"),
    ],
)
def test_protobuf_times_past_int64_refuse_the_span_only(start: int, end: int) -> None:
    batch = decode_protobuf(_pb(_pb_span(1, start, end), _pb_span(2)))
    assert [s.name for s in _storable(batch)] == ["s2"]
    assert (batch.rejected, batch.reasons) == (1, [TIME_REASON])


def test_protobuf_event_time_past_int64_refuses_its_span() -> None:
    bad = _pb_span(1)
    bad.events.add(name="e", time_unix_nano=2**64 - 1)
    batch = decode_protobuf(_pb(bad, _pb_span(2)))
    assert [s.name for s in batch.spans] == ["s2"]
    assert batch.reasons == [TIME_REASON]


@pytest.mark.parametrize(
    "value",
    [str(2**63), 2**63, 2**64 - 1, 1e19, float(2**70), "-1", -5, str(10**30)],
)
@pytest.mark.parametrize("field", ["startTimeUnixNano", "endTimeUnixNano", "event"])
def test_json_times_out_of_range_refuse_the_span_only(field: str, value: Any) -> None:
    fields = {"events": [{"name": "e", "timeUnixNano": value}]} if field == "event" else {field: value}
    batch = decode_json(_json(_json_span(1, **fields), _json_span(2)))
    assert [s.name for s in _storable(batch)] == ["s2"]
    assert (batch.rejected, batch.reasons) == (1, [TIME_REASON])


def test_absurd_but_representable_times_are_kept() -> None:
    """End before start, zero start, the last representable nanosecond: stored as sent."""
    spans = [_pb_span(1, START, START - 10**12), _pb_span(2, 0, NS_LIMIT - 1), _pb_span(3, NS_LIMIT - 1, 0)]
    batch = decode_protobuf(_pb(*spans))
    assert [(s.start_ns, s.end_ns) for s in _storable(batch)] == [
        (START, START - 10**12),
        (0, NS_LIMIT - 1),
        (NS_LIMIT - 1, 0),
    ]


# --- integers and odd types in values ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"intValue": str(2**63)}, str(2**63), id="string-past-int64"),
        pytest.param({"intValue": 2**64 - 1}, str(2**64 - 1), id="number-past-int64"),
        pytest.param({"intValue": str(-(2**63) - 1)}, str(-(2**63) - 1), id="string-below-int64"),
        pytest.param({"intValue": str(2**63 - 1)}, 2**63 - 1, id="int64-max-kept"),
        pytest.param({"intValue": 5.0}, 5, id="whole-double"),
        pytest.param({"stringValue": 2**64 - 1}, str(2**64 - 1), id="string-value-holding-a-big-number"),
        pytest.param({"bytesValue": [2**64 - 1, {"x": 2**64 - 1}]}, [str(2**64 - 1), {"x": str(2**64 - 1)}], id="odd"),
        pytest.param({"doubleValue": "Infinity"}, float("inf"), id="infinity"),
        pytest.param({"doubleValue": {"x": 1}}, {"x": 1}, id="double-value-object"),
    ],
)
def test_json_values_are_coerced_to_storable_ones(value: Any, expected: Any) -> None:
    (span,) = _storable(decode_json(_json(_json_span(1, attributes=_attr(value)))))
    assert span.attributes == {"a": expected}


def test_json_integer_with_thousands_of_digits_is_kept_as_cut_text() -> None:
    digits = "7" * 5000
    (span,) = decode_json(_json(_json_span(1, attributes=_attr({"intValue": digits}))), Limits(value_chars=10)).spans
    assert span.attributes["a"] == "7777777777…[truncated by Threadline: 4990 more characters]"


# --- nesting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [33, 254, 300, 330])
def test_json_deep_values_are_cut_at_the_depth_limit(depth: int) -> None:
    body = _with_deep_value(_json(_json_span(1, attributes=_attr("DEEP")), _json_span(2)), depth)
    batch = decode_json(body)
    assert [s.name for s in _storable(batch)] == ["s1", "s2"]
    assert _depth(batch.spans[0].attributes["a"]) == Limits().value_depth
    assert "[nested deeper than 32 levels: removed by Threadline]" in orjson.dumps(batch.spans[0].attributes).decode()


def test_json_nested_past_the_parsers_limit_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode_json(_with_deep_value(_json(_json_span(1, attributes=_attr("DEEP"))), 400))


@pytest.mark.parametrize("depth", [33, 60, 500])
def test_protobuf_deep_map_no_longer_costs_the_request(depth: int) -> None:
    """Past the protobuf parser's own depth limit (~31 maps) the whole request used to be refused."""
    batch = decode_protobuf(_pb_raw(_deep_span(1, depth), _pb_span(2).SerializeToString()))
    assert [s.name for s in _storable(batch)] == ["s1", "s2"]
    assert _depth(batch.spans[0].attributes["deep"]) == 32


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_depth_limit_is_configurable(depth: int) -> None:
    limits = Limits(value_depth=depth)
    (pb,) = decode_protobuf(_pb_raw(_deep_span(1, 5)), limits).spans
    (js,) = decode_json(_with_deep_value(_json(_json_span(1, attributes=_attr("DEEP"))), 5), limits).spans
    assert _depth(pb.attributes["deep"]) == _depth(js.attributes["a"]) == depth


def test_protobuf_undecodable_nested_value_is_marked() -> None:
    broken = ExportTraceServiceRequest()
    span = broken.resource_spans.add().scope_spans.add().spans.add(trace_id=TRACE, span_id=_sid(1))
    span.attributes.add(key="bad").value.array_value.values.add(string_value="\x00marker")
    body = broken.SerializeToString().replace(b"\x00marker", b"\xffmarker")  # invalid UTF-8, deep inside
    (decoded,) = decode_protobuf(body).spans
    assert decoded.attributes == {"bad": UNDECODABLE}


# --- malformed containers ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["x", 7, [1, 2], True, None, {"name": ["n"], "version": {}, "attributes": "a"}])
def test_json_malformed_scope_and_resource_keep_the_spans(bad: Any) -> None:
    batch = decode_json(_json(_json_span(1), scope=bad, resource=bad))
    (span,) = _storable(batch)
    assert (span.scope.name, span.scope.attributes, span.resource.attributes) == ("", {}, {})


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "x"},
        {"status": [2]},
        {"status": {"code": "²", "message": {"x": 1}}},
        {"kind": 2**40},
        {"kind": "²"},
        {"events": "x"},
        {"events": [1, "e", None, {"name": 5, "attributes": {"k": "v"}}]},
        {"links": {"x": 1}},
        {"links": [{"traceId": {"a": [1]}, "spanId": 2**64 - 1}]},
        {
            "attributes": [
                1,
                "x",
                None,
                {"key": 5},
                {"key": "k", "value": [1]},
                {"key": "ok", "value": {"boolValue": 1}},
            ]
        },
        {"name": {"deep": [1]}},
        {"droppedAttributesCount": "lots", "droppedEventsCount": -1, "droppedLinksCount": 2**40},
    ],
)
def test_json_malformed_span_fields_are_skipped_not_fatal(fields: dict[str, Any]) -> None:
    batch = decode_json(_json(_json_span(1, **fields), _json_span(2)))
    assert [s.span_id for s in _storable(batch)] == [_sid(1), _sid(2)]
    span = batch.spans[0]
    assert -(2**31) <= span.kind < 2**31
    assert -(2**31) <= span.status_code < 2**31


@pytest.mark.parametrize(
    "doc",
    [
        {"resourceSpans": [1, "x", None, [], {"scopeSpans": "x"}, {"scopeSpans": [1, {"spans": "x"}]}]},
        {"resourceSpans": [{"scopeSpans": [{"spans": [None, 1, [], "x"]}]}]},
        {"resource_spans": {"a": 1}},
    ],
)
def test_json_malformed_request_containers_never_raise(doc: dict[str, Any]) -> None:
    batch = decode_json(orjson.dumps(doc))
    assert batch.spans == []


# --- per-request limits --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["protobuf", "json"])
def test_spans_beyond_the_request_limit_are_refused(kind: str) -> None:
    limits = Limits(spans=3)
    if kind == "protobuf":
        batch = decode_protobuf(_pb(*(_pb_span(n) for n in range(1, 6))), limits)
    else:
        batch = decode_json(_json(*(_json_span(n) for n in range(1, 6))), limits)
    assert [s.name for s in batch.spans] == ["s1", "s2", "s3"]
    assert batch.rejected == 2
    assert batch.reasons == ["more than 3 spans in one request: the rest were refused; send smaller batches"]


def test_the_span_limit_counts_across_scopes() -> None:
    message = ExportTraceServiceRequest()
    for scope in range(3):
        message.resource_spans.add().scope_spans.add().spans.extend(_pb_span(scope * 10 + n) for n in range(1, 3))
    batch = decode_protobuf(message.SerializeToString(), Limits(spans=3))
    assert ([s.name for s in batch.spans], batch.rejected) == (["s1", "s2", "s11"], 3)


def test_attributes_beyond_the_limit_are_counted_with_the_clients_own_count() -> None:
    span = _pb_span(1, **{f"k{n}": AnyValue(int_value=n) for n in range(5)})
    span.dropped_attributes_count = 3
    span.events.add(name="e", time_unix_nano=START, attributes=[KeyValue(key=f"e{n}") for n in range(4)])
    (decoded,) = decode_protobuf(_pb(span), Limits(attributes=2)).spans
    assert decoded.attributes == {"k0": 0, "k1": 1, DROPPED_ATTRIBUTES: 6}
    assert decoded.events[0].attributes == {"e0": None, "e1": None, DROPPED_ATTRIBUTES: 2}


def test_json_attribute_limit_and_client_counts() -> None:
    attrs = [{"key": f"k{n}", "value": {"intValue": n}} for n in range(5)]
    doc = _json_span(1, attributes=attrs, droppedAttributesCount=3, droppedEventsCount="2")
    (span,) = decode_json(_json(doc), Limits(attributes=2)).spans
    assert span.attributes == {"k0": 0, "k1": 1, DROPPED_ATTRIBUTES: 6, DROPPED_EVENTS: 2}


def test_events_and_links_beyond_the_limit_are_counted() -> None:
    span = _pb_span(1)
    for n in range(4):
        span.events.add(name=f"e{n}", time_unix_nano=START)
        span.links.add(trace_id=TRACE, span_id=_sid(n + 10))
    span.dropped_links_count = 1
    (decoded,) = decode_protobuf(_pb(span), Limits(attributes=3)).spans
    assert [e.name for e in decoded.events] == ["e0", "e1", "e2"]
    assert len(decoded.links) == 3
    assert (decoded.attributes[DROPPED_EVENTS], decoded.attributes[DROPPED_LINKS]) == (1, 2)


def test_long_strings_are_cut_with_a_visible_marker() -> None:
    limits = Limits(value_chars=10)
    text = "0123456789" + "x" * 15
    pb_span = _pb_span(
        1, s=AnyValue(string_value=text), arr=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=text)]))
    )
    pb_span.name = text
    (pb,) = decode_protobuf(_pb(pb_span), limits).spans
    doc = _json_span(1, name=text, attributes=[{"key": "s", "value": {"stringValue": text}}])
    (js,) = decode_json(_json(doc), limits).spans
    marked = "0123456789…[truncated by Threadline: 15 more characters]"
    assert pb.attributes == {"s": marked, "arr": [marked]}
    assert js.attributes == {"s": marked}
    assert pb.name == js.name == marked


def test_strings_at_the_limit_are_kept_whole() -> None:
    (span,) = decode_protobuf(_pb(_pb_span(1, s=AnyValue(string_value="x" * 10))), Limits(value_chars=10)).spans
    assert span.attributes == {"s": "x" * 10}


def test_a_million_attributes_take_no_time() -> None:
    body = _pb_raw(
        Span(trace_id=TRACE, span_id=_sid(1), start_time_unix_nano=START).SerializeToString()
        + _field(9, KeyValue(key="k", value=AnyValue(string_value="v")).SerializeToString()) * 1_000_000
    )
    started = time.perf_counter()
    (span,) = decode_protobuf(body).spans
    elapsed = time.perf_counter() - started
    assert span.attributes[DROPPED_ATTRIBUTES] == 1_000_000 - Limits().attributes
    assert elapsed < 1.0, f"{elapsed:.2f}s"


# --- logs ----------------------------------------------------------------------------------------


def _pb_logs(**record: Any) -> bytes:
    message = ExportLogsServiceRequest()
    fields = {"trace_id": TRACE, "span_id": _sid(1), "event_name": "gen_ai.choice", **record}
    message.resource_logs.add().scope_logs.add().log_records.add(**fields)
    return message.SerializeToString()


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        pytest.param({"time_unix_nano": 2**64 - 1, "observed_time_unix_nano": START}, START, id="observed-instead"),
        pytest.param({"time_unix_nano": 2**63}, 0, id="unknown"),
        pytest.param({"time_unix_nano": START}, START, id="in-range"),
    ],
)
def test_log_record_times_out_of_range_count_as_absent(times: dict[str, int], expected: int) -> None:
    (event,) = decode_logs_protobuf(_pb_logs(**times))
    assert event.time_ns == expected


def test_log_record_bodies_are_limited_like_attributes() -> None:
    record = LogRecord(trace_id=TRACE, span_id=_sid(1), event_name="gen_ai.choice").SerializeToString()
    deep = _pb_raw(record + _field(5, _nested_pb(60)))  # LogRecord.body, deeper than the library parses
    (event,) = decode_logs_protobuf(deep, Limits(value_depth=4))
    assert _depth(event.attributes) == 4
    orjson.dumps(event.attributes)


@pytest.mark.parametrize(
    "record",
    [
        {"timeUnixNano": str(2**64), "eventName": "gen_ai.choice"},
        {"timeUnixNano": "²", "eventName": "gen_ai.choice", "body": "DEEP"},
        {"timeUnixNano": [1], "eventName": ["gen_ai.choice"], "attributes": "x"},
        {"eventName": "gen_ai.choice", "attributes": _attr({"intValue": str(10**30)})},
    ],
)
def test_json_log_records_never_raise_and_stay_storable(record: dict[str, Any]) -> None:
    doc = {"traceId": TRACE.hex(), "spanId": _sid(1).hex(), **record}
    body = _with_deep_value(orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [doc, 5, None]}]}, "x"]}), 300)
    for event in decode_logs_json(body):
        assert 0 <= event.time_ns < NS_LIMIT
        orjson.dumps(event.attributes)
