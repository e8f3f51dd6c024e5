"""OTLP trace requests (protobuf or JSON bytes) to ``RawSpan`` records.

Pure functions. Spans with missing or malformed ids are refused one by one (counted with a reason);
a body that cannot be decoded at all raises ``BadRequest``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from threadline.server.errors import BadRequest
from threadline.server.ingest.records import (
    Attributes,
    DecodedBatch,
    RawSpan,
    Resource,
    Scope,
    SpanEvent,
)

_SCALARS = frozenset({"string_value", "bool_value", "int_value", "double_value"})
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)


# --- protobuf ------------------------------------------------------------------------------------


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as plain Python (bytes become base64 text)."""
    kind = value.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def attributes(kvs: Iterable[KeyValue]) -> Attributes:
    out: Attributes = {}
    for kv in kvs:
        value = kv.value
        text = value.string_value  # most attributes are strings: one access instead of WhichOneof + getattr
        out[kv.key] = text if text else any_value(value)
    return out


def decode_protobuf(body: bytes) -> DecodedBatch:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError) as exc:
        raise BadRequest(
            f"The body is not a valid OTLP ExportTraceServiceRequest in protobuf ({exc}). "
            "Send the bytes the OTLP exporter produced, with Content-Type: application/x-protobuf.",
            code="undecodable_body",
        ) from None
    batch = DecodedBatch(spans=[])
    for resource_spans in request.resource_spans:
        resource = Resource(attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            s = scope_spans.scope
            scope = Scope(s.name, s.version, attributes(s.attributes) if s.attributes else {})
            append = batch.spans.append
            for span in scope_spans.spans:
                trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
                if (
                    len(trace_id) != 16
                    or len(span_id) != 8
                    or (parent and len(parent) != 8)
                    or not (any(trace_id) and any(span_id))
                ):
                    batch.reject(_id_problem(trace_id, span_id, parent) or "span with malformed ids")
                    continue
                status = span.status
                events, links = span.events, span.links
                append(
                    RawSpan(
                        trace_id,
                        span_id,
                        parent if parent and parent != _ZERO_SPAN else None,
                        span.name,
                        span.kind,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                        status.code,
                        status.message,
                        attributes(span.attributes),
                        [SpanEvent(e.name, e.time_unix_nano, attributes(e.attributes)) for e in events]
                        if events
                        else [],
                        resource,
                        scope,
                        [{"trace_id": k.trace_id.hex(), "span_id": k.span_id.hex()} for k in links] if links else [],
                    )
                )
    return batch


def _id_problem(trace_id: bytes, span_id: bytes, parent: bytes) -> str | None:
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        return "span with a missing or malformed trace id (must be 16 non-zero bytes)"
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        return "span with a missing or malformed span id (must be 8 non-zero bytes)"
    if parent and len(parent) != 8:
        return "span with a malformed parent span id (must be empty or 8 bytes)"
    return None


# --- OTLP/JSON -----------------------------------------------------------------------------------


class _Malformed(ValueError):
    """A span-level problem in OTLP/JSON: the span is refused, the rest of the request is kept."""


def decode_json(body: bytes) -> DecodedBatch:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"The body is not valid JSON ({exc}). Send an OTLP/JSON ExportTraceServiceRequest.",
            code="undecodable_body",
        ) from None
    if not isinstance(doc, dict):
        raise BadRequest(
            "The JSON body must be an object with a 'resourceSpans' array (OTLP/JSON).",
            code="undecodable_body",
        )
    batch = DecodedBatch(spans=[])
    for resource_spans in json_list(doc, "resourceSpans", "resource_spans"):
        resource_doc = _field(resource_spans, "resource") or {}
        resource = Resource(json_attributes(json_list(resource_doc, "attributes")))
        for scope_spans in json_list(resource_spans, "scopeSpans", "scope_spans"):
            scope_doc = _field(scope_spans, "scope") or {}
            scope = Scope(
                str(scope_doc.get("name") or ""),
                str(scope_doc.get("version") or ""),
                json_attributes(json_list(scope_doc, "attributes")),
            )
            for span_doc in json_list(scope_spans, "spans"):
                try:
                    batch.spans.append(_json_span(span_doc, resource, scope))
                except _Malformed as exc:
                    batch.reject(str(exc))
    return batch


