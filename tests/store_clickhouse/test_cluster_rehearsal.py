"""Cluster mode, rehearsed: ``cluster_rehearsal.py`` run in a process of its own (see its docstring)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REHEARSAL = TESTS / "store_clickhouse" / "cluster_rehearsal.py"


def test_cluster_mode_on_a_one_shard_cluster_answers_as_one_server(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "run")]
    result = subprocess.run(
        [*command, str(REHEARSAL)],
        cwd=TESTS.parent,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
