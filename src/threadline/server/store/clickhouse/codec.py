"""How records become ClickHouse values and back: span and log event rows, trace folds, session rows."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import orjson

from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.records import RawSpan, Resource, Scope, SpanEvent, SpanFacts
from threadline.server.ingest.rollup import SessionRollup, TurnRollup
from threadline.server.ingest.trace_agg import TraceAgg
from threadline.server.store.records import SessionSummary, TurnRecord

_OPTS = orjson.OPT_NON_STR_KEYS

SPAN_COLUMNS = (
    "project_id", "trace_id", "span_id", "item", "event_time", "event_name", "digest", "parent_span_id", "name",
    "kind", "start_ns", "end_ns", "status_code", "session_id", "user_id", "category", "cost_usd", "cost_source",
    "resource", "body", "facts",
)  # fmt: skip
SPAN, LOG_EVENT = 0, 1


def _digest(*parts: bytes) -> int:
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(len(part).to_bytes(4, "little"))
        h.update(part)
    return int.from_bytes(h.digest(), "little")


def encode_body(span: RawSpan) -> str:
    doc: dict[str, Any] = {"a": span.attributes}
    if span.events:
        doc["e"] = [[e.name, e.time_ns, e.attributes] for e in span.events]
    if span.links:
        doc["l"] = span.links
    if span.status_message:
        doc["m"] = span.status_message
    scope = span.scope
    if scope.name or scope.version or scope.attributes:
        doc["s"] = [scope.name, scope.version, scope.attributes]
    return orjson.dumps(doc, option=_OPTS).decode()


_FACT_DEFAULTS = tuple((f.name, getattr(SpanFacts(), f.name)) for f in fields(SpanFacts))


def encode_facts(facts: SpanFacts) -> str:
    """The facts as prepared, those that differ from the defaults (texts not resolved yet: ``TraceAgg.add``
    resolves them when it needs them)."""
    doc = {}
    for name, default in _FACT_DEFAULTS:
        value = getattr(facts, name)
        if value != default:
            doc[name] = value
    return orjson.dumps(doc, option=_OPTS).decode()


def decode_facts(text: str) -> SpanFacts:
    return SpanFacts(**orjson.loads(text))


def span_row(project_id: int, span: RawSpan, facts: SpanFacts) -> tuple[Any, ...]:
    body = encode_body(span)
    resource = orjson.dumps(span.resource.attributes, option=_OPTS | orjson.OPT_SORT_KEYS).decode()
    head = orjson.dumps(
        [span.parent_span_id.hex() if span.parent_span_id else None, span.name, span.kind, span.start_ns,
         span.end_ns, span.status_code]
    )  # fmt: skip
    digest = _digest(head, body.encode(), resource.encode())
    return (
        project_id, span.trace_id, span.span_id, SPAN, 0, "", digest, span.parent_span_id, span.name, span.kind,
        span.start_ns, span.end_ns, span.status_code, facts.session_id or "", facts.user_id or "", facts.category,
        facts.cost_usd, facts.cost_source, resource, body, encode_facts(facts),
    )  # fmt: skip


def event_row(project_id: int, event: LogEvent) -> tuple[Any, ...]:
    body = orjson.dumps(event.attributes, option=_OPTS).decode()
    return (
        project_id, event.trace_id, event.span_id, LOG_EVENT, event.time_ns, event.name, _digest(body.encode()),
        None, "", 0, event.time_ns, event.time_ns, 0, "", "", "", None, None, "", body, "",
    )  # fmt: skip


def row_key(row: Sequence[Any]) -> tuple[Any, ...]:
    """(span id, item, event time, event name) of a ``SPAN_COLUMNS`` row, without its project and trace."""
    return (row[2], row[3], row[4], row[5])


def decode_span(
    trace_id: bytes,
    span_id: bytes,
    parent: bytes | None,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    status_code: int,
    resource: str,
    body: str,
) -> RawSpan:
    doc = orjson.loads(body)
    scope = doc.get("s") or ["", "", {}]
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
        resource=Resource(orjson.loads(resource) if resource else {}),
        scope=Scope(scope[0], scope[1], scope[2] if len(scope) > 2 else {}),
        links=doc.get("l", []),
    )


# --- trace folds -----------------------------------------------------------------------------------

_AGG_FIELDS = tuple(f.name for f in fields(TraceAgg) if f.name not in ("trace_id", "pk"))
_TUPLE_FIELDS = frozenset(f.name for f in fields(TraceAgg) if str(f.type).startswith("tuple["))


def encode_fold(agg: TraceAgg) -> str:
    return orjson.dumps({name: getattr(agg, name) for name in _AGG_FIELDS}, option=_OPTS).decode()


def decode_fold(trace_id: bytes, text: str) -> TraceAgg:
    agg = TraceAgg(trace_id)
    for name, value in orjson.loads(text).items():
        setattr(agg, name, tuple(value) if name in _TUPLE_FIELDS else value)
    return agg


# --- sessions --------------------------------------------------------------------------------------

SUMMARY_COLUMNS = (
    "session_id", "user_id", "first_ns", "last_ns", "turn_count", "trace_count", "span_count", "llm_call_count",
    "tool_call_count", "error_count", "errored_turn_count", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "reasoning_tokens", "total_cost_usd", "cost_source", "unpriced_calls", "first_input",
    "last_output", "models", "attributes", "end_reason", "ended_ns", "reopened_count", "last_turn_number",
    "last_turn_end_ns", "last_action", "last_intent", "converted", "client_dropoff", "journeys", "max_context_pct",
)  # fmt: skip
"""What a ``SessionSummary`` is read from, in its fields' order."""
SESSION_COLUMNS = (
    "project_id", *SUMMARY_COLUMNS, "version", "alive", "duration_ns", "total_tokens", "turn_latencies", "turns",
)  # fmt: skip


