"""The writer's queue, its refusals, and what it tells listeners."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from store_clickhouse.feed import prepare, run
from store_clickhouse.workload import bodies, spans
from support.otlp import SpanSpec, new_trace_id, request
from threadline.server.errors import Overloaded, ReadOnly, StorageUnavailable
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.port import ChangeSet, WriterOptions
from threadline.server.store.base import SessionQuery
from threadline.server.store.clickhouse.store import ClickHouseStore
from threadline.server.store.clickhouse.writer import ClickHouseWriter


def items() -> list[Any]:
    return prepare(spans(bodies(sessions=2, turns=1, per_request=100)[0]))


def test_a_full_queue_answers_overloaded(ch_path: Path) -> None:
    store = ClickHouseStore(f"chdb://{ch_path}")
    try:
        writer = store.writer(prepare, WriterOptions(max_pending_spans=5))
        assert isinstance(writer, ClickHouseWriter)
        batch = items()
        writer.submit(1, batch)  # an empty queue takes any request
        with pytest.raises(Overloaded) as raised:
            writer.submit(1, batch[:1])
        assert raised.value.headers() == {"Retry-After": "1"}
        assert writer.pending_spans == len(batch)
        writer.start()
        writer.stop()
        assert writer.pending_spans == 0
        assert store.stats(1).span_count == len(batch)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (OperationalError("connection refused"), True),
        (
            DatabaseError("Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)"),
            True,
        ),
        (DatabaseError("Code: 252. DB::Exception: Too many parts (3001). (TOO_MANY_PARTS)"), True),
        (DatabaseError("Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)"), False),
    ],
)
def test_refused_writes_answer_503_and_leave_nothing_acknowledged(
    ch_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, refused: bool
) -> None:
    store = ClickHouseStore(f"chdb://{ch_path}")
    writer = store.writer(prepare, WriterOptions())
    writer.start()
    try:

        def fail(*args: Any, **kwargs: Any) -> None:
            raise error

        monkeypatch.setattr(store.conn, "insert", fail)
        with pytest.raises(StorageUnavailable if refused else RuntimeError) as raised:
            run(writer.write(1, items()))
        if refused:
            assert raised.value.headers() == {"Retry-After": "5"}  # type: ignore[attr-defined]
        assert writer.pending_spans == 0
        monkeypatch.undo()
        change = run(writer.write(1, items()))  # the retry goes in
        assert len(change.sessions) == 2
    finally:
        writer.stop()
        store.close()


def test_listeners_hear_each_request_sessions(ch_path: Path) -> None:
    heard: list[ChangeSet] = []
    store = ClickHouseStore(f"chdb://{ch_path}")
    writer = store.writer(prepare, WriterOptions(), on_commit=heard.extend)
    writer.start()
    try:
        requests = bodies(sessions=4, turns=1, per_request=8)

        async def send_all() -> list[ChangeSet]:
            return list(await asyncio.gather(*(writer.write(7, prepare(spans(b))) for b in requests)))

        changes = run(send_all())
        assert all(c.project_id == 7 for c in changes)
        named = {s.session_id for s in store.list_sessions(7, SessionQuery()).items}
        assert set().union(*(c.sessions for c in changes)) == named
        assert set().union(*(c.sessions for c in heard)) == named
        assert writer.commits >= 1
    finally:
        writer.stop()
        store.close()


def test_a_read_only_store_refuses_writes(ch_path: Path) -> None:
    store = ClickHouseStore(f"chdb://{ch_path}")
    store.close()
    reader = ClickHouseStore(f"chdb://{ch_path}", read_only=True)
    try:
        writer = reader.writer(prepare, WriterOptions())
        writer.start()
        for call in (writer.write(1, items()), writer.erase_session(1, "s"), writer.erase_user(1, ["u"])):
            with pytest.raises(ReadOnly):
                run(call)
        with pytest.raises(RuntimeError):
            reader.create_project("p", 1)
        assert reader.stats(1).span_count == 0
    finally:
        reader.close()


def test_spans_of_many_months_go_in_at_once(ch_path: Path) -> None:
    """Spans are partitioned by month; a request whose spans' clocks span years is stored whole."""
    store = ClickHouseStore(f"chdb://{ch_path}")
    writer = store.writer(prepare, WriterOptions())
    writer.start()
    try:
        month_s = 31 * 86_400
        specs = [
            SpanSpec(new_trace_id(), name="job", start_s=-i * month_s, end_s=-i * month_s + 1, attributes={"k": i})
            for i in range(150)
        ]
        run(writer.write(1, prepare(decode_protobuf(request(*specs)).spans)))
        assert store.stats(1).orphan_trace_count == 150
    finally:
        writer.stop()
        store.close()
