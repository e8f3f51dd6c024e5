"""Where ingest's CPU goes, stage by stage, in one process (no HTTP, no threads).

    .venv/bin/python benchmarks/writer_profile.py                     # 20,000 spans
    .venv/bin/python benchmarks/writer_profile.py --spans 40000 --profile

Builds the request bodies of ``ingest.py`` (``workload.py``, seeded: 500 spans a request, 4 spans a turn,
5 turns a session) and runs each stage the server runs on them, timed per span in CPU time of the
thread that runs it (``time.thread_time``: other processes on a shared machine change it less than the
clock on the wall; the write stage's wall time is printed too), the garbage collector tuned as the server
tunes it (``serve.tune_garbage_collection``):

* decode: ``decode.decode_protobuf`` of each body (the default privacy does nothing);
* prepare: ``Preparer.prepare`` (normalize, price) of each request's spans;
* write: the SQLite engine's writer path on a real database file in a temporary directory, as the writer
  thread runs it: per transaction (``--requests-per-commit`` requests, 1 by default), ``store.write()`` and
  ``Stitcher.apply_all`` of its requests, committed; stitching, folding, texts, compression and SQL included.

Two figures put the writer's in proportion, measured in the same process on the same rows:

* against decode + prepare: the writer runs on one thread while decoding and preparing can spread over
  the others, so on two cores the writer keeps up with the edge when this ratio is 1 or less;
* against a floor: a bare ``executemany`` of the same spans (the columns of the ``spans`` table, the body
  the attributes as plain JSON, uncompressed) into a table shaped and indexed like ``spans``, in a
  database opened with the same pragmas, committed as often. Whatever the writer costs beyond it is
  Python: stitching, folding, texts, encoding. A ratio of 1 would be a writer doing nothing but storing
  the spans.

Also printed: bytes on disk per span (the database file once the store is closed: a running server's WAL
adds at most ``checkpoint.WAL_HARD_LIMIT_BYTES`` to it, whatever the number of spans), and with
``--profile`` the cProfile top 20 of the write stage (by own time), run a second time on a fresh database
so that the timings above stay unprofiled.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.port import SpanItem
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.rollup import FoldOptions
from threadline.server.ingest.stitch import Stitcher
from threadline.server.serve import tune_garbage_collection
from threadline.server.store.sqlite import db
from threadline.server.store.sqlite.store import SqliteStore
from workload import Workload, requests

PROJECT = 1
_FLOOR_TABLE = """
CREATE TABLE spans (
    pk INTEGER PRIMARY KEY, trace_pk INTEGER NOT NULL, span_id BLOB NOT NULL, parent_span_id BLOB,
    name TEXT NOT NULL, kind INTEGER NOT NULL, category TEXT NOT NULL, start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL, status_code INTEGER NOT NULL, cost_usd REAL, cost_source TEXT,
    resource_id INTEGER NOT NULL, body BLOB NOT NULL
)"""
_FLOOR_INDEX = "CREATE UNIQUE INDEX spans_by_trace ON spans (trace_pk, span_id)"
_FLOOR_INSERT = "INSERT INTO spans VALUES (NULL,?,?,?,?,?,?,?,?,?,?,?,?,?)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=20_000, help="spans in the workload (20 a session)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests-per-commit", type=int, default=1, help="requests per write transaction")
    parser.add_argument("--profile", action="store_true", help="cProfile top 20 of the write stage")
    args = parser.parse_args()

    workload = Workload(sessions=max(args.spans // 20, 1), seed=args.seed)
    bodies = list(requests(workload, time.time_ns()))
    spans = workload.total_spans
    print(f"workload: {workload.sessions} sessions, {spans} spans, {len(bodies)} requests")

    preparer = Preparer()
    tune_garbage_collection()  # as ``threadline serve`` does once started
    per_commit = args.requests_per_commit
    with tempfile.TemporaryDirectory(prefix="threadline-writer-") as tmp:
        times, disk = run_stages(Path(tmp) / "data", bodies, per_commit, preparer)
    decode_s, prepare_s, write_s, write_wall_s = times
    with tempfile.TemporaryDirectory(prefix="threadline-floor-") as tmp:
        floor_s = floor(Path(tmp) / "floor.db", bodies, per_commit, preparer)

    def us(seconds: float) -> float:
        return seconds / spans * 1e6

    print(f"\n  {'decode':<28}{us(decode_s):>8.1f} µs/span")
    print(f"  {'prepare (normalize, price)':<28}{us(prepare_s):>8.1f} µs/span")
    print(f"  {'write (stitch, fold, SQL)':<28}{us(write_s):>8.1f} µs/span  (wall {us(write_wall_s):.1f} µs/span)")
    print(f"  {'floor (bare executemany)':<28}{us(floor_s):>8.1f} µs/span")
    print(f"\n  write / (decode + prepare)  {write_s / (decode_s + prepare_s):>6.2f}x")
    print(f"  write / floor               {write_s / floor_s:>6.2f}x")
    print(f"  bytes on disk per span      {disk / spans:>6.0f} B (the database file, its WAL checkpointed)")

    if args.profile:
        profiler = cProfile.Profile()
        with tempfile.TemporaryDirectory(prefix="threadline-writer-") as tmp:
            run_stages(Path(tmp) / "data", bodies, per_commit, preparer, profiler)
        print("\nwrite stage, cProfile (by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def run_stages(
    data_dir: Path,
    bodies: Sequence[bytes],
    per_commit: int,
    preparer: Preparer,
    profiler: cProfile.Profile | None = None,
) -> tuple[tuple[float, float, float, float], int]:
    """CPU seconds of decode, prepare and write, the write's wall seconds, and the size of the database file
    once closed (its WAL checkpointed into it). Each transaction's requests are decoded and prepared just
    before it is written, so that only the writer's caches stay in memory, as in a server."""
    store = SqliteStore(data_dir)
    stitcher = Stitcher(preparer.prepare, FoldOptions(windows=preparer.prices.context_window))
    decode_s = prepare_s = write_s = wall_s = 0.0
    try:
        for i in range(0, len(bodies), per_commit):
            started = time.thread_time()
            decoded = [decode_protobuf(body).spans for body in bodies[i : i + per_commit]]
            decode_s += time.thread_time() - started
            started = time.thread_time()
            group = [preparer.prepare(spans) for spans in decoded]
            prepare_s += time.thread_time() - started
            del decoded
            if profiler is not None:
                profiler.enable()
            started, wall = time.thread_time(), time.perf_counter()
            with store.write() as txn:
                stitcher.apply_all(txn, [(PROJECT, items) for items in group])
            write_s += time.thread_time() - started
            wall_s += time.perf_counter() - wall
            if profiler is not None:
                profiler.disable()
    finally:
        store.close()
    return (decode_s, prepare_s, write_s, wall_s), store.path.stat().st_size


