"""Hypothesis strategies for hostile OTLP input: JSON documents with any type in any position, AnyValue trees,
protobuf messages, and plain attribute values as the decoders hand them on.

Each position holds the right shape most of the time (so that spans get through to normalizing), and
anything at all otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from threadline import semconv as sc
from threadline.server.ingest.records import Limits

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EDGE_INTS = (0, 1, -1, 10**10, 10**10 + 1, 2**31, 2**53 + 1, INT64_MAX, INT64_MIN, 2**63, 2**64 - 1, 2**64, 10**30)
EDGE_NUMBER_TEXTS = ("Infinity", "-Infinity", "NaN", "1e300", "1e400", "-5", "2.5", "9" * 30, "²", " 7 ", "0x10")
KEYS = (
    *sc.SESSION_ID_KEYS,
    *sc.USER_ID_KEYS,
    *sc.TURN_NUMBER_KEYS,
    *sc.RESPONSE_MODEL_KEYS,
    *sc.REQUEST_MODEL_KEYS,
    *sc.PROVIDER_KEYS,
    *sc.INPUT_TOKEN_KEYS,
    *sc.OUTPUT_TOKEN_KEYS,
    *sc.CACHE_READ_TOKEN_KEYS,
    *sc.CACHE_WRITE_TOKEN_KEYS,
    *sc.REASONING_TOKEN_KEYS,
    *sc.COST_KEYS,
    *sc.TOOL_NAME_KEYS,
    "conversation.id",
    "gen_ai.conversation.id",
    "openinference.span.kind",
    "langfuse.observation.type",
    "gen_ai.operation.name",
    "traceloop.span.kind",
    "llm.request.type",
    "threadline.span.kind",
    "input.value",
    "output.value",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.content",
    "gen_ai.completion.0.content",
    "langfuse.observation.input",
    "langfuse.observation.output",
    "langfuse.observation.level",
    "traceloop.entity.input",
    "traceloop.entity.output",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.usage.raw",
    "error.type",
    "logfire.span_type",
    "server.address",
    "turn.id",
    "turn.input_type",
    "session.end_reason",
    "journey.name",
    "journey.stage",
    "journey.stage_number",
    "journey.total_stages",
    "journey.converted",
    "journey.conversion_turn",
    "journey.conversion_time_ms",
    "dropoff.last_turn",
    "dropoff.time_since_last_turn_ms",
    "context.limit",
    "context.current_tokens",
    "context.pruned",
    "context.messages_pruned",
    "conversation.context_tokens",
    "conversation.context_window_pct",
)
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-20241022", "no-such-model")

keys = st.sampled_from(KEYS) | st.text(max_size=8)
wide_ints = st.sampled_from(EDGE_INTS) | st.integers(-(2**70), 2**70) | st.integers(-100, 100)
texts = st.text(max_size=12) | st.sampled_from(EDGE_NUMBER_TEXTS) | st.sampled_from(MODELS) | st.sampled_from(KEYS)
json_scalars = st.none() | st.booleans() | wide_ints | st.floats(allow_nan=False, allow_infinity=False) | texts
any_json = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=8
)


def json_text(value: Any) -> str:
    """JSON text of any value (the standard encoder writes integers of any size)."""
    return json.dumps(value)


def usually(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else ``bad``."""
    return st.sampled_from(range(10)).flatmap(lambda n: good if n else bad)


