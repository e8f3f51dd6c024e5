"""Storage against session length: what the embedded store keeps per turn as sessions grow.

    .venv/bin/python benchmarks/storage.py                  # 200 sessions each of 5, 10, 20 and 40 turns
    .venv/bin/python benchmarks/storage.py --sessions 500 --turns 5 20

LLM calls carry the conversation so far (here all of it, unless ``--window`` keeps the last messages only),
so what clients send for a session grows with the square of its turns: the wire bytes are the baseline,
what a store that keeps each span as it came keeps. Threadline
stores each message once per session, so its bytes per turn should stay flat as sessions grow. For each
length the same seeded workload as ``ingest.py`` (``workload.py``: 4 spans a turn) is written through the
SQLite engine's writer path in this process (``writer_profile.run_stages``: decode, prepare, stitch, fold,
texts, compression, SQL) into a fresh database, and the file is measured once the store is closed (its
WAL checkpointed into it).

Printed per length: bytes per turn on the wire and on disk, and each one's growth against the shortest
sessions (1.00 = linear in turns; the wire's grows with the turns).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from threadline.server.ingest.prepare import Preparer
from workload import Workload, requests
from writer_profile import run_stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, nargs="+", default=[5, 10, 20, 40])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--window", type=int, default=0, help="messages each LLM call resends (default 0: the whole conversation)"
    )
    args = parser.parse_args()

    preparer = Preparer()
    rows = []
    for turns in sorted(args.turns):
        workload = Workload(
            sessions=args.sessions, turns_per_session=turns, seed=args.seed, history_messages=args.window
        )
        bodies = list(requests(workload, time.time_ns()))
        with tempfile.TemporaryDirectory(prefix="threadline-storage-") as tmp:
            _, disk = run_stages(Path(tmp) / "data", bodies, 1, preparer)
        all_turns = args.sessions * turns
        rows.append((turns, sum(map(len, bodies)) / all_turns, disk / all_turns, disk / workload.total_spans))

    _, wire_first, disk_first, _ = rows[0]
    print(f"{args.sessions} sessions per length, 4 spans a turn\n")
    header = ("turns", "wire B/turn", "growth", "disk B/turn", "growth", "disk B/span")
    print("  " + "  ".join(f"{h:>{w}}" for h, w in zip(header, (5, 11, 6, 11, 6, 11), strict=True)))
    for turns, wire, disk, per_span in rows:
        print(
            f"  {turns:>5}  {wire:>11,.0f}  {wire / wire_first:>5.2f}x  {disk:>11,.0f}  {disk / disk_first:>5.2f}x"
            f"  {per_span:>11,.0f}"
        )
    turns, wire, disk, _ = rows[-1]
    print(
        f"\n  {turns}-turn sessions against {rows[0][0]}-turn ones: the wire {wire / wire_first:.2f}x per turn, "
        f"the store {disk / disk_first:.2f}x per turn"
    )


if __name__ == "__main__":
    main()
