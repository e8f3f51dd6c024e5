"""The two storage engines side by side: the same workload, the same senders, the same queries, in one run.

    python benchmarks/engines.py                    # 50,000 sessions / 1,000,000 spans on each engine
    python benchmarks/engines.py --sessions 5000    # a quicker look

Starts ``threadline serve`` on SQLite, sends the seeded workload of ``workload.py``, measures, stops it;
then the same with ``--store clickhouse`` (ClickHouse's engine in the server's process, through chdb).
Prints, for each engine: end-to-end ingest (until ``/api/v1/stats`` counts every span), peak RSS, bytes
on disk per span, and the p50 of the session list (every ordering: the slowest and the fastest), a session
detail, a trace, the users list and session analytics; then ClickHouse's figure as a ratio of SQLite's.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field

from harness import cpu_count, get_json, p50_ms, send_all, threadline_server
from workload import Workload, requests

ENGINES = ("sqlite", "clickhouse")
ORDERINGS = ("last_activity", "first_activity", "total_cost", "total_tokens", "duration", "turn_count", "error_count")


@dataclass
class Figures:
    values: dict[str, float] = field(default_factory=dict)


def measure(store: str, bodies: list[bytes], workload: Workload, senders: int, samples: int, seed: int) -> Figures:
    figures = Figures()
    with threadline_server(store=store) as server:

        def all_counted() -> bool:
            return bool(get_json(server.port, "/api/v1/stats")["span_count"] >= workload.total_spans)

        sent = send_all(server.port, bodies, senders, done=all_counted)
        stats = get_json(server.port, "/api/v1/stats")
        assert stats["span_count"] == workload.total_spans, stats
        assert stats["session_count"] == workload.sessions, stats
        assert not sent.failures, sent.failures[:5]
        figures.values["ingest, end to end (spans/s)"] = workload.total_spans / sent.seconds
        lists = [
            p50_ms(server.port, [f"/api/v1/sessions?limit=50&ordering={sign}{o}"], rounds=samples)
            for o in ORDERINGS
            for sign in ("", "-")
        ]
        figures.values["session list p50, slowest ordering (ms)"] = max(lists)
        figures.values["session list p50, fastest ordering (ms)"] = min(lists)
        sessions = get_json(server.port, "/api/v1/sessions?limit=500&ordering=-total_cost")["sessions"]
        chosen = random.Random(seed).sample(sessions, min(samples, len(sessions)))
        details = [f"/api/v1/sessions/{s['session_id']}" for s in chosen]
        figures.values["session detail p50 (ms)"] = p50_ms(server.port, details)
        traces = [f"/api/v1/traces/{get_json(server.port, d)['turns'][0]['trace_ids'][0]}" for d in details]
        figures.values["trace p50 (ms)"] = p50_ms(server.port, traces)
        figures.values["users list p50 (ms)"] = p50_ms(server.port, ["/api/v1/users?limit=50"], rounds=samples)
        figures.values["session analytics p50 (ms)"] = p50_ms(
            server.port, ["/api/v1/analytics/sessions"], rounds=max(samples // 3, 3)
        )
        figures.values["server peak RSS (MiB)"] = server.peak_rss_mb()
        server.stop()
        figures.values["on disk per span (B)"] = server.disk_bytes() / workload.total_spans
        print(f"  {store}: ingest {sent.seconds:.1f}s ({sent.retries} retries after 503)", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--samples", type=int, default=15, help="requests per query kind for the p50")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    workload = Workload(sessions=args.sessions, seed=args.seed)
    print(f"machine: {cpu_count()} cores; workload: {workload.sessions} sessions, {workload.total_spans} spans")
    bodies = list(requests(workload, time.time_ns()))
    results = {
        store: measure(store, bodies, workload, args.senders, args.samples, args.seed).values for store in ENGINES
    }
    print(f"\n{'':<42}{'SQLite':>12}{'ClickHouse':>12}{'CH / SQLite':>13}")
    for name, sqlite in results["sqlite"].items():
        clickhouse = results["clickhouse"][name]
        print(f"  {name:<40}{sqlite:>12,.1f}{clickhouse:>12,.1f}{clickhouse / sqlite:>12.2f}x")


if __name__ == "__main__":
    main()
