from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def ch_path(tmp_path: Path) -> Path:
    """A chdb directory (chdb runs one engine per process: each test's stores are closed when it ends)."""
    return tmp_path / "clickhouse"
