from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.fake_openai import FakeOpenAI, run_fake_openai
from support.server import RunningServer, run_server


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with run_fake_openai() as fake:
        yield fake


@pytest.fixture
def threadline(tmp_path: Path) -> Iterator[RunningServer]:
    with run_server(tmp_path / "data") as running:
        yield running
