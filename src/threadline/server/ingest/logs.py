"""OTLP log requests to the GenAI events they carry (prompt and answer text kept off some spans).

Pure. Only log records that name a ``gen_ai.*`` event and point at a span (trace and span id) are
kept; everything else in a logs request is accepted and dropped. A record's body, when it is a map,
is merged into its attributes (older GenAI events put ``content`` / ``message`` there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from threadline.server.errors import BadRequest
from threadline.server.ingest.decode import any_value, attributes, json_any_value, json_attributes, json_id, json_list
from threadline.server.ingest.records import Attributes

EVENT_PREFIX = "gen_ai."


@dataclass(frozen=True, slots=True)
class LogEvent:
    trace_id: bytes
    span_id: bytes
    time_ns: int
    name: str
    attributes: Attributes


def _event(trace_id: bytes, span_id: bytes, time_ns: int, name: str, attrs: Attributes, body: Any) -> LogEvent | None:
    name = name or str(attrs.get("event.name") or "")
    if not name.startswith(EVENT_PREFIX) or len(trace_id) != 16 or len(span_id) != 8:
        return None
    if not any(trace_id) or not any(span_id):
        return None
    merged = dict(attrs)
    if isinstance(body, dict):
        for key, value in body.items():
            merged.setdefault(key, value)
    elif body not in (None, ""):
        merged.setdefault("content", body)
    return LogEvent(trace_id, span_id, time_ns, name, merged)


def decode_logs_protobuf(body: bytes) -> list[LogEvent]:
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError) as exc:
        raise BadRequest(
            f"The body is not a valid OTLP ExportLogsServiceRequest in protobuf ({exc}).", code="undecodable_body"
        ) from None
    events = []
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                event = _event(
                    record.trace_id,
                    record.span_id,
                    record.time_unix_nano or record.observed_time_unix_nano,
                    record.event_name,
                    attributes(record.attributes),
                    any_value(record.body) if record.HasField("body") else None,
                )
                if event is not None:
                    events.append(event)
    return events


def decode_logs_json(body: bytes) -> list[LogEvent]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON ({exc}).", code="undecodable_body") from None
    events = []
    for resource_logs in json_list(doc, "resourceLogs", "resource_logs"):
        for scope_logs in json_list(resource_logs, "scopeLogs", "scope_logs"):
            for record in json_list(scope_logs, "logRecords", "log_records"):
                if not isinstance(record, dict):
                    continue
                time_raw = record.get("timeUnixNano") or record.get("observedTimeUnixNano") or 0
                event = _event(
                    json_id(record.get("traceId"), 16),
                    json_id(record.get("spanId"), 8),
                    int(time_raw) if str(time_raw).isdigit() else 0,
                    str(record.get("eventName") or ""),
                    json_attributes(json_list(record, "attributes")),
                    json_any_value(record.get("body")),
                )
                if event is not None:
                    events.append(event)
    return events
