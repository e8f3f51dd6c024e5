"""``create_app(settings)``: the ASGI application with ingest, API, and the writer's lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

from anyio import CapacityLimiter
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles

from threadline.server.api import admin, analytics, errors, ingest, sessions, stream, system, traces, users
from threadline.server.api.deps import DEFAULT_PROJECT, Clock, Runtime
from threadline.server.auth.access import Access, Principal, requires
from threadline.server.auth.authenticate import Authenticator
from threadline.server.auth.guard import LOOPBACK_NAMES, Guard, is_loopback
from threadline.server.auth.secret import server_secret
from threadline.server.ingest.budget import IngestBudget
from threadline.server.ingest.decoding import DecodePool
from threadline.server.ingest.port import WriterOptions
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.rollup import FoldOptions
from threadline.server.live import LiveUpdates, watch_idle_sessions
from threadline.server.retention import enforce_retention
from threadline.server.settings import Settings
from threadline.server.store.base import Store
from threadline.server.store.opening import open_store
from threadline.server.web import live as web_live
from threadline.server.web import pages, reference, signin

DECODING_THREADS = 2
"""Requests decoded at once (each on a worker thread): one per core of the reference machine."""


def create_app(
    settings: Settings, *, clock: Clock | None = None, store: Store | None = None, read_only: bool = False
) -> FastAPI:
    """The server application. ``clock`` (ns since epoch) is injectable for tests; ``read_only`` opens an
    existing database without writing to it (for the CLI, while a server runs)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backend = store or open_store(settings, read_only=read_only)
        preparer = Preparer()
        live = LiveUpdates()
        live.attach(asyncio.get_running_loop())
        writer = backend.writer(
            preparer.prepare,
            WriterOptions(
                FoldOptions(settings.idle_timeout_ns, preparer.prices.context_window, settings.session_intelligence),
                max_pending_spans=settings.max_pending_spans,
                max_batch_spans=settings.max_batch_spans,
            ),
            on_commit=lambda changes: live.changed({(c.project_id, s) for c in changes for s in c.sessions}),
        )
        idle_timeout_ns = settings.idle_timeout_ns
        if read_only:  # agree with the server that writes the database
            stored = backend.idle_timeout_ms(DEFAULT_PROJECT)
            idle_timeout_ns = stored * 1_000_000 if stored is not None else idle_timeout_ns
        else:
            backend.set_idle_timeout_ms(DEFAULT_PROJECT, idle_timeout_ns // 1_000_000)
        runtime = Runtime(
            settings,
            backend,
            writer,
            preparer,
            live,
            IngestBudget(settings.max_ingest_bytes),
            CapacityLimiter(DECODING_THREADS),
            idle_timeout_ns=idle_timeout_ns,
        )
        if clock is not None:
            runtime.clock = clock
        if not read_only and settings.ingest_worker_count > 0:
            runtime.decoders = DecodePool(settings.ingest_worker_count)
        if settings.auth:
            runtime.authenticator = Authenticator(backend, server_secret(settings.secret_key, settings.data_dir))
        app.state.runtime = runtime
        writer.start()
        watcher = asyncio.create_task(
            watch_idle_sessions(
                live,
                lambda low, high: [
                    (p.id, session_id)
                    for p in backend.projects()
                    for session_id in backend.sessions_going_idle(p.id, low, high)
                ],
                runtime.clock,
                idle_timeout_ns,
                interval_s=min(max(idle_timeout_ns / 1e9 / 10, 0.2), 5.0),
            )
        )
        retention = None if read_only else asyncio.create_task(enforce_retention(backend, writer, live, runtime.clock))
        try:
            yield
        finally:
            watcher.cancel()
            if retention is not None:
                retention.cancel()
            writer.stop()
            if runtime.decoders is not None:
                runtime.decoders.close()
            backend.close()

    app = FastAPI(
        title="Threadline",
        version=version("threadline"),
        description="Session observability for multi-turn LLM agents: OTLP in, sessions out.",
        lifespan=lifespan,
        docs_url=None,  # /docs is our own reference page: Swagger UI would load its assets from a CDN
        redoc_url=None,
        openapi_url=None,  # served by reference.py, behind the same access checks as the API
        # A tracing backend must not trace its own requests through the global provider: an application
        # that embeds the server and exports to it would feed every export back in. /metrics covers it.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.add_middleware(
        Guard, auth=settings.auth, allowed_hosts=allowed_hosts(settings), default=Principal(1, "default", "full")
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origin_list),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
        )
    errors.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # Every route's access level (auth/access.py): routers here, exceptions (health, erasure) in their modules.
    for router, access in (
        (ingest.router, Access.INGEST),
        (sessions.router, Access.READ),
        (traces.router, Access.READ),
        (users.router, Access.READ),
        (analytics.router, Access.READ),
        (stream.router, Access.READ),
        (web_live.router, Access.READ),
    ):
        app.include_router(router, dependencies=[Depends(requires(access))])
    for router in (pages.router, reference.router):
        app.include_router(router, dependencies=[Depends(requires(Access.READ, page=True))])
    app.include_router(system.router)
    app.include_router(admin.router)
    app.include_router(signin.router)
    app.mount("/static", StaticFiles(packages=[("threadline.server.web", "static")]), name="static")
    return app


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The Host names requests may use: as configured; else loopback names on a loopback address without
    --auth (against DNS rebinding); else any."""
    if settings.allowed_host_names:
        return settings.allowed_host_names
    if not settings.auth and is_loopback(settings.host):
        return LOOPBACK_NAMES
    return ()


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, minus its default 422: invalid requests get a 400 in the error shape."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for methods in spec.get("paths", {}).values():
            for operation in methods.values():
                operation.get("responses", {}).pop("422", None)
        schemas = spec.get("components", {}).get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = spec
    return app.openapi_schema
