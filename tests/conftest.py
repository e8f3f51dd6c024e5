from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import ManualClock, RunningServer, run_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A real server on a loopback port with a fresh SQLite file."""
    with run_server(tmp_path / "data") as running:
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
