"""OTLP trace requests (protobuf or JSON bytes) to ``RawSpan`` records.

Pure functions. A body that cannot be decoded at all raises ``BadRequest``; anything else is decided span
by span: spans with missing or malformed ids or times are refused one by one (counted with a reason),
malformed containers are skipped, and values are made storable under ``Limits`` (docs/conventions.md,
"Limits and bad values"): strings cut, nesting bounded, integers kept within int64, the attributes, events
and links beyond the limit dropped and counted in a marker attribute.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from threadline.server.errors import BadRequest
from threadline.server.ingest.records import (
    Attributes,
    DecodedBatch,
    Limits,
    RawSpan,
    Resource,
    Scope,
    SpanEvent,
)

DEFAULT_LIMITS = Limits()
DROPPED_ATTRIBUTES = "threadline.dropped_attributes_count"
DROPPED_EVENTS = "threadline.dropped_events_count"
DROPPED_LINKS = "threadline.dropped_links_count"
TRUNCATED = "…[truncated by Threadline: {} more characters]"
TOO_DEEP = "[nested deeper than {} levels: removed by Threadline]"
UNDECODABLE = "[undecodable value: removed by Threadline]"
NS_LIMIT = 2**63
"""Times are stored as signed 64-bit nanoseconds: a time at or past this (the year 2262) is refused."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TIME_REASON = "span with a start, end or event time outside 0..2^63-1 ns (after the year 2262 or negative)"
TOO_MANY_SPANS = "more than {} spans in one request: the rest were refused; send smaller batches"

_SCALARS = frozenset({"bool_value", "int_value", "double_value"})
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_INT32 = 2**31


# --- values --------------------------------------------------------------------------------------


def cut(text: str, limits: Limits) -> str:
    """``text``, or its first ``value_chars`` characters and a marker saying how many more there were."""
    keep = limits.value_chars
    if len(text) <= keep:
        return text
    return text[:keep] + TRUNCATED.format(len(text) - keep)


def too_deep(limits: Limits) -> str:
    return TOO_DEEP.format(limits.value_depth)


def with_dropped(out: Attributes, key: str, dropped: int) -> Attributes:
    """Record ``dropped`` (the client's count plus ours) in a marker attribute, when there is any."""
    if dropped > 0:
        out[key] = dropped
    return out


def _capped(items: Sequence[Any], limit: int) -> tuple[Sequence[Any], int]:
    """The first ``limit`` items, and how many were left out."""
    count = len(items)
    return (items, 0) if count <= limit else (items[:limit], count - limit)


def _text(value: Any, limits: Limits) -> str:
    """A name or message as text: strings (cut to the limit) and scalars; anything else is empty."""
    if isinstance(value, str):
        return value if len(value) <= limits.value_chars else cut(value, limits)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


# --- protobuf ------------------------------------------------------------------------------------


def _shallow_classes() -> dict[str, Any]:
    """The OTLP request messages with ``AnyValue``'s array and map kept as undecoded bytes.

    The protobuf parser refuses a whole request nested past its own depth limit (about 31 maps), so values
    are decoded lazily instead, by ``any_value``, which stops at ``Limits.value_depth``.
    """
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, trace_pb2, logs_pb2, trace_service_pb2, logs_service_pb2):
        file = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file)
        for message in file.message_type:
            if message.name == "AnyValue":
                for value_field in message.field:
                    if value_field.name in ("array_value", "kvlist_value"):
                        value_field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                        value_field.ClearField("type_name")
        pool.Add(file)
    names = {
        "traces": "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
        "logs": "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest",
        "array": "opentelemetry.proto.common.v1.ArrayValue",
        "kvlist": "opentelemetry.proto.common.v1.KeyValueList",
    }
    return {key: message_factory.GetMessageClass(pool.FindMessageTypeByName(name)) for key, name in names.items()}


_CLASSES = _shallow_classes()


def parse_request(kind: str, body: bytes, what: str) -> Any:
    """Parse a ``traces`` or ``logs`` export request; ``BadRequest`` when the bytes are not one."""
    request = _CLASSES[kind]()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError) as exc:
        raise BadRequest(
            f"The body is not a valid OTLP {what} in protobuf ({exc}). "
            "Send the bytes the OTLP exporter produced, with Content-Type: application/x-protobuf.",
            code="undecodable_body",
        ) from None
    return request


