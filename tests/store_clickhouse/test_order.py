"""Any spans of any session, in any order, through any number of servers at once: the same sessions."""

from __future__ import annotations

import copy
import random
import threading
from pathlib import Path

from store_clickhouse.feed import Fed, clickhouse, prepare, snapshot, sqlite
from store_clickhouse.workload import bodies, spans
from threadline.server.ingest.port import WriterOptions
from threadline.server.ingest.records import RawSpan
from threadline.server.store.clickhouse.store import ClickHouseStore

ORDERED, SHUFFLED = 1, 2
"""Two projects of one database: the ordered run and the shuffled one (chdb opens one directory per process)."""


def test_shuffled_split_across_two_servers_matches_one_ordered_run(ch_path: Path, tmp_path: Path) -> None:
    requests = bodies(sessions=10, turns=4, per_request=30)
    with clickhouse(ch_path) as first, sqlite(tmp_path / "sqlite") as lite:
        for body in requests:
            first.write(prepare(spans(body)), ORDERED)
            lite.write(prepare(spans(body)), ORDERED)
        ordered = snapshot(first.store, ORDERED)
        assert ordered == snapshot(lite.store, ORDERED)
        assert ordered["stats"].session_count == 10

        rng = random.Random(11)
        decoded = [s for body in requests for s in spans(body)]
        rng.shuffle(decoded)
        chunks: list[list[RawSpan]] = []
        while decoded:
            size = rng.randint(1, 12)
            chunks.append(decoded[:size])
            decoded = decoded[size:]
        retried = set(rng.sample(range(len(chunks)), len(chunks) // 4))
        halves: list[list[list[RawSpan]]] = [[], []]
        for index, chunk in enumerate(chunks):
            halves[index % 2].append(chunk)
            if index in retried:  # a client retry, to the other server
                halves[(index + 1) % 2].append(chunk)

        second = Fed(ClickHouseStore(f"chdb://{ch_path}"), WriterOptions(max_batch_spans=8))
        assert second.store.conn is first.store.conn  # two stores on one chdb engine: their writers interleave
        try:

            def send(fed: Fed, work: list[list[RawSpan]]) -> None:
                for chunk in work:  # each request its own copies, as decoded from its own body
                    fed.write(prepare(copy.deepcopy(chunk)), SHUFFLED)

            threads = [threading.Thread(target=send, args=pair) for pair in zip((first, second), halves, strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert snapshot(first.store, SHUFFLED) == ordered
            for chunk in chunks[:5]:  # retried again, long after: nothing changes
                second.write(prepare(copy.deepcopy(chunk)), SHUFFLED)
            assert snapshot(second.store, SHUFFLED) == ordered
        finally:
            second.close()
