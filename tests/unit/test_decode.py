"""OTLP trace requests, protobuf and JSON, to ``RawSpan`` records (docs/conventions.md "OTLP transport rules")."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from threadline.server.errors import BadRequest
from threadline.server.ingest.decode import decode_json, decode_protobuf

TRACE = bytes(range(1, 17))
SPAN = bytes(range(1, 9))
PARENT = bytes(range(11, 19))
START = 1_800_000_000_123_456_789
END = START + 2_500_000_000


# --- protobuf ------------------------------------------------------------------------------------


def _pb_request(*spans: Span, resource: dict[str, AnyValue] | None = None) -> bytes:
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    for key, value in (resource or {"service.name": AnyValue(string_value="app")}).items():
        resource_spans.resource.attributes.add(key=key, value=value)
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "my.scope"
    scope_spans.scope.version = "2.1"
    scope_spans.scope.attributes.add(key="scope.attr", value=AnyValue(string_value="s"))
    scope_spans.spans.extend(spans)
    return message.SerializeToString()


def _pb_span(trace_id: bytes = TRACE, span_id: bytes = SPAN, parent: bytes = b"", **attributes: AnyValue) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name="chat gpt-4o-mini",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=START,
        end_time_unix_nano=END,
        attributes=[KeyValue(key=k, value=v) for k, v in attributes.items()],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
        events=[
            Span.Event(
                name="exception",
                time_unix_nano=START + 5,
                attributes=[KeyValue(key="exception.type", value=AnyValue(string_value="ValueError"))],
            )
        ],
        links=[Span.Link(trace_id=bytes(range(21, 37)), span_id=bytes(range(31, 39)))],
    )


ANY_VALUES = [
    pytest.param(AnyValue(string_value="text"), "text", id="string"),
    pytest.param(AnyValue(string_value=""), "", id="empty-string"),
    pytest.param(AnyValue(bool_value=True), True, id="bool"),
    pytest.param(AnyValue(int_value=-(2**63)), -(2**63), id="int64-min"),
    pytest.param(AnyValue(double_value=0.25), 0.25, id="double"),
    pytest.param(AnyValue(bytes_value=b"\x00\xffhi"), base64.b64encode(b"\x00\xffhi").decode(), id="bytes-as-base64"),
    pytest.param(
        AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="a")])),
        [1, "a"],
        id="array",
    ),
    pytest.param(
        AnyValue(
            kvlist_value=KeyValueList(
                values=[
                    KeyValue(key="k", value=AnyValue(bool_value=False)),
                    KeyValue(
                        key="nested",
                        value=AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=1.5)])),
                    ),
                ]
            )
        ),
        {"k": False, "nested": [1.5]},
        id="kvlist",
    ),
    pytest.param(AnyValue(), None, id="empty"),
]


@pytest.mark.parametrize(("value", "expected"), ANY_VALUES)
def test_protobuf_any_value_shapes(value: AnyValue, expected: Any) -> None:
    batch = decode_protobuf(_pb_request(_pb_span(attr=value)))
    assert batch.spans[0].attributes == {"attr": expected}


def test_protobuf_span_fields() -> None:
    batch = decode_protobuf(_pb_request(_pb_span(parent=PARENT, **{"gen_ai.request.model": ANY_VALUES[0].values[0]})))
    assert batch.rejected == 0
    (span,) = batch.spans
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE, SPAN, PARENT)
    assert (span.name, span.kind, span.start_ns, span.end_ns) == ("chat gpt-4o-mini", 3, START, END)
    assert (span.status_code, span.status_message) == (2, "boom")
    assert span.attributes == {"gen_ai.request.model": "text"}
    assert [(e.name, e.time_ns, e.attributes) for e in span.events] == [
        ("exception", START + 5, {"exception.type": "ValueError"})
    ]
    assert span.links == [{"trace_id": bytes(range(21, 37)).hex(), "span_id": bytes(range(31, 39)).hex()}]
    assert span.resource.attributes == {"service.name": "app"}
    assert (span.scope.name, span.scope.version, span.scope.attributes) == ("my.scope", "2.1", {"scope.attr": "s"})


@pytest.mark.parametrize("parent", [b"", bytes(8)], ids=["empty", "all-zero"])
def test_protobuf_root_span_has_no_parent(parent: bytes) -> None:
    (span,) = decode_protobuf(_pb_request(_pb_span(parent=parent))).spans
    assert span.parent_span_id is None


@pytest.mark.parametrize(
    ("trace_id", "span_id", "parent", "reason"),
    [
        pytest.param(b"", SPAN, b"", "malformed trace id", id="missing-trace-id"),
        pytest.param(bytes(16), SPAN, b"", "malformed trace id", id="zero-trace-id"),
        pytest.param(TRACE[:8], SPAN, b"", "malformed trace id", id="short-trace-id"),
        pytest.param(TRACE, b"", b"", "malformed span id", id="missing-span-id"),
        pytest.param(TRACE, bytes(8), b"", "malformed span id", id="zero-span-id"),
        pytest.param(TRACE, SPAN + b"\x01", b"", "malformed span id", id="long-span-id"),
        pytest.param(TRACE, SPAN, b"\x01\x02\x03", "malformed parent span id", id="short-parent"),
    ],
)
def test_protobuf_malformed_ids_refused_per_span(trace_id: bytes, span_id: bytes, parent: bytes, reason: str) -> None:
    good = _pb_span(span_id=bytes(range(41, 49)))
    batch = decode_protobuf(_pb_request(_pb_span(trace_id, span_id, parent), good))
    assert [s.span_id for s in batch.spans] == [bytes(range(41, 49))]
    assert batch.rejected == 1
    assert len(batch.reasons) == 1
    assert reason in batch.reasons[0]


def test_protobuf_reasons_are_deduplicated_and_counted() -> None:
    bad = [_pb_span(trace_id=b"") for _ in range(3)] + [_pb_span(span_id=b"")]
    batch = decode_protobuf(_pb_request(*bad))
    assert batch.spans == []
    assert batch.rejected == 4
    assert len(batch.reasons) == 2


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff", b"garbage, not protobuf", b"\x0a\x05abc"],
    ids=["invalid-tag", "text", "truncated"],
)
def test_protobuf_undecodable_body_raises_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest, match="not a valid OTLP") as caught:
        decode_protobuf(body)
    assert caught.value.status_code == 400
    assert caught.value.code == "undecodable_body"


def test_protobuf_empty_body_is_an_empty_batch() -> None:
    batch = decode_protobuf(b"")
    assert (batch.spans, batch.rejected) == ([], 0)


# --- OTLP/JSON -----------------------------------------------------------------------------------


def _json_request(*spans: dict[str, Any], snake: bool = False, **extra: Any) -> bytes:
    scope = {"name": "my.scope", "version": "2.1", "attributes": [{"key": "scope.attr", "value": {"stringValue": "s"}}]}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "app"}}]}
    if snake:
        doc = {"resource_spans": [{"resource": resource, "scope_spans": [{"scope": scope, "spans": list(spans)}]}]}
    else:
        doc = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": list(spans)}]}]}
    doc.update(extra)
    return orjson.dumps(doc)


def _json_span(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "traceId": TRACE.hex(),
        "spanId": SPAN.hex(),
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(END),
        "attributes": [],
        "status": {"code": 2, "message": "boom"},
    }
    doc.update(fields)
    return doc


JSON_ANY_VALUES = [
    pytest.param({"stringValue": "text"}, "text", id="string"),
    pytest.param({"boolValue": True}, True, id="bool"),
    pytest.param({"intValue": "9007199254740993"}, 9007199254740993, id="int64-as-string"),
    pytest.param({"intValue": 42}, 42, id="int-as-number"),
    pytest.param({"doubleValue": 0.5}, 0.5, id="double"),
    pytest.param({"doubleValue": "1.25"}, 1.25, id="double-as-string"),
    pytest.param({"doubleValue": "NaN-ish"}, "NaN-ish", id="double-unparsable-kept"),
    pytest.param({"bytesValue": "AP9oaQ=="}, "AP9oaQ==", id="bytes-stay-base64"),
    pytest.param({"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}]}}, [1, "a"], id="array"),
    pytest.param({"arrayValue": {}}, [], id="empty-array"),
    pytest.param(
        {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}, {"key": "n", "value": {}}]}},
        {"k": False, "n": None},
        id="kvlist",
    ),
    pytest.param({}, None, id="empty"),
    pytest.param(None, None, id="missing-value"),
    pytest.param({"someFutureValue": 1}, None, id="unknown-shape"),
]


@pytest.mark.parametrize(("value", "expected"), JSON_ANY_VALUES)
def test_json_any_value_shapes(value: Any, expected: Any) -> None:
    batch = decode_json(_json_request(_json_span(attributes=[{"key": "attr", "value": value}])))
    assert batch.spans[0].attributes == {"attr": expected}


def test_json_span_fields() -> None:
    doc = _json_span(
        parentSpanId=PARENT.hex(),
        attributes=[{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}}],
        events=[
            {
                "name": "exception",
                "timeUnixNano": str(START + 5),
                "attributes": [{"key": "exception.type", "value": {"stringValue": "ValueError"}}],
            }
        ],
        links=[{"traceId": "ab" * 16, "spanId": "cd" * 8}],
    )
    (span,) = decode_json(_json_request(doc)).spans
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE, SPAN, PARENT)
    assert (span.name, span.kind, span.start_ns, span.end_ns) == ("chat", 3, START, END)
    assert (span.status_code, span.status_message) == (2, "boom")
    assert span.attributes == {"gen_ai.request.model": "gpt-4o-mini"}
    assert [(e.name, e.time_ns, e.attributes) for e in span.events] == [
        ("exception", START + 5, {"exception.type": "ValueError"})
    ]
    assert span.links == [{"trace_id": "ab" * 16, "span_id": "cd" * 8}]
    assert span.resource.attributes == {"service.name": "app"}
    assert (span.scope.name, span.scope.version, span.scope.attributes) == ("my.scope", "2.1", {"scope.attr": "s"})


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        pytest.param(TRACE.hex(), SPAN.hex(), id="hex"),
        pytest.param(TRACE.hex().upper(), SPAN.hex().upper(), id="upper-hex"),
        pytest.param(base64.b64encode(TRACE).decode(), base64.b64encode(SPAN).decode(), id="base64"),
    ],
)
def test_json_ids_hex_or_base64(trace_id: str, span_id: str) -> None:
    (span,) = decode_json(_json_request(_json_span(traceId=trace_id, spanId=span_id))).spans
    assert (span.trace_id, span.span_id) == (TRACE, SPAN)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(str(START), str(END), id="strings"),
        pytest.param(START, END, id="numbers"),
        pytest.param(float(1_800_000_000_000_000_000), float(1_800_000_001_000_000_000), id="doubles"),
    ],
)
def test_json_int64_as_string_or_number(start: Any, end: Any) -> None:
    (span,) = decode_json(_json_request(_json_span(startTimeUnixNano=start, endTimeUnixNano=end))).spans
    assert (span.start_ns, span.end_ns) == (int(start), int(end))


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        pytest.param(3, 2, (3, 2), id="integers"),
        pytest.param("3", "2", (3, 2), id="digit-strings"),
        pytest.param("SPAN_KIND_CLIENT", "STATUS_CODE_ERROR", (3, 2), id="named"),
        pytest.param("SPAN_KIND_SERVER", "STATUS_CODE_OK", (2, 1), id="named-server-ok"),
        pytest.param("SPAN_KIND_FROM_THE_FUTURE", "STATUS_CODE_MAYBE", (0, 0), id="unknown-names"),
        pytest.param(None, None, (0, 0), id="absent"),
    ],
)
def test_json_enums_integer_or_named(kind: Any, status: Any, expected: tuple[int, int]) -> None:
    (span,) = decode_json(_json_request(_json_span(kind=kind, status={"code": status}))).spans
    assert (span.kind, span.status_code) == expected


def test_json_snake_case_field_names() -> None:
    doc = {
        "trace_id": TRACE.hex(),
        "span_id": SPAN.hex(),
        "parent_span_id": PARENT.hex(),
        "name": "snake",
        "start_time_unix_nano": str(START),
        "end_time_unix_nano": END,
        "attributes": [{"key": "a", "value": {"intValue": "7"}}],
        "events": [{"name": "e", "time_unix_nano": str(START + 1)}],
        "links": [{"trace_id": "ab" * 16, "span_id": "cd" * 8}],
    }
    (span,) = decode_json(_json_request(doc, snake=True)).spans
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE, SPAN, PARENT)
    assert (span.start_ns, span.end_ns, span.attributes) == (START, END, {"a": 7})
    assert [(e.name, e.time_ns) for e in span.events] == [("e", START + 1)]
    assert span.links == [{"trace_id": "ab" * 16, "span_id": "cd" * 8}]


def test_json_unknown_fields_are_ignored() -> None:
    doc = _json_span(droppedAttributesCount=3, flags=257, traceState="k=v", futureField={"x": [1]})
    body = _json_request(doc, somethingNew=True)
    batch = decode_json(body)
    assert batch.rejected == 0
    assert [s.name for s in batch.spans] == ["chat"]


def test_json_root_span_with_empty_or_zero_parent() -> None:
    batch = decode_json(_json_request(_json_span(parentSpanId=""), _json_span(spanId="ef" * 8, parentSpanId="0" * 16)))
    assert [s.parent_span_id for s in batch.spans] == [None, None]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"traceId": None}, "malformed trace id", id="missing-trace-id"),
        pytest.param({"traceId": "0" * 32}, "malformed trace id", id="zero-trace-id"),
        pytest.param({"traceId": "zz" * 16}, "malformed trace id", id="not-hex-not-base64"),
        pytest.param({"traceId": "abcd"}, "malformed trace id", id="short-hex"),
        pytest.param({"traceId": base64.b64encode(b"x" * 15).decode()}, "malformed trace id", id="base64-15-bytes"),
        pytest.param({"spanId": ""}, "malformed span id", id="empty-span-id"),
        pytest.param({"spanId": 1234}, "malformed span id", id="span-id-number"),
        pytest.param({"parentSpanId": "abc"}, "malformed parent span id", id="bad-parent"),
        pytest.param({"startTimeUnixNano": "yesterday"}, "non-integer timestamp", id="text-timestamp"),
        pytest.param({"endTimeUnixNano": True}, "boolean", id="bool-timestamp"),
    ],
)
def test_json_malformed_span_refused_with_reason_rest_kept(fields: dict[str, Any], reason: str) -> None:
    batch = decode_json(_json_request(_json_span(**fields), _json_span(spanId="ef" * 8, name="kept")))
    assert [s.name for s in batch.spans] == ["kept"]
    assert batch.rejected == 1
    assert len(batch.reasons) == 1
    assert reason in batch.reasons[0]


def test_json_span_that_is_not_an_object_is_refused() -> None:
    batch = decode_json(_json_request("not a span", _json_span()))  # type: ignore[arg-type]
    assert (len(batch.spans), batch.rejected) == (1, 1)
    assert batch.reasons == ["span that is not a JSON object"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"{not json", "not valid JSON", id="invalid-json"),
        pytest.param(b"", "not valid JSON", id="empty"),
        pytest.param(b"[1, 2]", "must be an object", id="array"),
        pytest.param(b'"resourceSpans"', "must be an object", id="string"),
    ],
)
def test_json_undecodable_body_raises_bad_request(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as caught:
        decode_json(body)
    assert caught.value.code == "undecodable_body"


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({}, id="no-resource-spans"),
        pytest.param({"resourceSpans": "nope"}, id="resource-spans-not-a-list"),
        pytest.param({"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}, id="no-spans"),
        pytest.param({"resourceSpans": [{}]}, id="empty-resource-spans"),
    ],
)
def test_json_empty_requests_decode_to_nothing(doc: dict[str, Any]) -> None:
    batch = decode_json(orjson.dumps(doc))
    assert (batch.spans, batch.rejected) == ([], 0)


def test_json_and_protobuf_agree() -> None:
    attrs = {
        "s": AnyValue(string_value="x"),
        "i": AnyValue(int_value=3),
        "d": AnyValue(double_value=1.5),
        "b": AnyValue(bool_value=True),
        "arr": AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="y")])),
    }
    pb = decode_protobuf(_pb_request(_pb_span(parent=PARENT, **attrs))).spans[0]
    json_doc = _json_span(
        parentSpanId=PARENT.hex(),
        name="chat gpt-4o-mini",
        attributes=[
            {"key": "s", "value": {"stringValue": "x"}},
            {"key": "i", "value": {"intValue": "3"}},
            {"key": "d", "value": {"doubleValue": 1.5}},
            {"key": "b", "value": {"boolValue": True}},
            {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "y"}]}}},
        ],
    )
    js = decode_json(_json_request(json_doc)).spans[0]
    for field in ("trace_id", "span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "attributes"):
        assert getattr(pb, field) == getattr(js, field), field
