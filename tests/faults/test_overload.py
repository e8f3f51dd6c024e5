"""A flood that outruns the writer: ingest sheds load with 503 + Retry-After before reading more, memory
stays bounded, reads stay answered, and every acknowledged span is stored exactly once."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import httpx
import pytest

from faults.server import serve, wait_idle
from faults.traffic import Ledger, assert_stored_exactly_once, build, flood

RSS_LIMIT_MB = 400
WAL_BOUND_BYTES = 64 * 2**20
"""The checkpointer truncates the WAL past 32 MiB; one group commit (8 MiB of requests) may add to it."""
pytestmark = pytest.mark.slow


def test_a_flood_is_shed_with_503_memory_stays_bounded_and_acked_spans_are_kept(tmp_path: Path) -> None:
    bodies = itertools.cycle([None])
    made = (build(f"flood{i}", sessions=600, padding=9000) for i, _ in enumerate(bodies))  # ~6 MB each
    ledger = Ledger()
    read_answers: list[int] = []
    read_seconds: list[float] = []
    wal_sizes: list[int] = []
    wal = tmp_path / "data" / "threadline.db-wal"
    with serve(tmp_path / "data", commit_delay=0.25) as child:
        stop = threading.Event()

        def reader() -> None:  # the API keeps answering while ingest is saturated; the WAL stays small
            with httpx.Client(base_url=child.url, timeout=30) as client:
                while not stop.is_set():
                    started = time.monotonic()
                    read_answers.append(client.get("/api/v1/sessions", params={"limit": 5}).status_code)
                    read_seconds.append(time.monotonic() - started)
                    wal_sizes.append(wal.stat().st_size if wal.exists() else 0)
                    time.sleep(0.05)

        watcher = threading.Thread(target=reader)
        watcher.start()
        flood(child.url, ledger, senders=16, seconds=12, make=made)
        stop.set()
        watcher.join()
        wait_idle(child.url)
        peak = child.peak_rss_mb()
        stats = httpx.get(f"{child.url}/api/v1/stats").json()
        assert_stored_exactly_once(child.url, ledger.acked)
    print(
        f"statuses {ledger.statuses}, transport errors {ledger.transport_errors}, peak RSS {peak:.0f} MiB, "
        f"slowest read {max(read_seconds):.2f}s, largest WAL {max(wal_sizes) / 2**20:.0f} MiB"
    )
    assert ledger.statuses.get(503, 0) > 0, ledger.statuses  # load was shed
    assert set(ledger.statuses) <= {200, 503}, ledger.statuses
    assert ledger.transport_errors == 0
    assert ledger.acked
    assert stats["session_count"] == len(ledger.acked)  # nothing refused was stored
    assert stats["span_count"] == sum(spans for spans, _, _ in ledger.acked.values())
    assert read_answers
    assert set(read_answers) == {200}
    assert max(read_seconds) < 10, "a read waited past an exporter's whole timeout"
    assert max(wal_sizes) <= WAL_BOUND_BYTES
    assert peak <= RSS_LIMIT_MB, f"peak RSS {peak:.0f} MiB"


def test_big_requests_at_once_stay_within_the_ingest_budget(tmp_path: Path) -> None:
    """Three ~30 MB requests together: the budget admits what fits and refuses the rest before reading it."""
    big = [build(f"big{i}", sessions=3000, padding=9000) for i in range(3)]
    assert all(20e6 < len(sent.body) < 32e6 for sent in big), [len(s.body) for s in big]
    statuses: list[int] = []
    with serve(tmp_path / "data", commit_delay=0.5) as child:

        def send(index: int) -> None:
            with httpx.Client(base_url=child.url, timeout=120) as client:
                answer = client.post(
                    "/v1/traces", content=big[index].body, headers={"Content-Type": "application/x-protobuf"}
                )
                statuses.append(answer.status_code)
                if answer.status_code == 503:
                    assert answer.headers["retry-after"] == "1"

        threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = child.peak_rss_mb()
    print(f"statuses {statuses}, peak RSS {peak:.0f} MiB")
    assert sorted(statuses)[0] == 200
    assert 503 in statuses
    assert peak <= RSS_LIMIT_MB, f"peak RSS {peak:.0f} MiB"
