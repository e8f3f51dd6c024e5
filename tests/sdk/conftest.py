from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import threadline
from support.server import RunningServer, run_server
from threadline._sdk import runtime


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Every SDK test leaves no thread running, no SDK configured and the global provider as it was."""
    before = set(threading.enumerate())
    provider = trace.get_tracer_provider()
    yield
    runtime.STATE.runtime = None
    leaked = [t for t in threading.enumerate() if t not in before]
    for thread in leaked:
        thread.join(5)
    assert [t.name for t in leaked if t.is_alive()] == []
    assert trace.get_tracer_provider() is provider


@pytest.fixture
def app_provider() -> Iterator[TracerProvider]:
    """The application's TracerProvider. Not the global one: the server under test runs in this process
    and FastAPI traces its own requests with the global provider, which would loop them back."""
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-e2e"}), shutdown_on_exit=False)
    yield provider
    provider.shutdown()


@pytest.fixture
def live(tmp_path: Path, app_provider: TracerProvider) -> Iterator[RunningServer]:
    """A real server, and the SDK configured as an application does: real OTLP/HTTP exporter and
    batching, joined to the application's TracerProvider."""
    with run_server(tmp_path / "data") as server:
        threadline.configure(endpoint=server.url, user_id_salt="e2e-salt", tracer_provider=app_provider)
        try:
            yield server
        finally:
            threadline.shutdown()
