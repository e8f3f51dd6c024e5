"""OTLP log requests to the GenAI events they carry (prompt and answer text kept off some spans).

Pure. Only log records that name a ``gen_ai.*`` event and point at a span (trace and span id) are
kept; everything else in a logs request is accepted and dropped. A record's body, when it is a map,
is merged into its attributes (older GenAI events put ``content`` / ``message`` there). Values are made
storable under ``Limits`` as spans' are; a time out of range counts as absent (the observed time, else 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadline.server.ingest.decode import (
    DEFAULT_LIMITS,
    NS_LIMIT,
    any_value,
    attributes,
    cut,
    json_any_value,
    json_attributes_of,
    json_id,
    json_list,
    json_time,
    load_json,
    parse_request,
)
from threadline.server.ingest.records import Attributes, Limits

EVENT_PREFIX = "gen_ai."


@dataclass(frozen=True, slots=True)
class LogEvent:
    trace_id: bytes
    span_id: bytes
    time_ns: int
    name: str
    attributes: Attributes


def _event(trace_id: bytes, span_id: bytes, time_ns: int, name: str, attrs: Attributes, body: Any) -> LogEvent | None:
    if not name:
        event_name = attrs.get("event.name")
        name = event_name if isinstance(event_name, str) else ""
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


def _first_time(*times: int | None) -> int:
    """The first time given and in range (0 when none is)."""
    return next((t for t in times if t and 0 < t < NS_LIMIT), 0)


def decode_logs_protobuf(body: bytes, limits: Limits = DEFAULT_LIMITS) -> list[LogEvent]:
    request = parse_request("logs", body, "ExportLogsServiceRequest")
    events = []
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                if not record.event_name.startswith(EVENT_PREFIX) and not record.attributes:
                    continue  # cannot name a GenAI event: skip converting its body
                event = _event(
                    record.trace_id,
                    record.span_id,
                    _first_time(record.time_unix_nano, record.observed_time_unix_nano),
                    cut(record.event_name, limits),
                    attributes(record.attributes, limits, record.dropped_attributes_count),
                    any_value(record.body, limits) if record.HasField("body") else None,
                )
                if event is not None:
                    events.append(event)
    return events


def decode_logs_json(body: bytes, limits: Limits = DEFAULT_LIMITS) -> list[LogEvent]:
    doc = load_json(body, "ExportLogsServiceRequest with a 'resourceLogs' array")
    events = []
    for resource_logs in json_list(doc, "resourceLogs", "resource_logs"):
        for scope_logs in json_list(resource_logs, "scopeLogs", "scope_logs"):
            for record in json_list(scope_logs, "logRecords", "log_records"):
                if not isinstance(record, dict):
                    continue
                name = record.get("eventName") or record.get("event_name")
                event = _event(
                    json_id(record.get("traceId") or record.get("trace_id"), 16),
                    json_id(record.get("spanId") or record.get("span_id"), 8),
                    _first_time(
                        json_time(record.get("timeUnixNano") or record.get("time_unix_nano")),
                        json_time(record.get("observedTimeUnixNano") or record.get("observed_time_unix_nano")),
                    ),
                    cut(name, limits) if isinstance(name, str) else "",
                    json_attributes_of(record, limits),
                    json_any_value(record.get("body"), limits),
                )
                if event is not None:
                    events.append(event)
    return events