def any_value(value: Any, limits: Limits = DEFAULT_LIMITS, depth: int = 0) -> Any:
    """An OTLP ``AnyValue`` as plain Python (bytes become base64 text), within ``limits``."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return cut(value.string_value, limits)
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind == "array_value" or kind == "kvlist_value":
        return _pb_container(kind, getattr(value, kind), limits, depth)
    if kind == "bytes_value":
        return cut(base64.b64encode(value.bytes_value).decode(), limits)
    return None


def _pb_container(kind: str, raw: bytes, limits: Limits, depth: int) -> Any:
    if depth >= limits.value_depth:
        return too_deep(limits)
    try:
        inner = _CLASSES["array" if kind == "array_value" else "kvlist"].FromString(raw)
    except (DecodeError, ValueError):
        return UNDECODABLE
    if kind == "array_value":
        return [any_value(v, limits, depth + 1) for v in inner.values]
    return attributes(inner.values, limits, depth=depth + 1)


def attributes(kvs: Sequence[Any], limits: Limits = DEFAULT_LIMITS, dropped: int = 0, depth: int = 0) -> Attributes:
    """Key-values as a dict: the first ``limits.attributes`` of them, the count of the others in a marker."""
    if len(kvs) > limits.attributes:
        dropped += len(kvs) - limits.attributes
        kvs = kvs[: limits.attributes]
    out: Attributes = {}
    chars = limits.value_chars
    for kv in kvs:
        value = kv.value
        text = value.string_value  # most attributes are strings: one access instead of WhichOneof + getattr
        if text:
            out[kv.key] = text if len(text) <= chars else cut(text, limits)
        else:
            out[kv.key] = any_value(value, limits, depth)
    return with_dropped(out, DROPPED_ATTRIBUTES, dropped) if dropped else out


def decode_protobuf(body: bytes, limits: Limits = DEFAULT_LIMITS) -> DecodedBatch:
    request = parse_request("traces", body, "ExportTraceServiceRequest")
    batch = DecodedBatch(spans=[])
    room = limits.spans
    for resource_spans in request.resource_spans:
        r = resource_spans.resource
        resource = Resource(attributes(r.attributes, limits, r.dropped_attributes_count))
        for scope_spans in resource_spans.scope_spans:
            spans, over = _capped(scope_spans.spans, room)
            if over:
                batch.reject(TOO_MANY_SPANS.format(limits.spans), over)
            room -= len(spans)
            if spans:
                _pb_spans(spans, resource, _pb_scope(scope_spans.scope, limits), limits, batch)
    return batch


def _pb_scope(s: Any, limits: Limits) -> Scope:
    attrs = attributes(s.attributes, limits, s.dropped_attributes_count) if s.attributes else {}
    return Scope(cut(s.name, limits), cut(s.version, limits), attrs)


def _pb_spans(spans: Sequence[Any], resource: Resource, scope: Scope, limits: Limits, batch: DecodedBatch) -> None:
    """The spans of one scope into ``batch`` (one loop, no call per span: this is the hot path)."""
    append, chars, ns_limit = batch.spans.append, limits.value_chars, NS_LIMIT
    for span in spans:
        trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
        if (
            len(trace_id) != 16
            or len(span_id) != 8
            or (parent and len(parent) != 8)
            or trace_id == _ZERO_TRACE
            or span_id == _ZERO_SPAN
        ):
            batch.reject(_id_problem(trace_id, span_id, parent) or "span with malformed ids")
            continue
        start, end, events, links = span.start_time_unix_nano, span.end_time_unix_nano, span.events, span.links
        decoded = _pb_events(events, limits) if events else []
        if start >= ns_limit or end >= ns_limit or decoded is None:
            batch.reject(TIME_REASON)
            continue
        attrs = attributes(span.attributes, limits, span.dropped_attributes_count)
        dropped_events = span.dropped_events_count + len(events) - len(decoded) if events else span.dropped_events_count
        if dropped_events:
            attrs[DROPPED_EVENTS] = dropped_events
        status, name = span.status, span.name
        message = status.message
        append(
            RawSpan(
                trace_id,
                span_id,
                parent if parent and parent != _ZERO_SPAN else None,
                name if len(name) <= chars else cut(name, limits),
                span.kind,
                start,
                end,
                status.code,
                message if len(message) <= chars else cut(message, limits),
                attrs,
                decoded,
                resource,
                scope,
                _pb_links(links, span.dropped_links_count, attrs, limits) if links or span.dropped_links_count else [],
            )
        )


def _pb_events(events: Sequence[Any], limits: Limits) -> list[SpanEvent] | None:
    """The first ``limits.attributes`` events; ``None`` when one's time is out of range."""
    out = []
    for e in _capped(events, limits.attributes)[0]:
        if e.time_unix_nano >= NS_LIMIT:
            return None
        out.append(
            SpanEvent(
                cut(e.name, limits), e.time_unix_nano, attributes(e.attributes, limits, e.dropped_attributes_count)
            )
        )
    return out


def _pb_links(links: Sequence[Any], dropped: int, attrs: Attributes, limits: Limits) -> list[dict[str, Any]]:
    kept, over = _capped(links, limits.attributes)
    with_dropped(attrs, DROPPED_LINKS, dropped + over)
    return [{"trace_id": cut(k.trace_id.hex(), limits), "span_id": cut(k.span_id.hex(), limits)} for k in kept]


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


