"""How records become SQLite values and back: span bodies, resources and trace aggregates.

These are JSON documents; the engine compresses them (``compress.pack``) and stores long strings once
(``textparts``, ``texts``). A span body is ``{"a": attributes, "e": events, "l": links, "m": status message,
"s": scope, "t": texts, "u": event texts}``: given an ``extract``, each long string attribute (of the span or
of an event) is left as ``0`` in its place and stored as parts under ``"t"`` (``"u"``: ``[event index,
parts]``). Bodies written before schema version 5 are uncompressed and hold every string in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import orjson

from threadline.server.ingest.records import RawSpan, Resource, Scope, SpanEvent
from threadline.server.ingest.rollup import INT64_MAX, SUMMED
from threadline.server.ingest.trace_agg import TraceAgg
from threadline.server.store.sqlite import compress, textparts, texts
from threadline.server.store.sqlite.textparts import Extract

# --- span bodies ---------------------------------------------------------------------------------


def encode_body(span: RawSpan, extract: Extract | None = None) -> bytes:
    """Everything about a span that is not a column, as JSON (long strings as texts through ``extract``)."""
    attributes, refs = extract(span.attributes) if extract else (span.attributes, None)
    doc: dict[str, Any] = {"a": attributes}
    if refs:
        doc["t"] = refs
    if span.events:
        events, event_refs = [], []
        for index, event in enumerate(span.events):
            attributes, refs = extract(event.attributes) if extract else (event.attributes, None)
            events.append([event.name, event.time_ns, attributes])
            if refs:
                event_refs.append([index, refs])
        doc["e"] = events
        if event_refs:
            doc["u"] = event_refs
    if span.links:
        doc["l"] = span.links
    if span.status_message:
        doc["m"] = span.status_message
    scope = span.scope
    if scope.name or scope.version or scope.attributes:
        doc["s"] = [scope.name, scope.version, scope.attributes] if scope.attributes else [scope.name, scope.version]
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)


def decode_body(body: bytes) -> dict[str, Any]:
    """A stored body (compressed or not) as its document, texts still as ids (see ``body_text_ids``)."""
    doc: dict[str, Any] = orjson.loads(compress.unpack(body))
    return doc


def body_text_ids(doc: dict[str, Any]) -> list[int]:
    """The ids of the texts a body document refers to."""
    found = textparts.ids(doc["t"]) if "t" in doc else []
    for _, refs in doc.get("u", ()):
        found += textparts.ids(refs)
    return found


def rehydrate_span(
    row: tuple[Any, ...], doc: dict[str, Any], resource_attributes: dict[str, Any], text_of: dict[int, str]
) -> RawSpan:
    """A ``RawSpan`` from (trace_id, span_id, parent, name, kind, start, end, status), its body document and
    the texts that refers to."""
    trace_id, span_id, parent, name, kind, start_ns, end_ns, status_code = row
    attributes = doc.get("a", {})
    if "t" in doc:
        textparts.put_back(attributes, doc["t"], text_of)
    events = doc.get("e", ())
    for index, refs in doc.get("u", ()):
        textparts.put_back(events[index][2], refs, text_of)
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
        attributes=attributes,
        events=[SpanEvent(e[0], e[1], e[2]) for e in events],
        resource=Resource(resource_attributes),
        scope=Scope(scope_doc[0], scope_doc[1], scope_doc[2] if len(scope_doc) > 2 else {}),
        links=doc.get("l", []),
    )


# --- resources -----------------------------------------------------------------------------------


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
_TEXT_COLUMNS = (TRACE_COLUMNS.index("input_text"), TRACE_COLUMNS.index("output_text"))
_AGG_FIELDS = tuple(f.name for f in fields(TraceAgg) if f.name not in (*TRACE_COLUMNS, "trace_id", "pk"))
_AGG_NAMES = frozenset(_AGG_FIELDS)
_TUPLE_FIELDS = frozenset(f.name for f in fields(TraceAgg) if str(f.type).startswith("tuple["))
"""Fields JSON turns into lists: made tuples again when decoded (they are compared with tuples)."""
_DEFAULTS = {name: getattr(TraceAgg(b""), name) for name in _AGG_FIELDS}
"""A field left at its default is not stored (a fresh ``TraceAgg`` has it back)."""


_COUNTERS = frozenset(name for name in SUMMED if name != "cost_usd")
"""Summed integers: stored saturated at int64 (a trace's sums cannot realistically get there)."""

StoredText = Callable[[str], "str | bytes"]
"""How a fold's long text is stored: a reference to a text, compressed, or as it is (``texts``)."""


def encode_trace(agg: TraceAgg, stored_text: StoredText | None = None) -> tuple[Any, ...]:
    """The trace row's columns after (project_id, trace_id, session_pk), the agg JSON last; the input and
    output texts through ``stored_text`` when they are long."""
    fields = {}
    for name in _AGG_FIELDS:
        value = getattr(agg, name)
        default = _DEFAULTS[name]
        if type(value) is not type(default) or value != default:
            fields[name] = _stored(name, value)
    blob = orjson.dumps(fields, option=orjson.OPT_NON_STR_KEYS)
    columns = [_stored(name, getattr(agg, name)) for name in TRACE_COLUMNS]
    if stored_text is not None:
        for index in _TEXT_COLUMNS:
            value = columns[index]
            if value is not None and len(value) >= textparts.MIN_CHARS:
                columns[index] = stored_text(value)
    return (*columns, blob)


def _stored(name: str, value: Any) -> Any:
    return INT64_MAX if name in _COUNTERS and value > INT64_MAX else value


def trace_text_ids(columns: Sequence[Any]) -> list[int]:
    """The ids of the texts a trace row's ``TRACE_COLUMNS`` refer to."""
    return [i for i in (texts.referenced(columns[c]) for c in _TEXT_COLUMNS) if i is not None]


def stored_text(value: str | bytes | None, text_of: dict[int, str]) -> str | None:
    """A text column's value as text: as it is, the text it refers to, or decompressed."""
    if value is None or isinstance(value, str):
        return value
    text_id = texts.referenced(value)
    return text_of[text_id] if text_id is not None else texts.decode(value)


def decode_trace(
    pk: int, trace_id: bytes, columns: tuple[Any, ...], blob: bytes, text_of: dict[int, str] | None = None
) -> TraceAgg:
    """A ``TraceAgg`` from its row: ``TRACE_COLUMNS``, the agg blob, and the texts the row refers to."""
    agg = TraceAgg(trace_id, pk)
    for index, (name, value) in enumerate(zip(TRACE_COLUMNS, columns, strict=True)):
        setattr(agg, name, stored_text(value, text_of or {}) if index in _TEXT_COLUMNS else value)
    for name, value in orjson.loads(compress.unpack(blob)).items():
        if name not in _AGG_NAMES:
            continue
        if name in _TUPLE_FIELDS:
            value = tuple(value)
        setattr(agg, name, value)
    return agg
