"""The normalizer and what follows it over any decoded value: ``normalize`` and ``Preparer.prepare`` never raise,
what they believe is bounded (docs/conventions.md, "Limits and bad values"), and spans folded into trace,
turn and session rollups can be stored: every body and row encodes, every integer fits int64."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadline.server.ingest.decode import decode_json
from threadline.server.ingest.normalize import MAX_COST_USD, MAX_TOKENS, MAX_TURN_NUMBER
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.records import RawSpan, Resource, Scope, SpanEvent, SpanFacts
from threadline.server.ingest.rollup import FoldOptions, fold_session, fold_turn
from threadline.server.ingest.trace_agg import TraceAgg, turn_key
from threadline.server.intelligence.pricing import PriceBook
from threadline.server.store.sqlite import codec
from threadline.server.store.sqlite.ingest import session_columns
from unit import otlp_strategies as ost
from unit.storable import assert_int64

_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PREPARER = Preparer(PriceBook())
_TRACES = (bytes(range(1, 17)), b"\x11" * 16)
_SPANS = tuple(n.to_bytes(8, "big") for n in range(1, 6))
_JSON_COLUMNS = frozenset({"models", "attributes", "client_dropoff", "journeys"})
_EVENT_NAMES = (
    "exception",
    "gen_ai.client.inference.operation.details",
    "gen_ai.user.message",
    "gen_ai.choice",
    "gen_ai.content.prompt",
    "gen_ai.content.completion",
)

events = st.builds(
    SpanEvent,
    name=st.sampled_from(_EVENT_NAMES) | ost.texts,
    time_ns=st.integers(0, 2**63 - 1),
    attributes=ost.plain_attributes,
)
raw_spans = st.builds(
    RawSpan,
    trace_id=st.sampled_from(_TRACES),
    span_id=st.sampled_from(_SPANS),
    parent_span_id=st.none() | st.sampled_from(_SPANS),
    name=ost.texts,
    kind=st.integers(0, 5),
    start_ns=st.integers(0, 2**63 - 1),
    end_ns=st.integers(0, 2**63 - 1),
    status_code=st.sampled_from([0, 1, 2]) | st.integers(-(2**31), 2**31 - 1),
    status_message=ost.texts,
    attributes=ost.plain_attributes,
    events=st.lists(events, max_size=2),
    resource=st.builds(Resource, ost.plain_attributes),
    scope=st.builds(Scope, ost.texts, ost.texts, ost.plain_attributes),
)


def _assert_believable(facts: SpanFacts) -> None:
    for count in (
        facts.input_tokens,
        facts.output_tokens,
        facts.cache_read_tokens,
        facts.cache_write_tokens,
        facts.reasoning_tokens,
    ):
        assert count is None or (isinstance(count, int) and 0 <= count <= MAX_TOKENS), count
    assert facts.turn_number is None or 0 <= facts.turn_number <= MAX_TURN_NUMBER
    if facts.cost_usd is not None:
        assert math.isfinite(facts.cost_usd)
        assert facts.cost_usd >= 0
        assert facts.cost_source == "computed" or facts.cost_usd <= MAX_COST_USD
    for value in (facts.input_text, facts.output_text, facts.error_message, facts.model, facts.session_id):
        assert value is None or isinstance(value, str)


def _fold_and_store(spans: Sequence[RawSpan]) -> None:
    """Everything the writer would store for these spans encodes, with every integer within int64."""
    items = _PREPARER.prepare(spans)
    traces: dict[bytes, TraceAgg] = {}
    for span, facts in items:
        _assert_believable(facts)
        assert_int64(orjson.loads(codec.encode_body(span)))
        traces.setdefault(span.trace_id, TraceAgg(span.trace_id)).add(span, facts)
    for agg in traces.values():
        columns = codec.encode_trace(agg)
        assert_int64(list(columns[:-1]))
        assert_int64(orjson.loads(columns[-1]))
    by_key: dict[str, list[TraceAgg]] = {}
    for agg in traces.values():
        by_key.setdefault(turn_key(agg), []).append(agg)
    turns = sorted((fold_turn("c", key, members) for key, members in by_key.items()), key=lambda t: t.start_ns)
    if turns:
        rollup = fold_session(turns, list(traces.values()), FoldOptions())
        for name, value in session_columns(rollup).items():
            assert_int64(orjson.loads(value) if name in _JSON_COLUMNS and value is not None else value)
        for turn in turns:
            assert_int64([turn.number, turn.span_count, turn.input_tokens, turn.output_tokens, turn.context_tokens])


@_SETTINGS
@given(span=raw_spans)
def test_normalize_any_span(span: RawSpan) -> None:
    (item,) = _PREPARER.prepare([span])
    _assert_believable(item[1])


@_SETTINGS
@given(attributes=st.dictionaries(st.sampled_from(ost.KEYS), ost.plain_values, min_size=1, max_size=20))
def test_normalize_any_values_under_known_keys(attributes: dict[str, Any]) -> None:
    """Every key the conventions read, holding anything: usage details and costs as JSON text included."""
    span = RawSpan(
        _TRACES[0], _SPANS[0], None, "chat x", 3, 1, 2, 0, "", attributes, [], Resource({}), Scope("", "", {})
    )
    _fold_and_store([span])


@settings(_SETTINGS, max_examples=50)
@given(spans=st.lists(raw_spans, min_size=1, max_size=5))
def test_spans_fold_into_storable_rollups(spans: list[RawSpan]) -> None:
    _fold_and_store(spans)


@settings(_SETTINGS, max_examples=60)
@given(doc=ost.json_trace_docs)
def test_decoded_requests_fold_into_storable_rollups(doc: dict[str, Any]) -> None:
    _fold_and_store(decode_json(ost.json_text(doc).encode()).spans)