def maybe(shape: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``shape``, sometimes anything."""
    return usually(shape, any_json)


# --- usage and cost details (JSON objects some conventions put in one attribute) -----------------

DETAIL_KEYS = (
    "input",
    "output",
    "total",
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "input_cached_tokens",
    "input_cache_read",
    "reasoning_tokens",
    "prompt_tokens_details",
    "input_tokens_details",
    "completion_tokens_details",
    "cached_tokens",
)
detail_numbers = wide_ints | st.floats() | st.sampled_from(EDGE_NUMBER_TEXTS) | st.none()
details = st.recursive(
    st.dictionaries(st.sampled_from(DETAIL_KEYS), detail_numbers, max_size=5),
    lambda inner: st.dictionaries(st.sampled_from(DETAIL_KEYS), inner | detail_numbers, max_size=4),
    max_leaves=6,
)
detail_texts = details.map(json_text)


# --- limits --------------------------------------------------------------------------------------

limits = st.one_of(
    st.just(Limits()),
    st.builds(
        Limits,
        spans=st.integers(0, 6),
        attributes=st.integers(0, 4),
        value_chars=st.integers(0, 40),
        value_depth=st.integers(0, 4),
    ),
)


# --- plain values (what the decoders hand on) -----------------------------------------------------

plain_scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, INT64_MAX)
    | st.sampled_from([v for v in EDGE_INTS if INT64_MIN <= v <= INT64_MAX])
    | st.floats()
    | texts
    | any_json.map(json_text)
    | detail_texts
)
plain_values = st.recursive(
    plain_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3), max_leaves=10
)
plain_attributes = st.dictionaries(keys, plain_values, max_size=12)


# --- OTLP/JSON -----------------------------------------------------------------------------------

TRACE_HEX = ("0102030405060708090a0b0c0d0e0f10", "11" * 16)
SPAN_HEX = ("0102030405060708", "0a0b0c0d0e0f1011", "2222222222222222", "3333333333333333")
_junk_ids = st.text(max_size=34) | any_json
trace_ids = usually(st.sampled_from(TRACE_HEX), _junk_ids)
span_ids = usually(st.sampled_from(SPAN_HEX), _junk_ids)
_good_times = st.integers(0, 2**63 - 1) | st.integers(0, 2**63 - 1).map(str)
times = usually(
    _good_times,
    wide_ints | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(EDGE_NUMBER_TEXTS) | any_json,
)


def _json_any_value(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {"arrayValue": maybe(st.fixed_dictionaries({"values": maybe(st.lists(inner, max_size=3))}))}
        ),
        st.fixed_dictionaries(
            {
                "kvlistValue": maybe(
                    st.fixed_dictionaries(
                        {
                            "values": maybe(
                                st.lists(st.fixed_dictionaries({"key": maybe(keys), "value": inner}), max_size=3)
                            )
                        }
                    )
                )
            }
        ),
    )


json_leaf_values = st.one_of(
    st.fixed_dictionaries({"stringValue": maybe(texts)}),
    st.fixed_dictionaries({"intValue": maybe(wide_ints | wide_ints.map(str))}),
    st.fixed_dictionaries({"doubleValue": maybe(st.floats(allow_nan=False, allow_infinity=False) | texts)}),
    st.fixed_dictionaries({"boolValue": any_json}),
    st.fixed_dictionaries({"bytesValue": maybe(st.binary(max_size=6).map(lambda b: b.hex()))}),
    any_json,
)
json_any_values = st.recursive(json_leaf_values, _json_any_value, max_leaves=8)
json_attributes = maybe(
    st.lists(maybe(st.fixed_dictionaries({"key": maybe(keys), "value": json_any_values})), max_size=8)
)
_dropped = {
    "droppedAttributesCount": maybe(wide_ints),
    "droppedEventsCount": maybe(wide_ints),
    "droppedLinksCount": maybe(wide_ints),
}
json_events = maybe(
    st.lists(
        maybe(
            st.fixed_dictionaries(
                {"name": maybe(texts), "timeUnixNano": times},
                optional={"attributes": json_attributes, "droppedAttributesCount": maybe(wide_ints)},
            )
        ),
        max_size=3,
    )
)
json_spans = st.fixed_dictionaries(
    {"traceId": trace_ids, "spanId": span_ids, "attributes": json_attributes},
    optional={
        "parentSpanId": span_ids,
        "name": maybe(texts),
        "kind": maybe(st.integers(-1, 6) | st.sampled_from(["SPAN_KIND_CLIENT", "3"])),
        "startTimeUnixNano": times,
        "endTimeUnixNano": times,
        "events": json_events,
        "links": maybe(st.lists(maybe(st.fixed_dictionaries({"traceId": trace_ids, "spanId": span_ids})), max_size=2)),
        "status": maybe(st.fixed_dictionaries({}, optional={"code": maybe(st.integers(-1, 3)), "message": texts})),
        **_dropped,
    },
)
json_scopes = st.fixed_dictionaries(
    {}, optional={"name": maybe(texts), "version": maybe(texts), "attributes": json_attributes}
)
json_scope_spans = st.fixed_dictionaries(
    {"spans": maybe(st.lists(maybe(json_spans), min_size=1, max_size=4))}, optional={"scope": maybe(json_scopes)}
)
json_resources = st.fixed_dictionaries({}, optional={"attributes": json_attributes})
json_resource_spans = st.fixed_dictionaries(
    {"scopeSpans": maybe(st.lists(maybe(json_scope_spans), min_size=1, max_size=2))},
    optional={"resource": maybe(json_resources)},
)
json_trace_docs = st.fixed_dictionaries(
    {"resourceSpans": maybe(st.lists(maybe(json_resource_spans), min_size=1, max_size=2))}
)
json_log_records = st.fixed_dictionaries(
    {"traceId": trace_ids, "spanId": span_ids},
    optional={
        "eventName": maybe(st.sampled_from(["gen_ai.choice", "gen_ai.user.message", "gen_ai.choice", "other"])),
        "timeUnixNano": times,
        "observedTimeUnixNano": times,
        "attributes": json_attributes,
        "body": json_any_values,
        "droppedAttributesCount": maybe(wide_ints),
    },
)
json_scope_logs = st.fixed_dictionaries(
    {"logRecords": maybe(st.lists(maybe(json_log_records), min_size=1, max_size=3))}
)
json_resource_logs = st.fixed_dictionaries(
    {"scopeLogs": maybe(st.lists(maybe(json_scope_logs), min_size=1, max_size=2))}
)
json_log_docs = st.fixed_dictionaries(
    {"resourceLogs": maybe(st.lists(maybe(json_resource_logs), min_size=1, max_size=2))}
)


# --- protobuf ------------------------------------------------------------------------------------

_pb_junk_ids = st.binary(max_size=17)
pb_trace_ids = usually(st.sampled_from([bytes.fromhex(h) for h in TRACE_HEX]), _pb_junk_ids)
pb_span_ids = usually(st.sampled_from([bytes.fromhex(h) for h in SPAN_HEX]), _pb_junk_ids)
pb_times = usually(
    st.integers(0, 2**63 - 1), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1)
)
uint32 = st.integers(0, 2**32 - 1)


def _pb_any_value(inner: st.SearchStrategy[AnyValue]) -> st.SearchStrategy[AnyValue]:
    return st.one_of(
        st.lists(inner, max_size=3).map(lambda values: AnyValue(array_value=ArrayValue(values=values))),
        st.lists(st.tuples(texts, inner), max_size=3).map(
            lambda pairs: AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in pairs]))
        ),
    )


pb_leaf_values = st.one_of(
    texts.map(lambda v: AnyValue(string_value=v)),
    st.booleans().map(lambda v: AnyValue(bool_value=v)),
    st.integers(INT64_MIN, INT64_MAX).map(lambda v: AnyValue(int_value=v)),
    st.floats().map(lambda v: AnyValue(double_value=v)),
    st.binary(max_size=8).map(lambda v: AnyValue(bytes_value=v)),
    st.just(AnyValue()),
)
pb_any_values = st.recursive(pb_leaf_values, _pb_any_value, max_leaves=5)
pb_attributes = st.lists(st.builds(KeyValue, key=keys, value=pb_any_values), max_size=5)
pb_spans = st.builds(
    Span,
    trace_id=pb_trace_ids,
    span_id=pb_span_ids,
    parent_span_id=st.just(b"") | pb_span_ids,
    name=texts,
    kind=st.integers(-(2**31), 2**31 - 1),
    start_time_unix_nano=pb_times,
    end_time_unix_nano=pb_times,
    attributes=pb_attributes,
    dropped_attributes_count=uint32,
    events=st.lists(st.builds(Span.Event, name=texts, time_unix_nano=pb_times, attributes=pb_attributes), max_size=3),
    dropped_events_count=uint32,
    links=st.lists(st.builds(Span.Link, trace_id=pb_trace_ids, span_id=pb_span_ids), max_size=2),
    dropped_links_count=uint32,
    status=st.builds(Status, code=st.integers(-(2**31), 2**31 - 1), message=texts),
)


@st.composite
def pb_trace_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        resource_spans = message.resource_spans.add()
        resource_spans.resource.attributes.extend(draw(pb_attributes))
        for _ in range(draw(st.integers(1, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(texts)
            scope_spans.scope.attributes.extend(draw(pb_attributes))
            scope_spans.spans.extend(draw(st.lists(pb_spans, min_size=1, max_size=3)))
    return message


pb_log_records = st.builds(
    LogRecord,
    time_unix_nano=pb_times,
    observed_time_unix_nano=pb_times,
    trace_id=pb_trace_ids,
    span_id=pb_span_ids,
    event_name=st.sampled_from(["gen_ai.choice", "gen_ai.user.message", "", "other"]) | texts,
    attributes=pb_attributes,
    body=pb_any_values,
    dropped_attributes_count=uint32,
)


@st.composite
def pb_log_requests(draw: st.DrawFn) -> ExportLogsServiceRequest:
    message = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        scope_logs = message.resource_logs.add().scope_logs.add()
        scope_logs.log_records.extend(draw(st.lists(pb_log_records, min_size=1, max_size=3)))
    return message


@st.composite
def corrupted(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` with a few bytes changed, cut or inserted (exercises nested values that no longer parse)."""
    data = bytearray(body)
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(data)