def load_json(body: bytes, what: str) -> dict[str, Any]:
    """The JSON object of an export request; ``BadRequest`` when the body is not one."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"The body is not valid JSON ({exc}). Send an OTLP/JSON {what}.", code="undecodable_body"
        ) from None
    if not isinstance(doc, dict):
        raise BadRequest(f"The JSON body must be an object: an OTLP/JSON {what}.", code="undecodable_body")
    return doc


def decode_json(body: bytes, limits: Limits = DEFAULT_LIMITS) -> DecodedBatch:
    doc = load_json(body, "ExportTraceServiceRequest with a 'resourceSpans' array")
    batch = DecodedBatch(spans=[])
    room = limits.spans
    for resource_spans in json_list(doc, "resourceSpans", "resource_spans"):
        resource = Resource(json_attributes_of(json_object(_field(resource_spans, "resource")), limits))
        for scope_spans in json_list(resource_spans, "scopeSpans", "scope_spans"):
            spans, over = _capped(json_list(scope_spans, "spans"), room)
            if over:
                batch.reject(TOO_MANY_SPANS.format(limits.spans), over)
            room -= len(spans)
            scope_doc = json_object(_field(scope_spans, "scope"))
            scope = Scope(
                _text(scope_doc.get("name"), limits),
                _text(scope_doc.get("version"), limits),
                json_attributes_of(scope_doc, limits),
            )
            for span_doc in spans:
                try:
                    batch.spans.append(_json_span(span_doc, resource, scope, limits))
                except _Malformed as exc:
                    batch.reject(str(exc))
    return batch


def _json_span(doc: Any, resource: Resource, scope: Scope, limits: Limits) -> RawSpan:
    if not isinstance(doc, dict):
        raise _Malformed("span that is not a JSON object")
    trace_id = json_id(_field(doc, "traceId", "trace_id"), 16)
    span_id = json_id(_field(doc, "spanId", "span_id"), 8)
    parent_raw = _field(doc, "parentSpanId", "parent_span_id")
    parent = json_id(parent_raw, 8) if parent_raw else b""
    problem = _id_problem(trace_id, span_id, parent)
    if problem:
        raise _Malformed(problem)
    status = doc.get("status")
    if not isinstance(status, dict):
        status = {}
    attrs = json_attributes_of(doc, limits)
    events, links = doc.get("events"), doc.get("links")
    return RawSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent if parent and parent != _ZERO_SPAN else None,
        name=_text(doc.get("name"), limits),
        kind=_json_enum(doc.get("kind"), _SPAN_KINDS),
        start_ns=_json_time(_field(doc, "startTimeUnixNano", "start_time_unix_nano")),
        end_ns=_json_time(_field(doc, "endTimeUnixNano", "end_time_unix_nano")),
        status_code=_json_enum(status.get("code"), _STATUS_CODES),
        status_message=_text(status.get("message"), limits),
        attributes=attrs,
        events=_json_events(events, _dropped(doc, "droppedEventsCount", "dropped_events_count"), attrs, limits)
        if events or doc.get("droppedEventsCount") or doc.get("dropped_events_count")
        else [],
        resource=resource,
        scope=scope,
        links=_json_links(links, _dropped(doc, "droppedLinksCount", "dropped_links_count"), attrs, limits)
        if links or doc.get("droppedLinksCount") or doc.get("dropped_links_count")
        else [],
    )


def _json_events(events: Any, dropped: int, attrs: Attributes, limits: Limits) -> list[SpanEvent]:
    kept, over = _capped(
        [e for e in events if isinstance(e, dict)] if isinstance(events, list) else [], limits.attributes
    )
    with_dropped(attrs, DROPPED_EVENTS, dropped + over)
    return [
        SpanEvent(
            _text(e.get("name"), limits),
            _json_time(_field(e, "timeUnixNano", "time_unix_nano")),
            json_attributes_of(e, limits),
        )
        for e in kept
    ]


def _json_links(links: Any, dropped: int, attrs: Attributes, limits: Limits) -> list[dict[str, Any]]:
    kept, over = _capped(
        [k for k in links if isinstance(k, dict)] if isinstance(links, list) else [], limits.attributes
    )
    with_dropped(attrs, DROPPED_LINKS, dropped + over)
    return [
        {
            "trace_id": _text(_field(link, "traceId", "trace_id"), limits),
            "span_id": _text(_field(link, "spanId", "span_id"), limits),
        }
        for link in kept
    ]


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


def json_object(value: Any) -> dict[str, Any]:
    """A JSON object where one is expected; anything else is an empty one."""
    return value if isinstance(value, dict) else {}


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


def json_time(value: Any) -> int | None:
    """A time in ns (a number or a decimal string; absent is 0), or ``None`` when it is not one in range."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value < NS_LIMIT:
        return value
    return None


