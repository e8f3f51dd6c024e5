"""Erasure and retention leave every read exact: the same answers as the SQLite engine after the same steps."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from store_clickhouse.feed import Fed, clickhouse, prepare, rounded, run, snapshot, sqlite
from store_contract import dataset
from support.otlp import BASE_NS, SpanSpec, new_trace_id, request
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.port import Erased, SpanWriter
from threadline.server.store.base import UserQuery
from threadline.server.store.clickhouse import writer as writer_module
from threadline.server.store.clickhouse.store import ClickHouseStore
from threadline.server.store.records import Stats


def send(fed: Fed, spans: list[SpanSpec]) -> None:
    fed.write(prepare(decode_protobuf(request(*spans)).spans))


def requests() -> list[bytes]:
    """The contract dataset, an orphan trace and one of ann's, as request bodies (ids fixed once)."""
    found = [request(*session.spans) for session in dataset.sessions()]
    found.append(request(*dataset.orphan()))
    found.append(request(SpanSpec(new_trace_id(), name="ann-job", start_s=100, attributes={"user.id": "ann"})))
    return found


def fill(fed: Fed, bodies: list[bytes]) -> None:
    for body in bodies:
        fed.write(prepare(decode_protobuf(body).spans))


def same(erased: Erased | None, other: Erased | None) -> None:
    assert (erased is None) == (other is None)
    if erased is not None and other is not None:
        assert sorted(erased.sessions) == sorted(other.sessions)
        assert erased.spans == other.spans
        assert sorted(erased.trace_ids) == sorted(other.trace_ids)


def test_erasure_and_expiry_match_sqlite(ch_path: Path, tmp_path: Path) -> None:
    bodies = requests()
    with clickhouse(ch_path) as ch, sqlite(tmp_path / "sqlite") as lite:
        fill(ch, bodies)
        fill(lite, bodies)
        assert snapshot(ch.store) == snapshot(lite.store)
        orphans = [t.trace_id for t in lite.store.list_orphan_traces(1, 10).items]
        assert len(orphans) == 2
        steps: list[Callable[[SpanWriter], Awaitable[Erased | None]]] = [
            lambda w: w.erase_session(1, "asked"),
            lambda w: w.erase_session(1, "no-such-session"),
            lambda w: w.erase_user(1, ["ann"]),
            lambda w: w.expire_sessions(1, [f"bulk-{i:02d}" for i in range(30)] + ["live"], BASE_NS + 3000 * 10**9),
            lambda w: w.expire_orphan_traces(1, orphans, BASE_NS),
            lambda w: w.expire_orphan_traces(1, orphans, BASE_NS + 10**15),
        ]
        for step in steps:
            same(run(step(ch.writer)), run(step(lite.writer)))
            assert snapshot(ch.store) == snapshot(lite.store)
        stats = ch.store.stats(1)
        assert stats.orphan_trace_count == 0
        assert 0 < stats.session_count < len(dataset.sessions()) - 11  # "asked" and ann's, then quiet ones
        fill(ch, bodies)  # everything comes back as new
        fill(lite, bodies)
        assert rounded(snapshot(ch.store)) == rounded(snapshot(lite.store))


def test_erasing_a_session_refolds_another_its_traces_named(ch_path: Path) -> None:
    """A trace whose child names one session and root another belongs to the root's; erasing that one removes the
    trace, and the child's session is folded again without it."""
    shared, own = new_trace_id(), new_trace_id()
    root = SpanSpec(shared, name="turn", start_s=10, end_s=12, attributes={"session.id": "b", "input.value": "hi"})
    child = SpanSpec(shared, parent_span_id=root.span_id, start_s=10.5, end_s=11, attributes={"session.id": "a"})
    with clickhouse(ch_path) as ch:
        send(ch, [child])
        send(ch, [SpanSpec(own, name="turn", start_s=1, end_s=2, attributes={"session.id": "a", "input.value": "x"})])
        assert ch.store.get_session(1, "a").summary.trace_count == 2  # type: ignore[union-attr]
        send(ch, [root])
        assert ch.store.get_session(1, "a").summary.trace_count == 1  # type: ignore[union-attr]
        assert ch.store.get_session(1, "b").summary.span_count == 2  # type: ignore[union-attr]
        erased = run(ch.writer.erase_session(1, "b"))
        assert erased.spans == 2
        assert erased.trace_ids == [shared]
        assert ch.store.get_session(1, "b") is None
        assert ch.store.get_session(1, "a").summary.trace_count == 1  # type: ignore[union-attr]
        assert ch.store.stats(1).span_count == 1
        send(ch, [SpanSpec(own, start_s=1.2, end_s=1.4, parent_span_id=b"\x01" * 8, attributes={"session.id": "a"})])
        assert ch.store.get_session(1, "a").summary.span_count == 2  # type: ignore[union-attr]


def test_rows_a_slower_server_writes_after_an_erasure_are_repaired(
    ch_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that read a session before its erasure and writes after it leaves rows of deleted spans; the
    erasing server repairs them a while later."""
    monkeypatch.setattr(writer_module, "RECHECK_S", 0.2)
    session = dataset.sessions()[0]
    with clickhouse(ch_path) as ch:
        send(ch, session.spans)
        conn = ch.conn
        stale = {
            table: (conn.query(f"SELECT * FROM {table} WHERE project_id = 1"), conn.query(f"DESCRIBE TABLE {table}"))
            for table in ("traces", "session_traces", "sessions")
        }
        assert run(ch.writer.erase_session(1, session.session_id)) is not None
        for table, (rows, described) in stale.items():  # the slower server's writes land now
            conn.insert(table, rows, [d[0] for d in described])
        assert ch.store.get_session(1, session.session_id) is not None
        deadline = time.monotonic() + 10
        while ch.store.get_session(1, session.session_id) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ch.store.get_session(1, session.session_id) is None
        assert ch.store.stats(1) == Stats(0, 0, 0, 0, 0)
        assert ch.store.list_users(1, UserQuery()).items == []


def test_a_trace_erased_and_sent_again_with_other_spans_is_folded_anew(ch_path: Path) -> None:
    """After an erasure a trace's versions start over: another server, whose caches hold the erased fold, must
    not take a fold of the same version but other spans for it."""
    trace_id, other_id, third_id = new_trace_id(), new_trace_id(), new_trace_id()
    said = {"session.id": "s", "input.value": "hello"}
    with clickhouse(ch_path) as first:
        second = Fed(ClickHouseStore(f"chdb://{ch_path}"))
        try:
            send(first, [SpanSpec(trace_id, name="turn", start_s=1, end_s=2, attributes=said)])
            send(second, [SpanSpec(other_id, name="turn", start_s=5, end_s=6, attributes={**said, "input.value": "x"})])
            assert first.store.get_session(1, "s").summary.first_input == "hello"  # type: ignore[union-attr]
            assert run(first.writer.erase_session(1, "s")) is not None
            send(
                first, [SpanSpec(trace_id, name="turn", start_s=3, end_s=4, attributes={**said, "input.value": "bye"})]
            )
            send(second, [SpanSpec(third_id, name="turn", start_s=7, end_s=8, attributes={**said, "input.value": "z"})])
            detail = first.store.get_session(1, "s")
            assert detail is not None
            assert [t.input for t in detail.turns] == ["bye", "z"]
            assert first.store.stats(1).span_count == 2
        finally:
            second.close()
