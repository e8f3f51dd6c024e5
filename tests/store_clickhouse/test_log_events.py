"""GenAI log events join their spans whichever arrives first, as in the SQLite engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from store_clickhouse.feed import Fed, clickhouse, prepare, snapshot, sqlite
from store_clickhouse.workload import bodies, spans
from threadline.server.ingest.logs import LogEvent


def events_for(requests: list[bytes]) -> list[LogEvent]:
    """A user message and an answer for every LLM call (a span with a parent), and one for an unknown span."""
    found = []
    for body in requests:
        for span in spans(body):
            if span.parent_span_id is None or "tool" in span.name:
                continue
            found.append(LogEvent(span.trace_id, span.span_id, span.start_ns, "gen_ai.user.message",
                                  {"content": f"asked in {span.span_id.hex()}"}))  # fmt: skip
            found.append(LogEvent(span.trace_id, span.span_id, span.end_ns, "gen_ai.choice",
                                  {"message": {"content": f"answer from {span.span_id.hex()}"}}))  # fmt: skip
    found.append(LogEvent(b"\x07" * 16, b"\x07" * 8, 1, "gen_ai.user.message", {"content": "no span"}))
    return found


def feed(fed: Fed, order: str, requests: list[bytes], events: list[LogEvent], project_id: int) -> None:
    half = len(events) // 2
    if order == "events first":
        fed.attach(events, project_id)
    if order == "interleaved":
        fed.attach(events[:half], project_id)
    for body in requests:
        fed.write(prepare(spans(body)), project_id)
    if order == "interleaved":
        fed.attach(events[half:], project_id)
        fed.attach(events[: half // 2], project_id)  # a retry
    if order == "spans first":
        fed.attach(events, project_id)


@pytest.mark.parametrize("order", ["events first", "spans first", "interleaved"])
def test_log_events_join_their_spans_in_any_order(order: str, ch_path: Path, tmp_path: Path) -> None:
    requests = bodies(sessions=3, turns=2, per_request=10)
    events = events_for(requests)
    with clickhouse(ch_path) as ch, sqlite(tmp_path / "sqlite") as lite:
        feed(ch, order, requests, events, 1)
        feed(lite, order, requests, events, 1)
        mine = snapshot(ch.store)
        assert mine == snapshot(lite.store)
        if order == "interleaved":  # the same, whatever the order
            feed(ch, "spans first", requests, events, 2)
            assert snapshot(ch.store, 2) == mine
        texts = [e for t in mine["traces"].values() for span in t[1] for e in span["span"]["events"]]
        assert any(e["name"] == "gen_ai.choice" for e in texts)