def session_row(
    project_id: int, session_id: str, version: int, rollup: SessionRollup, turns: Sequence[TurnRollup]
) -> tuple[Any, ...]:
    r = rollup
    ordered = sorted(turns, key=lambda t: (t.start_ns, t.number))
    return (
        project_id, session_id, r.user_id, r.first_ns, r.last_ns, r.turn_count, r.trace_count, r.span_count,
        r.llm_call_count, r.tool_call_count, r.error_count, r.errored_turn_count, r.input_tokens, r.output_tokens,
        r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens, r.cost_usd, r.cost_source, r.unpriced_calls,
        r.first_input, r.last_output, list(r.models), orjson.dumps(r.attributes, option=_OPTS).decode(),
        r.end_reason, r.ended_ns, r.reopened_count, r.last_turn_number, r.last_turn_end_ns, r.last_action,
        r.last_intent, int(r.converted),
        orjson.dumps(r.client_dropoff, option=_OPTS).decode() if r.client_dropoff is not None else None,
        orjson.dumps(r.journeys, option=_OPTS).decode(), r.max_context_pct,
        version, 1, r.duration_ns, r.total_tokens, list(r.turn_latencies), encode_turns(ordered),
    )  # fmt: skip


def gone_row(project_id: int, session_id: str, version: int) -> tuple[Any, ...]:
    """A session no trace belongs to any more (``alive`` = 0): it replaces the versions that had some."""
    return (
        project_id, session_id, None, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, None, 0, None, None, [], "{}",
        None, None, 0, None, None, None, None, 0, None, "[]", None, version, 0, 0, 0, [], "[]",
    )  # fmt: skip


def summary(values: Sequence[Any]) -> SessionSummary:
    """A ``SessionSummary`` from the ``SUMMARY_COLUMNS`` of a row."""
    v = list(values)
    v[21] = tuple(v[21])
    v[22] = orjson.loads(v[22])
    v[30] = bool(v[30])
    v[31] = orjson.loads(v[31]) if v[31] is not None else None
    v[32] = tuple(orjson.loads(v[32]))
    return SessionSummary(*v)


_TURN_FIELDS = tuple(f.name for f in fields(TurnRecord))


def encode_turns(turns: Sequence[TurnRollup]) -> str:
    records = [TurnRecord.of(t) for t in turns]
    return orjson.dumps([[getattr(r, name) for name in _TURN_FIELDS] for r in records], option=_OPTS).decode()


def decode_turns(text: str) -> tuple[TurnRecord, ...]:
    turns = []
    for values in orjson.loads(text):
        turn: dict[str, Any] = dict(zip(_TURN_FIELDS, values, strict=True))
        turn["trace_ids"] = tuple(turn["trace_ids"])
        turns.append(TurnRecord(**turn))
    return tuple(turns)


def journeys_of(text: str) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = orjson.loads(text)
    return found
