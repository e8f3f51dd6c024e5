"""Ingest and query speed of the embedded store at scale (the README's Performance targets).

    python benchmarks/ingest.py                     # 50,000 sessions / 1,000,000 spans
    python benchmarks/ingest.py --sessions 5000     # a quicker look

Starts ``threadline serve`` in its own process, sends a seeded workload of multi-turn agent sessions
(4 spans per turn, 5 turns per session) over HTTP from several concurrent senders, and measures:
end-to-end spans/s (from the first request until ``/api/v1/stats`` counts every span), where each
microsecond of it went (the writer's busy time, and CPU time by thread and process, from the server's
``/metrics`` and ``/proc``: ``harness.TimeAccount``), the server's peak RSS, bytes on disk per span, the
p50 latency of the session list (every ordering), session detail and trace queries over the full data
set, and of the web UI's pages (the sessions page, and the page of a 20-turn session) with the size of
the script they ship. Each figure is printed with its target and the ratio to it; with
``--baseline-spans`` the same senders also send part of the workload to the baseline server
(``--baseline``, see ``baseline.py``) in the same run, and the ratio of the two ingest rates is printed.
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
import urllib.parse
from pathlib import Path

from harness import TimeAccount, cpu_count, get_json, p50_ms, send_all, threadline_server
from workload import Workload, requests

ORDERINGS = ("last_activity", "first_activity", "total_cost", "total_tokens", "duration", "turn_count", "error_count")
TARGETS = {
    "spans_per_s": 20_000,
    "disk_bytes_per_span": 1_000,
    "list_p50_ms": 20.0,
    "detail_p50_ms": 20.0,
    "rss_mb": 400.0,
    "page_p50_ms": 50.0,
    "js_kb_compressed": 150.0,
}
LONG_SESSIONS = Workload(sessions=20, turns_per_session=20, seed=1007)
"""Sessions of 20 turns, sent after the main workload, for the session page's figure."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--samples", type=int, default=25, help="requests per query kind for the p50")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--baseline", choices=("phoenix", "none"), default="phoenix", help="peer server to compare ingest with"
    )
    parser.add_argument(
        "--baseline-spans", type=int, default=None, help="spans sent to Threadline and the baseline to compare them"
    )
    parser.add_argument(
        "--ingest-workers", type=int, default=None, help="the server's --ingest-workers (default: its own default)"
    )
    args = parser.parse_args()

    workload = Workload(sessions=args.sessions, seed=args.seed)
    print(f"machine: {cpu_count()} cores; workload: {workload.sessions} sessions, {workload.total_spans} spans")
    started = time.perf_counter()
    bodies = list(requests(workload, time.time_ns()))
    size = sum(len(b) for b in bodies)
    print(
        f"generated {len(bodies)} requests ({size / 1e6:.0f} MB, {size / workload.total_spans:.0f} B/span on the wire) "
        f"in {time.perf_counter() - started:.0f}s"
    )

    extra = [] if args.ingest_workers is None else ["--ingest-workers", str(args.ingest_workers)]
    with threadline_server(extra) as server:

        def all_counted() -> bool:
            return bool(get_json(server.port, "/api/v1/stats")["span_count"] >= workload.total_spans)

        account = TimeAccount(server, workload.total_spans, cpu_count())
        account.start()
        sent = send_all(server.port, bodies, args.senders, done=all_counted)
        account.report()
        rate = workload.total_spans / sent.seconds
        stats = get_json(server.port, "/api/v1/stats")
        assert stats["span_count"] == workload.total_spans, stats
        assert stats["session_count"] == workload.sessions, stats
        rss = server.peak_rss_mb() * 2**20 / 1e6  # MiB -> MB, the target's unit
        print(f"\ningest: {workload.total_spans} spans in {sent.seconds:.1f}s with {args.senders} senders "
              f"({sent.retries} retries after 503, {len(sent.failures)} failures)")  # fmt: skip
        report("ingest, end to end", rate, "spans/s", TARGETS["spans_per_s"], higher_is_better=True)
        report("server peak RSS", rss, "MB", TARGETS["rss_mb"])
        del bodies

        queries(server.port, args.samples, random.Random(args.seed))
        send_all(server.port, list(requests(LONG_SESSIONS, time.time_ns())), 1)
        pages(server.port, args.samples)
        print()
        report("bytes on disk per span (live, WAL)", server.disk_bytes() / workload.total_spans, "B",
               TARGETS["disk_bytes_per_span"])  # fmt: skip
        server.stop()
        print(f"\n  {'bytes on disk per span (after stop)':<34}{server.disk_bytes() / workload.total_spans:>10.0f} B")
    if args.baseline != "none":
        from baseline import DEFAULT_SPANS, compare_ingest

        compare_ingest(args.baseline, args.baseline_spans or DEFAULT_SPANS, args.senders, seed=args.seed)


