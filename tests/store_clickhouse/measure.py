"""Ingest rate and read latencies of the ClickHouse engine (chdb, in process) on the benchmarks' seeded
workload, next to the SQLite engine's on the same machine:

    .venv/bin/python tests/store_clickhouse/measure.py                      # 2,500 sessions = 50,000 spans
    .venv/bin/python tests/store_clickhouse/measure.py --engine sqlite

Requests are decoded and prepared first (the HTTP threads' work), then written through the engine's writer
with 8 requests in flight, as a busy server would; the rate is spans over the time the writes took.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.port import WriterOptions
from threadline.server.ingest.prepare import Preparer
from threadline.server.store.base import ORDERINGS, Rules, SessionQuery, Store, UserQuery, Window
from workload import WORKLOAD  # type: ignore[import-not-found]  # a sibling: this file runs as a script


def p50_ms(read: Callable[[], Any], samples: int = 25) -> float:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        read()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def open_store(engine: str, folder: Path) -> Store:
    if engine == "sqlite":
        from threadline.server.store.sqlite.store import SqliteStore

        return SqliteStore(folder)
    from threadline.server.store.clickhouse.store import ClickHouseStore

    return ClickHouseStore(f"chdb://{folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("clickhouse", "sqlite"), default="clickhouse")
    parser.add_argument("--sessions", type=int, default=2500)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()
    preparer = Preparer()
    workload = WORKLOAD.Workload(sessions=args.sessions)
    prepared = [preparer.prepare(decode_protobuf(b).spans) for b in WORKLOAD.requests(workload, time.time_ns())]
    total = sum(len(items) for items in prepared)
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(args.engine, Path(folder) / "store")
        writer = store.writer(preparer.prepare, WriterOptions())
        writer.start()

        async def send_all() -> None:
            gate = asyncio.Semaphore(args.in_flight)

            async def send(items: Any) -> None:
                async with gate:
                    await writer.write(1, items)

            await asyncio.gather(*(send(items) for items in prepared))

        start = time.perf_counter()
        asyncio.run(send_all())
        elapsed = time.perf_counter() - start
        print(f"{args.engine}: {total} spans written in {elapsed:.1f} s: {total / elapsed:,.0f} spans/s")
        print(store.stats(1))
        for ordering in ORDERINGS:
            query = SessionQuery(ordering=ordering, limit=50)
            print(f"list by {ordering}: p50 {p50_ms(partial(store.list_sessions, 1, query)):.1f} ms")
        filtered = SessionQuery(has_error=True, q="refund", limit=50)
        print(f"list filtered (errors, text): p50 {p50_ms(lambda: store.list_sessions(1, filtered)):.1f} ms")
        ids = [s.session_id for s in store.list_sessions(1, SessionQuery(limit=500)).items]
        rng = random.Random(1)
        print(f"detail: p50 {p50_ms(lambda: store.get_session(1, rng.choice(ids))):.1f} ms")
        detail = store.get_session(1, ids[0])
        assert detail is not None
        trace_id = bytes.fromhex(detail.turns[0].trace_ids[0])
        print(f"trace spans: p50 {p50_ms(lambda: store.trace_spans(1, trace_id)):.1f} ms")
        print(f"stats: p50 {p50_ms(lambda: store.stats(1)):.1f} ms")
        print(f"users: p50 {p50_ms(lambda: store.list_users(1, UserQuery(limit=50))):.1f} ms")
        rules = Rules(time.time_ns(), 30 * 60 * 10**9)
        print(f"analytics: p50 {p50_ms(lambda: store.session_analytics(1, Window(), rules)):.1f} ms")
        writer.stop()
        store.close()


if __name__ == "__main__":
    main()
