"""Build ``RawSpan`` records for the pure ingest modules, with only the fields a test cares about."""

from __future__ import annotations

import itertools
from typing import Any

from threadline.server.ingest.normalize import normalize
from threadline.server.ingest.records import RawSpan, Resource, Scope, SpanEvent, SpanFacts

BASE_NS = 1_800_000_000 * 10**9
_ids = itertools.count(1)


def trace_id(n: int | None = None) -> bytes:
    return (n if n is not None else next(_ids)).to_bytes(16, "big")


def span_id(n: int | None = None) -> bytes:
    return (n if n is not None else next(_ids)).to_bytes(8, "big")


def event(name: str, **attributes: Any) -> SpanEvent:
    return SpanEvent(name, BASE_NS, dict(attributes))


def span(
    attributes: dict[str, Any] | None = None,
    *,
    name: str = "span",
    trace: bytes | None = None,
    span_id_: bytes | None = None,
    parent: bytes | None = None,
    start_s: float = 0.0,
    end_s: float = 1.0,
    status: int = 0,
    status_message: str = "",
    events: list[SpanEvent] | None = None,
    scope: dict[str, Any] | None = None,
    resource: dict[str, Any] | None = None,
) -> RawSpan:
    """A span ``start_s``..``end_s`` seconds after ``BASE_NS``; a root unless ``parent`` is given."""
    return RawSpan(
        trace_id=trace if trace is not None else trace_id(),
        span_id=span_id_ if span_id_ is not None else span_id(),
        parent_span_id=parent,
        name=name,
        kind=1,
        start_ns=BASE_NS + int(start_s * 1e9),
        end_ns=BASE_NS + int(end_s * 1e9),
        status_code=status,
        status_message=status_message,
        attributes=dict(attributes or {}),
        events=list(events or []),
        resource=Resource(dict(resource or {})),
        scope=Scope("test-scope", "1.0", dict(scope or {})),
    )


def facts(attributes: dict[str, Any] | None = None, **kwargs: Any) -> SpanFacts:
    """``normalize`` of a span built like ``span(...)``."""
    return normalize(span(attributes, **kwargs))
