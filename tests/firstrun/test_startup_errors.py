"""A bad data folder stops ``threadline serve`` with one line (the path and the cause), never a traceback."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.process import free_port


def serve(data_dir: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``threadline serve`` with this data folder; it must refuse at once, so a timeout is a failure."""
    port = str(free_port())
    command = [sys.executable, "-m", "threadline.server.cli", "serve", "--port", port, "--data-dir", data_dir]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=30, check=False)


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder nothing may be written to: a read-only tmpfs for root (who ignores permissions), else 0555."""
    path.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=False)
        if mounted.returncode != 0:
            pytest.fail("running as root but cannot mount a read-only tmpfs to test an unwritable folder")
        try:
            yield path
        finally:
            subprocess.run(["umount", str(path)], check=True)
        return
    path.chmod(0o555)
    try:
        yield path
    finally:
        path.chmod(0o755)


def test_an_unwritable_data_folder(tmp_path: Path) -> None:
    with read_only_folder(tmp_path / "locked") as locked:
        result = serve(str(locked), tmp_path)
    assert_one_line_refusal(result, str(locked), "not writable")


def test_a_data_folder_that_cannot_be_created(tmp_path: Path) -> None:
    with read_only_folder(tmp_path / "locked") as locked:
        result = serve(str(locked / "inside"), tmp_path)
    assert_one_line_refusal(result, str(locked / "inside"))


def test_a_path_under_proc(tmp_path: Path) -> None:
    assert_one_line_refusal(serve("/proc/threadline-data", tmp_path), "/proc/threadline-data", "/proc")


def test_a_database_from_a_newer_threadline(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    conn = sqlite3.connect(tmp_path / "data" / "threadline.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    result = serve("data", tmp_path)
    assert_one_line_refusal(result, str(tmp_path / "data" / "threadline.db"), "newer than this Threadline")


def test_a_corrupt_database_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "threadline.db").write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    result = serve("data", tmp_path)
    assert_one_line_refusal(result, str(tmp_path / "data" / "threadline.db"), "not a readable Threadline database")


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    """A usage error, answered by the option itself before anything starts."""
    (tmp_path / "data").write_text("not a folder")
    result = serve("data", tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith("Directory 'data' is a file.")
