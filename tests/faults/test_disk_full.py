"""A full disk: ingest answers 503 with Retry-After (exporters retry), reads keep working, and ingest
recovers by itself when space returns; nothing acknowledged is lost, shutdown stays clean."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from faults.server import serve
from faults.traffic import Ledger, Sent, assert_stored_exactly_once, build, post

VOLUME_MB = 24
BALLAST_MB = 8


@contextmanager
def small_volume(path: Path) -> Iterator[Path]:
    """A filesystem of ``VOLUME_MB`` MiB: a tmpfs mounted at ``path`` (so the test needs root, as in CI)."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a small tmpfs, which needs root")
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={VOLUME_MB}m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill_until_refused(client: httpx.Client, made: Iterator[Sent], ledger: Ledger) -> Sent:
    for sent in itertools.islice(made, 1000):
        status = post(client, sent)
        ledger.record(sent, status)
        if status == 503:
            return sent
    raise AssertionError(f"the disk never filled: {ledger.statuses}")


def test_a_full_disk_answers_503_keeps_reads_and_recovers(tmp_path: Path) -> None:
    made = (build(f"disk{i}", sessions=60, padding=3000) for i in itertools.count())  # ~0.25 MB each
    ledger = Ledger()
    with small_volume(tmp_path / "volume") as volume:
        ballast = volume / "ballast"
        ballast.write_bytes(b"\0" * (BALLAST_MB * 1024 * 1024))
        with serve(volume / "data") as child, httpx.Client(base_url=child.url, timeout=60) as client:
            refused = fill_until_refused(client, made, ledger)
            assert set(ledger.statuses) == {200, 503}, ledger.statuses  # never a 500

            answer = client.post("/v1/traces", content=refused.body, headers={"Content-Type": "application/x-protobuf"})
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "5"  # OTLP exporters retry 503 after Retry-After
            assert client.get("/api/v1/stats").status_code == 200  # reads keep working
            assert client.get("/api/v1/sessions").status_code == 200
            assert client.get("/").status_code == 200
            assert client.get("/healthz").json()["status"] == "ok"

            ballast.unlink()  # the operator frees some space
            deadline = time.monotonic() + 30
            while (status := post(client, refused)) != 200 and time.monotonic() < deadline:
                time.sleep(0.5)  # what an exporter does after Retry-After
            ledger.record(refused, status)
            assert status == 200, "ingest did not recover once space returned"
            later = next(made)
            ledger.record(later, post(client, later))
            assert ledger.statuses[200] >= 2

            assert_stored_exactly_once(child.url, ledger.acked)
            stats = client.get("/api/v1/stats").json()
            assert stats["session_count"] == len(ledger.acked)
            assert stats["span_count"] == sum(spans for spans, _, _ in ledger.acked.values())
            code, errors = child.stop()
        assert code == 0
        assert "Traceback" not in errors
        assert "shutdown failed" not in errors


def test_shutdown_on_a_full_disk_is_clean(tmp_path: Path) -> None:
    made = (build(f"full{i}", sessions=60, padding=3000) for i in itertools.count())
    with small_volume(tmp_path / "volume") as volume, serve(volume / "data") as child:
        with httpx.Client(base_url=child.url, timeout=60) as client:
            fill_until_refused(client, made, Ledger())
        code, errors = child.stop()
    assert code == 0
    assert "Traceback" not in errors
    assert "shutdown failed" not in errors
