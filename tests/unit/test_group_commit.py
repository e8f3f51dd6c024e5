"""Requests written in one transaction are stitched as one batch per project, and store what they would
have stored one transaction each: sessions they share, a trace split between them, a span sent twice."""

from __future__ import annotations

from pathlib import Path

from support.otlp import SpanSpec, new_trace_id, request, turn
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.port import SpanItem
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.stitch import Stitcher
from threadline.server.store.base import SessionQuery
from threadline.server.store.sqlite.store import SqliteStore


def _bodies() -> list[bytes]:
    split = new_trace_id()
    root = SpanSpec(split, name="turn", start_s=50, end_s=53, attributes={"session.id": "c", "input.value": "hi"})
    child = SpanSpec(split, parent_span_id=root.span_id, name="chat", start_s=51, end_s=52)
    first_of_a = turn("a", start_s=0)
    first = [*first_of_a, *turn("b", start_s=5, user_id="user-2"), child]
    second = [*turn("a", start_s=30), root, first_of_a[1], *turn("b", start_s=40, user_id="user-2")]
    return [request(*specs) for specs in (first, second)]


def _prepared(bodies: list[bytes]) -> list[list[SpanItem]]:
    preparer = Preparer()
    return [preparer.prepare(decode_protobuf(body).spans) for body in bodies]


def _stored(store: SqliteStore) -> tuple[object, ...]:
    sessions = store.list_sessions(1, SessionQuery(limit=100)).items
    details = [store.get_session(1, s.session_id) for s in sessions]
    traces = [t for d in details if d is not None for record in d.turns for t in record.trace_ids]
    return store.stats(1), sessions, details, [store.trace_spans(1, bytes.fromhex(t)) for t in traces]


def test_one_transaction_stores_what_one_transaction_per_request_does(tmp_path: Path) -> None:
    bodies = _bodies()
    together, apart = SqliteStore(tmp_path / "together"), SqliteStore(tmp_path / "apart")
    try:
        stitcher = Stitcher(Preparer().prepare)
        with together.write() as txn:
            changes = stitcher.apply_all(txn, [(1, items) for items in _prepared(bodies)])
        assert changes[0] is changes[1]
        assert changes[0].sessions == {"a", "b", "c"}
        stitcher = Stitcher(Preparer().prepare)
        for items in _prepared(bodies):
            with apart.write() as txn:
                stitcher.apply(txn, 1, items)
        assert _stored(together) == _stored(apart)
    finally:
        together.close()
        apart.close()
