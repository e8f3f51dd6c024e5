"""Session analytics speed at scale, and what session intelligence costs at ingest (the README's Performance targets).

    python benchmarks/analytics.py                   # 50,000 sessions / 1,000,000 spans
    python benchmarks/analytics.py --sessions 5000   # a quicker look

Sends the seeded workload of ``workload.py`` to two ``threadline serve`` processes side by side in one
run: one computing session intelligence at ingest (lifecycle, last action, journeys, context pressure;
the default) and one with ``--no-session-intelligence`` (the spine's rollups only), and prints both
end-to-end ingest rates and their ratio. Then, over the first server's full data set, the p50 of
``GET /api/v1/analytics/sessions`` (whole range, a one-day window, one user) and of
``GET /api/v1/analytics/journeys``, against the 250 ms target.
"""

from __future__ import annotations

import argparse
import time
import urllib.parse

from harness import cpu_count, get_json, p50_ms, send_all, threadline_server
from ingest import report
from workload import Workload, requests

TARGET_MS = 250.0


def ingest_rate(bodies: list[bytes], total: int, senders: int, extra: list[str]) -> tuple[float, dict[str, float]]:
    with threadline_server(extra) as server:

        def all_counted() -> bool:
            return bool(get_json(server.port, "/api/v1/stats")["span_count"] >= total)

        sent = send_all(server.port, bodies, senders, done=all_counted)
        return total / sent.seconds, {"rss_mb": server.peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    workload = Workload(sessions=args.sessions, seed=args.seed)
    print(f"machine: {cpu_count()} cores; workload: {workload.sessions} sessions, {workload.total_spans} spans")
    bodies = list(requests(workload, time.time_ns()))

    off_rate, _ = ingest_rate(bodies, workload.total_spans, args.senders, ["--no-session-intelligence"])
    with threadline_server() as server:

        def all_counted() -> bool:
            return bool(get_json(server.port, "/api/v1/stats")["span_count"] >= workload.total_spans)

        sent = send_all(server.port, bodies, args.senders, done=all_counted)
        on_rate = workload.total_spans / sent.seconds
        del bodies
        print("\ningest, end to end:")
        print(f"  rollups only (--no-session-intelligence)   {off_rate:>10,.0f} spans/s")
        print(f"  with session intelligence (default)        {on_rate:>10,.0f} spans/s")
        print(f"  ratio (intelligence on / off)              {on_rate / off_rate:>10.2f}x")

        summary = get_json(server.port, "/api/v1/analytics/sessions")
        sessions = get_json(server.port, "/api/v1/sessions?limit=1")["sessions"]
        day = summary["sessions_over_time"][len(summary["sessions_over_time"]) // 2]["start"]
        until = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.mktime(time.strptime(day, "%Y-%m-%dT%H:%M:%S.%fZ")) + 86_400)
        )
        print(f"\nanalytics over {summary['session_count']} sessions (p50 over HTTP, {args.samples} requests):")
        cases = {
            "analytics/sessions, everything": "/api/v1/analytics/sessions",
            "analytics/sessions, one-day window": "/api/v1/analytics/sessions?since="
            + urllib.parse.quote(day)
            + "&until="
            + urllib.parse.quote(until),
            "analytics/sessions, one user": f"/api/v1/analytics/sessions?user_id={sessions[0]['user_id']}",
            "analytics/journeys, everything": "/api/v1/analytics/journeys",
        }
        for name, path in cases.items():
            report(name, p50_ms(server.port, [path], rounds=args.samples), "ms", TARGET_MS)
        print(
            f"\n  (dropoff_rate {summary['dropoff_rate']:.3f}, abandonment_rate {summary['abandonment_rate']}, "
            f"turn_latency_p50_ms {summary['turn_latency_p50_ms']:.0f})"
        )


if __name__ == "__main__":
    main()