def _json_span(doc: Any, resource: Resource, scope: Scope) -> RawSpan:
    if not isinstance(doc, dict):
        raise _Malformed("span that is not a JSON object")
    trace_id = json_id(_field(doc, "traceId", "trace_id"), 16)
    span_id = json_id(_field(doc, "spanId", "span_id"), 8)
    parent_raw = _field(doc, "parentSpanId", "parent_span_id")
    parent = json_id(parent_raw, 8) if parent_raw else b""
    problem = _id_problem(trace_id, span_id, parent)
    if problem:
        raise _Malformed(problem)
    status = _field(doc, "status") or {}
    return RawSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent if parent and parent != _ZERO_SPAN else None,
        name=str(doc.get("name") or ""),
        kind=_json_enum(doc.get("kind"), _SPAN_KINDS),
        start_ns=_json_int(_field(doc, "startTimeUnixNano", "start_time_unix_nano")),
        end_ns=_json_int(_field(doc, "endTimeUnixNano", "end_time_unix_nano")),
        status_code=_json_enum(status.get("code"), _STATUS_CODES) if isinstance(status, dict) else 0,
        status_message=str(status.get("message") or "") if isinstance(status, dict) else "",
        attributes=json_attributes(json_list(doc, "attributes")),
        events=[
            SpanEvent(
                str(e.get("name") or ""),
                _json_int(_field(e, "timeUnixNano", "time_unix_nano")),
                json_attributes(json_list(e, "attributes")),
            )
            for e in json_list(doc, "events")
            if isinstance(e, dict)
        ],
        resource=resource,
        scope=scope,
        links=[
            {
                "trace_id": str(_field(link, "traceId", "trace_id")),
                "span_id": str(_field(link, "spanId", "span_id")),
            }
            for link in json_list(doc, "links")
            if isinstance(link, dict)
        ],
    )


_SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _field(doc: Any, camel: str, snake: str | None = None) -> Any:
    if not isinstance(doc, dict):
        return None
    value = doc.get(camel)
    if value is None and snake is not None:
        value = doc.get(snake)
    return value


def json_list(doc: Any, camel: str, snake: str | None = None) -> list[Any]:
    value = _field(doc, camel, snake)
    return value if isinstance(value, list) else []


def json_id(value: Any, size: int) -> bytes:
    """Hex per the OTLP/JSON spec; base64 accepted from encoders that ignore that rule."""
    if not isinstance(value, str) or not value:
        return b""
    if len(value) == size * 2:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b"\x00"  # malformed: refused by _id_problem
    return raw if len(raw) == size else b"\x00"


def _json_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Malformed("span with a boolean where an integer timestamp was expected")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value:
        try:
            return int(value)
        except ValueError:
            raise _Malformed(f"span with a non-integer timestamp {value!r}") from None
    if isinstance(value, float):
        return int(value)
    return 0


def _json_enum(value: Any, names: Mapping[str, int]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        return names.get(value, 0)
    return 0


def json_attributes(kvs: list[Any]) -> Attributes:
    out: Attributes = {}
    for kv in kvs:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            out[kv["key"]] = json_any_value(kv.get("value"))
    return out


def json_any_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        raw = value["intValue"]
        try:
            return int(raw)
        except (TypeError, ValueError):
            return raw
    if "doubleValue" in value:
        raw = value["doubleValue"]
        try:
            return float(raw)
        except (TypeError, ValueError):
            return raw
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [json_any_value(v) for v in json_list(value["arrayValue"], "values")]
    if "kvlistValue" in value:
        return json_attributes(json_list(value["kvlistValue"], "values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None
