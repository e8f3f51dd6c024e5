"""Assertions that decoded records can be stored: bodies encode, integers fit int64, limits hold."""

from __future__ import annotations

from typing import Any

import orjson

from threadline.server.ingest.decode import NS_LIMIT, TOO_DEEP, TRUNCATED, UNDECODABLE
from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.records import Limits, RawSpan
from threadline.server.store.sqlite import codec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_MARKERS = 3  # the dropped attributes, events and links counts
_CUT = TRUNCATED.split("{")[0]
_DEEP = TOO_DEEP.split("{")[0]


def integers(value: Any) -> list[int]:
    """Every integer in a plain value (bools excluded)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [n for item in value for n in integers(item)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in integers(item)]
    return []


def assert_int64(value: Any) -> None:
    for number in integers(value):
        assert INT64_MIN <= number <= INT64_MAX, number


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    return []


def assert_within(attributes: dict[str, Any], limits: Limits) -> None:
    """An attribute map as the decoders promise it: counted, cut and bounded."""
    assert len(attributes) <= limits.attributes + _MARKERS
    for value in attributes.values():
        assert depth(value) <= limits.value_depth
        for text in strings(value):
            assert len(text) <= limits.value_chars or _CUT in text or _DEEP in text or text == UNDECODABLE, text[:80]


def assert_span_storable(span: RawSpan, limits: Limits) -> None:
    assert len(span.trace_id) == 16
    assert any(span.trace_id)
    assert len(span.span_id) == 8
    assert any(span.span_id)
    assert span.parent_span_id is None or len(span.parent_span_id) == 8
    assert 0 <= span.start_ns < NS_LIMIT
    assert 0 <= span.end_ns < NS_LIMIT
    assert -(2**31) <= span.kind < 2**31
    assert -(2**31) <= span.status_code < 2**31
    assert isinstance(span.name, str)
    assert isinstance(span.status_message, str)
    for attributes in (span.attributes, span.resource.attributes, span.scope.attributes):
        assert_within(attributes, limits)
    assert len(span.events) <= limits.attributes
    assert len(span.links) <= limits.attributes
    for event in span.events:
        assert 0 <= event.time_ns < NS_LIMIT
        assert_within(event.attributes, limits)
    body = codec.encode_body(span)
    codec.resource_digest(span.resource)
    assert_int64(orjson.loads(body))
    assert_int64(span.resource.attributes)


def assert_event_storable(event: LogEvent) -> None:
    assert len(event.trace_id) == 16
    assert len(event.span_id) == 8
    assert 0 <= event.time_ns < NS_LIMIT
    assert isinstance(event.name, str)
    assert event.name.startswith("gen_ai.")
    orjson.dumps(event.attributes, option=orjson.OPT_NON_STR_KEYS)
    assert_int64(event.attributes)
