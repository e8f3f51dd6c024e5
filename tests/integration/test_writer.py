"""The single writer keeps going whatever happens to the requests waiting on it."""

from __future__ import annotations

from pathlib import Path

from support.otlp import SpanSpec, new_trace_id, request
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.writer import Writer
from threadline.server.store.sqlite.store import SqliteStore


def items(session_id: str) -> list[object]:
    spans = decode_protobuf(request(SpanSpec(new_trace_id(), name="turn", attributes={"session.id": session_id}))).spans
    return Preparer().prepare(spans)  # type: ignore[return-value]


def test_a_request_cancelled_while_queued_is_dropped_and_the_writer_goes_on(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    preparer = Preparer()
    writer = Writer(store, preparer.prepare)
    try:
        cancelled = writer.submit(1, items("s-gone"))  # type: ignore[arg-type]
        assert cancelled.cancel()  # the client went away before the writer took it
        task = writer.call(lambda txn, stitcher: "done")
        assert task.cancel()
        writer.start()
        kept = writer.submit(1, items("s-kept"))  # type: ignore[arg-type]
        assert kept.result(timeout=30).sessions == {"s-kept"}
        assert writer.call(lambda txn, stitcher: "still running").result(timeout=30) == "still running"
        assert writer.pending_spans == 0
        assert store.get_session(1, "s-gone") is None
    finally:
        writer.stop()
        store.close()
