"""``create_app(settings)``: the ASGI application with ingest, API, and the writer's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from threadline.server.api import errors, ingest, sessions, system, traces
from threadline.server.api.deps import Clock, Runtime
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.rollup import FoldOptions
from threadline.server.ingest.writer import Writer
from threadline.server.settings import Settings
from threadline.server.store.base import Store
from threadline.server.store.sqlite.store import SqliteStore


def create_app(settings: Settings, *, clock: Clock | None = None, store: Store | None = None) -> FastAPI:
    """The server application. ``clock`` (ns since epoch) is injectable for tests."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = store or SqliteStore(settings.data_dir)
        preparer = Preparer()
        writer = Writer(
            backend,
            preparer.prepare,
            options=FoldOptions(settings.idle_timeout_ns, preparer.prices.context_window),
            max_pending_spans=settings.max_pending_spans,
            max_batch_spans=settings.max_batch_spans,
        )
        runtime = Runtime(settings, backend, writer, preparer)
        if clock is not None:
            runtime.clock = clock
        app.state.runtime = runtime
        writer.start()
        try:
            yield
        finally:
            writer.stop()
            backend.close()

    app = FastAPI(
        title="Threadline",
        version=version("threadline"),
        description="Session observability for multi-turn LLM agents: OTLP in, sessions out.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.include_router(ingest.router)
    app.include_router(sessions.router)
    app.include_router(traces.router)
    app.include_router(system.router)
    return app
