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

With ``--stages``, the write stage is run again on a fresh database with a clock around each of its parts
(the time of a part excludes the parts it calls; each clock costs about half a microsecond, so their sum
is a little above the plain write figure, by the amount printed): what is left is the transaction's
``BEGIN`` and ``COMMIT``.

Also printed: bytes on disk per span (the database file once the store is closed: a running server's WAL
adds at most ``checkpoint.WAL_HARD_LIMIT_BYTES`` to it, whatever the number of spans), and with
``--profile`` the cProfile top 20 of the write stage (by own time), run a second time on a fresh database
so that the timings above stay unprofiled.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.port import SpanItem
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.rollup import FoldOptions
from threadline.server.ingest.session_state import SessionState
from threadline.server.ingest.stitch import Stitcher
from threadline.server.ingest.trace_agg import TraceAgg
from threadline.server.serve import tune_garbage_collection
from threadline.server.store.sqlite import codec, compress, db, ingest, texts
from threadline.server.store.sqlite.store import SqliteStore
from threadline.server.store.sqlite.textparts import Cutter
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
    parser.add_argument("--stages", action="store_true", help="the write stage's CPU time by part")
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

    if args.stages:
        clocks = PartClocks()
        with tempfile.TemporaryDirectory(prefix="threadline-writer-") as tmp, clocks.patched(PARTS):
            (_, _, staged_s, _), _ = run_stages(Path(tmp) / "data", bodies, per_commit, preparer)
        inner_s, outer_s = calibrate()
        parts = clocks.corrected(inner_s, outer_s)
        clocks_s = sum(clocks.spent.values()) - sum(parts.values())
        parts["SQL: begin and commit (the rest)"] = staged_s - sum(clocks.spent.values())
        print(f"\nwrite stage by part (CPU µs/span; each part without the parts it calls, its clocks' cost taken "
              f"out: {inner_s * 1e6:.2f} + {outer_s * 1e6:.2f} µs a call):")  # fmt: skip
        for name, seconds in sorted(parts.items(), key=lambda item: -item[1]):
            print(f"  {name:<56}{us(seconds):>8.1f}")
        print(f"  {'sum':<56}{us(sum(parts.values())):>8.1f}   (plain write above: {us(write_s):.1f}; "
              f"clocks taken out: {us(clocks_s):.1f})")  # fmt: skip

    if args.profile:
        profiler = cProfile.Profile()
        with tempfile.TemporaryDirectory(prefix="threadline-writer-") as tmp:
            run_stages(Path(tmp) / "data", bodies, per_commit, preparer, profiler)
        print("\nwrite stage, cProfile (by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


PARTS: dict[str, list[tuple[Any, str]]] = {
    "fold spans into traces (TraceAgg.add)": [(TraceAgg, "add")],
    "fold turns and sessions (SessionState.refresh)": [(SessionState, "refresh")],
    "cut long strings into parts (Cutter.extract)": [(Cutter, "extract")],
    "find or add texts (TextWriter.intern, find)": [(texts.TextWriter, "intern"), (texts.TextWriter, "find")],
    "span bodies as JSON (codec.encode_body)": [(codec, "encode_body")],
    "zstd (compress.pack)": [(compress, "pack")],
    "trace folds encoded (codec.encode_trace)": [(codec, "encode_trace")],
    "SQL: insert texts (TextWriter.flush)": [(texts.TextWriter, "flush")],
    "span rows + SQL insert (_write_spans)": [(ingest.SqliteIngest, "_write_spans")],
    "trace rows + SQL insert/update (save_traces)": [(ingest.SqliteIngest, "save_traces")],
    "session and turn rows + SQL (save_sessions)": [(ingest.SqliteIngest, "save_sessions")],
    "SQL reads (homes, stored spans, sessions, traces)": [
        (ingest.SqliteIngest, name)
        for name in (
            "trace_homes",
            "stored_span_ids",
            "load_session",
            "load_session_by_pk",
            "load_trace",
            "existing_users",
            "_stored_scopes",
        )
    ],
    "SQL: users and counters": [(ingest.SqliteIngest, "add_users"), (ingest.SqliteIngest, "add_counters")],
    "the stitcher's own Python (grouping, attaching, users)": [(Stitcher, "apply_all")],
}
"""The write stage's parts: what is clocked, by the name printed."""


class PartClocks:
    """A clock around functions: CPU time of the thread spent in each named part, without the parts it calls,
    with the clocks' own cost taken out (measured on a function that does nothing, see ``calibrate``)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.nested: dict[str, int] = {}
        """Clocked calls each part made."""
        self._stack: list[list[Any]] = []  # per open part: [name, started, time in the clocked calls it made]
        self._saved: list[tuple[Any, str, Any]] = []

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        spent, calls, nested, stack = self.spent, self.calls, self.nested, self._stack
        spent.setdefault(name, 0.0)
        calls.setdefault(name, 0)
        nested.setdefault(name, 0)

        @functools.wraps(function)
        def clocked_call(*args: Any, **kwargs: Any) -> Any:
            frame = [name, time.thread_time(), 0.0]
            stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                stack.pop()
                elapsed = time.thread_time() - frame[1]
                spent[name] += elapsed - frame[2]
                calls[name] += 1
                if stack:
                    stack[-1][2] += elapsed
                    nested[stack[-1][0]] += 1

        return clocked_call

    @contextmanager
    def patched(self, parts: dict[str, list[tuple[Any, str]]]) -> Iterator[None]:
        """Clock these parts' functions (owner, attribute) while open."""
        for name, targets in parts.items():
            for owner, attribute in targets:
                original = getattr(owner, attribute)
                self._saved.append((owner, attribute, original))
                setattr(owner, attribute, self.wrap(name, original))
        try:
            yield
        finally:
            for owner, attribute, original in reversed(self._saved):
                setattr(owner, attribute, original)
            self._saved.clear()

    def corrected(self, inner_s: float, outer_s: float) -> dict[str, float]:
        """Each part's seconds less its clocks' cost: ``inner_s`` a call inside its own figure, ``outer_s`` a
        call inside its caller's."""
        return {
            name: self.spent[name] - self.calls[name] * inner_s - self.nested[name] * outer_s for name in self.spent
        }


def calibrate(calls: int = 200_000) -> tuple[float, float]:
    """What a clocked call costs (seconds): inside the part called, and inside the part calling it."""
    clocks = PartClocks()
    nothing = clocks.wrap("nothing", lambda: None)

    def caller() -> None:
        for _ in range(calls):
            nothing()

    clocks.wrap("caller", caller)()
    bare_started = time.thread_time()
    for _ in range(calls):
        pass
    loop_s = time.thread_time() - bare_started
    return clocks.spent["nothing"] / calls, (clocks.spent["caller"] - loop_s) / calls


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