def _json_time(value: Any) -> int:
    if isinstance(value, str):  # the spec's form, first
        try:
            number = int(value)
        except ValueError:
            raise _Malformed(f"span with a non-integer timestamp {value[:40]!r}") from None
        if 0 <= number < NS_LIMIT:
            return number
    found = json_time(value)
    if found is not None:
        return found
    if isinstance(value, bool):
        raise _Malformed("span with a boolean where an integer timestamp was expected")
    raise _Malformed(TIME_REASON)


def _dropped(doc: Mapping[str, Any], camel: str, snake: str) -> int:
    value = doc.get(camel) or doc.get(snake)
    return _json_count(value) if value else 0


def _json_count(value: Any) -> int:
    """A dropped count (uint32); anything else is 0."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 11:
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32 else 0


def _json_enum(value: Any, names: Mapping[str, int]) -> int:
    if isinstance(value, str):
        if value in names:
            return names[value]
        try:
            value = int(value)
        except ValueError:
            return 0
    if isinstance(value, int) and not isinstance(value, bool) and -_INT32 <= value < _INT32:
        return value
    return 0


def json_attributes_of(doc: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS) -> Attributes:
    """The ``attributes`` of a JSON object, with its ``droppedAttributesCount`` honoured."""
    attrs = doc.get("attributes")
    dropped = _dropped(doc, "droppedAttributesCount", "dropped_attributes_count")
    return json_attributes(attrs if isinstance(attrs, list) else [], limits, dropped)


def json_attributes(kvs: list[Any], limits: Limits = DEFAULT_LIMITS, dropped: int = 0, depth: int = 0) -> Attributes:
    if len(kvs) > limits.attributes:
        dropped += len(kvs) - limits.attributes
        kvs = kvs[: limits.attributes]
    out: Attributes = {}
    for kv in kvs:
        if isinstance(kv, dict):
            key = kv.get("key")
            if isinstance(key, str):
                out[key] = json_any_value(kv.get("value"), limits, depth)
    return with_dropped(out, DROPPED_ATTRIBUTES, dropped) if dropped else out


def json_any_value(value: Any, limits: Limits = DEFAULT_LIMITS, depth: int = 0) -> Any:
    """An OTLP/JSON ``AnyValue`` as plain Python, storable whatever it holds (``loose``)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        raw = value["stringValue"]
        if isinstance(raw, str):
            return raw if len(raw) <= limits.value_chars else cut(raw, limits)
        return loose(raw, limits, depth)
    if "intValue" in value:
        return _json_int_value(value["intValue"], limits, depth)
    if "doubleValue" in value:
        return _json_double_value(value["doubleValue"], limits, depth)
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        if depth >= limits.value_depth:
            return too_deep(limits)
        return [json_any_value(v, limits, depth + 1) for v in json_list(value["arrayValue"], "values")]
    if "kvlistValue" in value:
        if depth >= limits.value_depth:
            return too_deep(limits)
        return json_attributes(json_list(value["kvlistValue"], "values"), limits, depth=depth + 1)
    if "bytesValue" in value:
        return loose(value["bytesValue"], limits, depth)
    return None


def _json_int_value(raw: Any, limits: Limits, depth: int) -> Any:
    """int64 as a number or a decimal string; a number out of int64 stays text, other shapes stay as sent."""
    if isinstance(raw, str):
        try:
            number = int(raw)
        except ValueError:
            return cut(raw, limits)
        return number if INT64_MIN <= number <= INT64_MAX else cut(raw, limits)
    if isinstance(raw, float) and raw.is_integer() and INT64_MIN <= raw <= INT64_MAX:
        return int(raw)
    return loose(raw, limits, depth)


def _json_double_value(raw: Any, limits: Limits, depth: int) -> Any:
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            return cut(raw, limits)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    return loose(raw, limits, depth)


def loose(value: Any, limits: Limits, depth: int = 0) -> Any:
    """Plain JSON found where an ``AnyValue`` field's own type was expected, kept but made storable: integers
    beyond int64 become decimal text, strings are cut, nesting is bounded, maps capped like attributes."""
    if isinstance(value, str):
        return cut(value, limits)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if INT64_MIN <= value <= INT64_MAX else str(value)
    if isinstance(value, list | dict):
        if depth >= limits.value_depth:
            return too_deep(limits)
        if isinstance(value, list):
            return [loose(v, limits, depth + 1) for v in value]
        items, over = _capped(list(value.items()), limits.attributes)
        out = {k: loose(v, limits, depth + 1) for k, v in items}
        return with_dropped(out, DROPPED_ATTRIBUTES, over)
    return value
