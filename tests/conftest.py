from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import server as servers
from support.server import ManualClock, RunningServer, run_server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules marked ``both_engines`` run once per storage engine (module by module)."""
    if metafunc.definition.get_closest_marker("both_engines") is not None:
        metafunc.parametrize("engine_kind", servers.ENGINES, indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def engine_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The engine this module's servers store on: both in turn when the module is marked ``both_engines``,
    else SQLite."""
    kind: str = getattr(request, "param", "sqlite")
    servers.engine = kind
    try:
        yield kind
    finally:
        servers.engine = "sqlite"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A real server on a loopback port with a fresh store (SQLite, or the module's engine)."""
    with run_server(tmp_path / "data") as running:
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
