"""How records become SQLite values and back: span bodies, resources and trace aggregates."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from typing import Any

import orjson

from threadline.server.ingest.records import RawSpan, Resource, Scope, SpanEvent
from threadline.server.ingest.rollup import INT64_MAX, SUMMED
from threadline.server.ingest.trace_agg import TraceAgg


def encode_body(span: RawSpan) -> bytes:
    """Everything about a span that is not a column: attributes, events, links, status, scope."""
    doc: dict[str, Any] = {"a": span.attributes}
    if span.events:
        doc["e"] = [[e.name, e.time_ns, e.attributes] for e in span.events]
    if span.links:
        doc["l"] = span.links
    if span.status_message:
        doc["m"] = span.status_message
    scope = span.scope
    if scope.name or scope.version or scope.attributes:
        doc["s"] = [scope.name, scope.version, scope.attributes] if scope.attributes else [scope.name, scope.version]
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)


def decode_body(body: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(body)
    return doc


def rehydrate_span(row: tuple[Any, ...], resource_attributes: dict[str, Any]) -> RawSpan:
    """A ``RawSpan`` from (trace_id, span_id, parent, name, kind, start, end, status, body)."""
    trace_id, span_id, parent, name, kind, start_ns, end_ns, status_code, body = row
    doc = decode_body(body)
    scope_doc = doc.get("s") or ["", ""]
    return RawSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status_code=status_code,
        status_message=doc.get("m", ""),
        attributes=doc.get("a", {}),
        events=[SpanEvent(e[0], e[1], e[2]) for e in doc.get("e", ())],
        resource=Resource(resource_attributes),
        scope=Scope(scope_doc[0], scope_doc[1], scope_doc[2] if len(scope_doc) > 2 else {}),
        links=doc.get("l", []),
    )


def resource_digest(resource: Resource) -> tuple[bytes, bytes]:
    """(digest, JSON) of a resource's attributes, for de-duplicated storage."""
    encoded = orjson.dumps(resource.attributes, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).digest(), encoded


# --- trace aggregates ----------------------------------------------------------------------------

TRACE_COLUMNS = (
    "conversation_id",
    "turn_number",
    "user_id",
    "root_name",
    "start_ns",
    "end_ns",
    "span_count",
    "input_text",
    "output_text",
)
_AGG_FIELDS = tuple(f.name for f in fields(TraceAgg) if f.name not in TRACE_COLUMNS and f.name != "trace_id")
_AGG_NAMES = frozenset(_AGG_FIELDS)
_TUPLE_FIELDS = frozenset(f.name for f in fields(TraceAgg) if str(f.type).startswith("tuple["))
"""Fields JSON turns into lists: made tuples again when decoded (they are compared with tuples)."""


_COUNTERS = frozenset(name for name in SUMMED if name != "cost_usd")
"""Summed integers: stored saturated at int64 (a trace's sums cannot realistically get there)."""


def encode_trace(agg: TraceAgg) -> tuple[Any, ...]:
    """The trace row's columns after (project_id, trace_id, session_pk), the agg blob last."""
    fields = {name: _stored(name, getattr(agg, name)) for name in _AGG_FIELDS}
    blob = orjson.dumps(fields, option=orjson.OPT_NON_STR_KEYS)
    return (*(_stored(name, getattr(agg, name)) for name in TRACE_COLUMNS), blob)


def _stored(name: str, value: Any) -> Any:
    return INT64_MAX if name in _COUNTERS and value > INT64_MAX else value


def decode_trace(pk: int, trace_id: bytes, columns: tuple[Any, ...], blob: bytes) -> TraceAgg:
    agg = TraceAgg(trace_id, pk)
    for name, value in zip(TRACE_COLUMNS, columns, strict=True):
        setattr(agg, name, value)
    for name, value in orjson.loads(blob).items():
        if name not in _AGG_NAMES:
            continue
        if name in _TUPLE_FIELDS:
            value = tuple(value)
        setattr(agg, name, value)
    return agg
