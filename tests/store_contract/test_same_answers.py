"""The engines give the same answers: every record of every read, for the same spans, compared field by field
(floats to 9 significant digits: engines may add in another order)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store_contract import dataset
from store_contract.conftest import IDLE_NS, Engine, at, make_engine
from store_contract.test_reads import _rounded
from support.corpus import FOLDERS, trace_requests
from threadline.server.ingest.decode import decode_json, decode_protobuf
from threadline.server.store.base import ORDERINGS, USER_ORDERINGS, Rules, SessionQuery, UserQuery, Window

pytest.importorskip("chdb")

SORT_KEYS = {
    "last_activity": lambda s: s["last_ns"],
    "first_activity": lambda s: s["first_ns"],
    "total_cost": lambda s: -1.0 if s["total_cost_usd"] is None else s["total_cost_usd"],
    "total_tokens": lambda s: s["input_tokens"] + s["output_tokens"],
    "duration": lambda s: s["last_ns"] - s["first_ns"],
    "turn_count": lambda s: s["turn_count"],
    "error_count": lambda s: s["error_count"],
}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Engine]]:
    """Both engines, fed the dataset and every captured client payload, request by request."""
    folder = Path(tmp_path_factory.mktemp("pair"))
    sessions, orphan = dataset.sessions(), dataset.orphan()  # one set of ids for both
    for sqlite in make_engine("sqlite", folder / "sqlite"):
        for clickhouse in make_engine("clickhouse", folder / "clickhouse"):
            for engine in (sqlite, clickhouse):
                for session in sessions:
                    engine.send(session.spans)
                engine.send(orphan)
                for name in FOLDERS:
                    for captured in trace_requests(name):
                        body = captured.body
                        if captured.headers.get("Content-Encoding") == "gzip":
                            body = gzip.decompress(body)
                        batch = (
                            decode_json(body) if "json" in captured.headers["Content-Type"] else decode_protobuf(body)
                        )
                        engine.run(engine.writer.write(1, engine.preparer.prepare(batch.spans)))
            yield sqlite, clickhouse


def both(pair: tuple[Engine, Engine], read: Any) -> tuple[Any, Any]:
    return _rounded(read(pair[0])), _rounded(read(pair[1]))


def test_the_corpus_made_sessions(pair: tuple[Engine, Engine]) -> None:
    assert pair[0].store.stats(1).session_count > len(dataset.sessions())


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_session_lists(pair: tuple[Engine, Engine], ordering: str) -> None:
    """The same sessions in the same order of the ordering's values; sessions of equal value may come in
    another order (each engine breaks ties by a key of its own: SQLite by arrival, ClickHouse by id)."""
    query = SessionQuery(now_ns=at(dataset.NOW_S), idle_timeout_ns=IDLE_NS, ordering=ordering, limit=1000)
    sqlite, clickhouse = both(pair, lambda e: e.store.list_sessions(1, query).items)
    value = SORT_KEYS[ordering]
    assert [value(s) for s in clickhouse] == [value(s) for s in sqlite]
    assert sorted(clickhouse, key=lambda s: (value(s), s["session_id"])) == sorted(
        sqlite, key=lambda s: (value(s), s["session_id"])
    )


def test_session_details(pair: tuple[Engine, Engine]) -> None:
    ids = [s.session_id for s in pair[0].store.list_sessions(1, SessionQuery(limit=1000)).items]
    for session_id in ids:
        sqlite, clickhouse = both(pair, lambda e, s=session_id: e.store.get_session(1, s))
        assert clickhouse == sqlite, session_id


def test_traces(pair: tuple[Engine, Engine]) -> None:
    detail = pair[0].store.get_session(1, "broken")
    assert detail is not None
    for trace_hex in (t for turn in detail.turns for t in turn.trace_ids):
        trace_id = bytes.fromhex(trace_hex)
        sqlite, clickhouse = both(pair, lambda e, t=trace_id: (e.store.trace(1, t), e.store.trace_spans(1, t)))
        assert clickhouse == sqlite


@pytest.mark.parametrize("ordering", USER_ORDERINGS)
def test_users(pair: tuple[Engine, Engine], ordering: str) -> None:
    sqlite, clickhouse = both(pair, lambda e: e.store.list_users(1, UserQuery(ordering=ordering, limit=1000)).items)
    assert clickhouse == sqlite


def test_everything_else(pair: tuple[Engine, Engine]) -> None:
    rules = Rules(at(dataset.NOW_S), IDLE_NS)
    for read in (
        lambda e: e.store.stats(1),
        lambda e: e.store.session_analytics(1, Window(), rules),
        lambda e: e.store.session_analytics(1, Window(since_ns=at(15_000)), rules),
        lambda e: e.store.journey_progress(1, Window()),
        lambda e: e.store.models(1),
        lambda e: e.store.list_orphan_traces(1, 100).items,
        lambda e: sorted(e.store.sessions_going_idle(1, at(0), at(20_000))),
        lambda e: e.store.sessions_quiet_since(1, at(10_000), 1000),
    ):
        sqlite, clickhouse = both(pair, read)
        assert clickhouse == sqlite
