"""A real Threadline server on a loopback port, run in a thread of the test process."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from threadline.server.api.deps import Clock, Runtime
from threadline.server.app import create_app
from threadline.server.serve import Server, bind, server_config
from threadline.server.settings import Settings
from threadline.server.store.base import Store

ENGINES = ("sqlite", "clickhouse")
engine = "sqlite"
"""The storage engine ``run_server`` opens unless told otherwise (set per test module by ``tests/conftest.py``
for modules marked ``both_engines``)."""


CHDB_PATH = Path(tempfile.gettempdir()) / f"threadline-tests-chdb-{os.getpid()}"
"""chdb runs one engine per process, on one path: every ClickHouse store of the test process lives there,
each in a database of its own."""


def clickhouse_url(data_dir: Path) -> str:
    """A chdb URL whose database belongs to ``data_dir`` alone."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]
    return f"chdb://{CHDB_PATH}?database=t_{digest}"


def engine_settings(kind: str, data_dir: Path) -> dict[str, object]:
    """The settings that make a server store on ``kind``, with data of its own for ``data_dir``."""
    if kind == "clickhouse":
        return {"store": "clickhouse", "clickhouse_url": clickhouse_url(data_dir)}
    return {}


class ManualClock:
    """A clock the test moves by hand (nanoseconds since the epoch)."""

    def __init__(self, start_ns: int = 1_800_000_000 * 10**9) -> None:
        self.now_ns = start_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1e9)


@dataclass
class RunningServer:
    url: str
    settings: Settings
    server: uvicorn.Server

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.server.config.app.state.runtime  # type: ignore[attr-defined]
        return runtime

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)


@contextmanager
def run_server(
    data_dir: Path,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    shared_with: Path | None = None,
    **overrides: object,
) -> Iterator[RunningServer]:
    """A server on a loopback port storing in ``data_dir`` (on ``engine``), or in ``store``; with
    ``shared_with``, in the same ClickHouse database as the server of that data directory."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    chosen = {**engine_settings(engine, shared_with or data_dir), **overrides} if store is None else overrides
    settings = Settings(data_dir=data_dir, port=port, **chosen)  # type: ignore[arg-type]
    app = create_app(settings, clock=clock, store=store)
    config = server_config(app, settings, loop="asyncio", timeout_graceful_shutdown=1)
    server = Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", settings, server)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