def floor(path: Path, bodies: Sequence[bytes], per_commit: int, preparer: Preparer) -> float:
    """CPU seconds to insert the same spans as bare rows, ``per_commit`` requests a transaction."""
    conn = db.connect_writer(path)
    conn.execute(_FLOOR_TABLE)
    conn.execute(_FLOOR_INDEX)
    trace_pks: dict[bytes, int] = {}

    def row(item: SpanItem) -> tuple[object, ...]:
        span, facts = item
        return (
            trace_pks.setdefault(span.trace_id, len(trace_pks) + 1), span.span_id, span.parent_span_id, span.name,
            span.kind, facts.category, span.start_ns, span.end_ns, span.status_code, facts.cost_usd,
            facts.cost_source, 1, orjson.dumps(span.attributes),
        )  # fmt: skip

    seconds = 0.0
    try:
        for i in range(0, len(bodies), per_commit):
            group = [preparer.prepare(decode_protobuf(body).spans) for body in bodies[i : i + per_commit]]
            started = time.thread_time()
            conn.execute("BEGIN IMMEDIATE")
            for items in group:
                conn.executemany(_FLOOR_INSERT, [row(item) for item in items])
            conn.execute("COMMIT")
            seconds += time.thread_time() - started
        return seconds
    finally:
        conn.close()


if __name__ == "__main__":
    main()