def report(name: str, value: float, unit: str, target: float, *, higher_is_better: bool = False) -> None:
    ok = value >= target if higher_is_better else value <= target
    ratio = value / target
    print(f"  {name:<34}{value:>10,.1f} {unit:<8} target {'>=' if higher_is_better else '<='} {target:,} "
          f"({ratio:.2f}x of target) {'OK' if ok else 'MISSED'}")  # fmt: skip


def queries(port: int, samples: int, rng: random.Random) -> None:
    print("\nqueries (p50 over HTTP, 50 rows per page):")
    for ordering in ORDERINGS:
        for name in (ordering, "-" + ordering):
            paths = [f"/api/v1/sessions?limit=50&ordering={name}"]
            # Later pages too: a cursor from deep in the list.
            page = get_json(port, paths[0])
            for _ in range(3):
                if page["next_cursor"]:
                    paths.append(f"{paths[0]}&cursor={page['next_cursor']}")
                    page = get_json(port, paths[-1])
            report(f"list ordering={name}", p50_ms(port, paths, rounds=max(samples // len(paths), 1)), "ms",
                   TARGETS["list_p50_ms"])  # fmt: skip
    sessions = get_json(port, "/api/v1/sessions?limit=500&ordering=-total_cost")["sessions"]
    user = sessions[0]["user_id"]
    model = sessions[0]["models"][0]
    filtered = {
        "filter user_id": f"user_id={user}",
        "filter model + has_error": f"model={model}&has_error=true",
        "filter min_turns + since": "min_turns=3&since=2000-01-01T00:00:00Z",
        "filter q (text search)": f"q={urllib.parse.quote('refund')}",
    }
    for name, query in filtered.items():
        report(name, p50_ms(port, [f"/api/v1/sessions?limit=50&{query}"], rounds=samples), "ms", TARGETS["list_p50_ms"])
    chosen = rng.sample(sessions, min(samples, len(sessions)))
    detail_paths = [f"/api/v1/sessions/{s['session_id']}" for s in chosen]
    report("session detail (all turns)", p50_ms(port, detail_paths), "ms", TARGETS["detail_p50_ms"])
    trace_ids = [get_json(port, p)["turns"][0]["trace_ids"][0] for p in detail_paths]
    report(
        "trace (span tree)", p50_ms(port, [f"/api/v1/traces/{t}" for t in trace_ids]), "ms", TARGETS["detail_p50_ms"]
    )


def pages(port: int, samples: int) -> None:
    """The web UI over the same data: the server's answer time for whole pages, and the script it ships."""
    print("\npages (p50 over HTTP, whole HTML pages):")
    report("/ (sessions, 50 rows)", p50_ms(port, ["/"], rounds=samples), "ms", TARGETS["page_p50_ms"])
    for name, query in (("by cost", "ordering=-total_cost"), ("searched", "q=refund"), ("last 24h", "range=24h")):
        report(f"/ {name}", p50_ms(port, [f"/?{query}"], rounds=samples), "ms", TARGETS["page_p50_ms"])
    long = get_json(port, "/api/v1/sessions?ordering=-turn_count&limit=20")["sessions"]
    assert all(s["turn_count"] == 20 for s in long), [s["turn_count"] for s in long]
    paths = [f"/sessions/{s['session_id']}" for s in long]
    report("session page (20 turns)", p50_ms(port, paths, rounds=max(samples // len(paths), 1)), "ms",
           TARGETS["page_p50_ms"])  # fmt: skip
    report("JavaScript shipped, gzip", shipped_script_kb(), "KB", TARGETS["js_kb_compressed"])


def shipped_script_kb() -> float:
    """Every script the pages load, gzip-compressed as a server or proxy would send it, in KB."""
    static = Path(__file__).resolve().parents[1] / "src" / "threadline" / "server" / "web" / "static"
    return sum(len(gzip.compress(path.read_bytes(), 9)) for path in static.rglob("*.js")) / 1000


if __name__ == "__main__":
    main()
