"""Any spans of any session, in any order, through any number of servers at once: the same sessions."""

from __future__ import annotations

import copy
import random
import threading
from pathlib import Path

import pytest

from store_clickhouse.feed import Fed, clickhouse, prepare, snapshot, sqlite
from store_clickhouse.workload import bodies, spans
from store_contract import dataset
from support.otlp import request
from threadline.server.ingest.port import WriterOptions
from threadline.server.ingest.records import RawSpan
from threadline.server.store.clickhouse.store import ClickHouseStore

ORDERED = 1
"""The ordered run's project; each shuffled run writes a project of its own (chdb opens one directory per
process, so the runs share one database)."""


def shuffled_requests(requests: list[bytes], seed: int, largest: int) -> list[list[RawSpan]]:
    """Every span of the requests, shuffled, in requests of 1 to ``largest`` spans."""
    rng = random.Random(seed)
    decoded = [s for body in requests for s in spans(body)]
    rng.shuffle(decoded)
    chunks: list[list[RawSpan]] = []
    while decoded:
        size = rng.randint(1, largest)
        chunks.append(decoded[:size])
        decoded = decoded[size:]
    return chunks


def two_servers(first: Fed, second: Fed, chunks: list[list[RawSpan]], project_id: int, seed: int) -> None:
    """Half the requests to each server from two threads at once; a quarter retried on the other server."""
    rng = random.Random(seed)
    retried = set(rng.sample(range(len(chunks)), len(chunks) // 4))
    halves: list[list[list[RawSpan]]] = [[], []]
    for index, chunk in enumerate(chunks):
        halves[index % 2].append(chunk)
        if index in retried:
            halves[(index + 1) % 2].append(chunk)
    failures: list[BaseException] = []

    def send(fed: Fed, work: list[list[RawSpan]]) -> None:
        try:
            for chunk in work:  # each request its own copies, as decoded from its own body
                fed.write(prepare(copy.deepcopy(chunk)), project_id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send, args=pair) for pair in zip((first, second), halves, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def contract_dataset() -> list[bytes]:
    """The contract's sessions (explicit ends, journeys, errors, session events) and an orphan trace."""
    return [request(*session.spans) for session in dataset.sessions()] + [request(*dataset.orphan())]


@pytest.mark.parametrize("source", ["workload", "contract dataset"])
def test_shuffled_split_across_two_servers_matches_one_ordered_run(source: str, ch_path: Path, tmp_path: Path) -> None:
    requests = bodies(sessions=10, turns=4, per_request=30) if source == "workload" else contract_dataset()
    with clickhouse(ch_path) as first, sqlite(tmp_path / "sqlite") as lite:
        for body in requests:
            first.write(prepare(spans(body)), ORDERED)
            lite.write(prepare(spans(body)), ORDERED)
        ordered = snapshot(first.store, ORDERED)
        assert ordered == snapshot(lite.store, ORDERED)
        assert ordered["stats"].session_count == (10 if source == "workload" else len(dataset.sessions()))

        second = Fed(ClickHouseStore(f"chdb://{ch_path}"), WriterOptions(max_batch_spans=8))
        assert second.conn is first.conn  # two stores on one chdb engine: their writers interleave
        try:
            for project_id, (seed, largest) in enumerate([(11, 12), (12, 3), (13, 1)], start=2):
                chunks = shuffled_requests(requests, seed, largest)
                two_servers(first, second, chunks, project_id, seed)
                assert snapshot(first.store, project_id) == ordered, seed
            for chunk in chunks[:5]:  # retried again, long after: nothing changes
                second.write(prepare(copy.deepcopy(chunk)), project_id)
            assert snapshot(second.store, project_id) == ordered
        finally:
            second.close()
