"""Run the server with uvicorn until interrupted; say where it listens once it does."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import socket
import time
from typing import Any

import click
import uvicorn
from starlette.applications import Starlette

from threadline.server.app import create_app
from threadline.server.auth.admin import create_key
from threadline.server.auth.secret import server_secret
from threadline.server.protocol import with_header_timeout
from threadline.server.settings import Settings
from threadline.server.store.base import Store
from threadline.server.store.opening import location, open_store

GRACEFUL_SHUTDOWN_S = 3
"""On shutdown, requests in flight get this long to finish; live streams are then closed."""


class Server(uvicorn.Server):
    """uvicorn's server, ending live streams as soon as shutdown starts (they never end on their own)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        runtime = getattr(getattr(self.config.app, "state", None), "runtime", None)
        if runtime is not None:
            runtime.live.close()
        await super().shutdown(sockets)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (raises ``OSError`` when the address is taken or not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it a small response written in two parts (headers,
    # body) waits for the client's delayed ACK, ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def server_config(app: Starlette, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's settings for Threadline: quiet, headers on a deadline, a bounded graceful shutdown."""
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "http": with_header_timeout(settings.request_timeout_s),
        "loop": "uvloop",
        "lifespan": "on",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        # Forwarded headers are believed from the proxies named, and from no one else.
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        "ssl_certfile": settings.tls_cert or None,
        "ssl_keyfile": settings.tls_key or None,
    }
    return uvicorn.Config(app, **{**options, **overrides})


def demo_key(store: Store, settings: Settings) -> str:
    """A full key for the demo's traffic (it reads /api/v1/stats too), made afresh at each start: the
    previous run's is revoked (a key cannot be shown twice)."""
    now = time.time_ns()
    for key in store.api_keys():
        if key.name == DEMO_KEY_NAME and key.revoked_ns is None:
            store.revoke_key(key.id, now)
    secret = server_secret(settings.secret_key, settings.data_dir)
    return create_key(store, secret, "default", DEMO_KEY_NAME, "full", now).key


DEMO_KEY_NAME = "demo"


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates an arena of its own, and keeps their freed memory: with the
    decoding threads, the writer and the readers, resident memory would creep far above what is in use.
    Must run before those threads start; does nothing where malloc is not glibc's."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena limit."""

GC_THRESHOLDS = (100_000, 50, 1_000)
"""Ingest allocates millions of short-lived objects (attributes, facts) that reference counting frees; the
cyclic collector's default first threshold (700) ran it thousands of times a second for nothing."""


def _admin_source(settings: Settings) -> str:
    """How ``threadline keys create`` reaches this server's store (the end of the command line)."""
    if settings.store == "sqlite":
        return f"--data-dir {settings.data_dir}`"
    if settings.clickhouse_url.startswith("chdb:"):
        return "--clickhouse-url URL` after stopping this server (chdb opens its directory in one process)"
    return "--clickhouse-url URL` with THREADLINE_SECRET_KEY set to this server's --secret-key"


def tune_garbage_collection() -> None:
    """Collect rarely, and leave what start-up made (modules, price tables) out of every later collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_forever(settings: Settings) -> None:
    """``run`` on uvloop (installed with the server) when there is one, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(settings))
        return
    uvloop.run(run(settings))


async def run(settings: Settings) -> None:
    """Serve until interrupted. Raises ``OSError`` when the address cannot be bound and ``StoreUnavailable``
    when the database cannot be opened, before anything is served."""
    sock = bind(settings.host, settings.port)
    try:
        store = open_store(settings)
    except BaseException:
        sock.close()
        raise
    server = Server(server_config(create_app(settings, store=store), settings))
    tune_garbage_collection()
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        scheme = "https" if settings.tls_cert else "http"
        click.echo(
            f"Threadline listening on {scheme}://{settings.host}:{settings.port}  (data in {location(settings)})"
        )
        click.echo(f"Open {scheme}://{settings.host}:{settings.port}/ for the sessions; the API is described at /docs")
        if settings.auth and not store.api_keys():
            click.echo(f"No API key exists yet: create one with `threadline keys create --project default "
                       f"{_admin_source(settings)}", err=True)  # fmt: skip
    demo = None
    if server.started and settings.demo:
        from threadline.server.demo import start_demo

        host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
        demo = start_demo(
            f"{scheme}://{f'[{host}]' if ':' in host else host}:{settings.port}",
            user_id_salt=settings.user_id_salt,
            api_key=demo_key(store, settings) if settings.auth else "",
        )
        click.echo("Demo: a travel assistant built on the Threadline SDK is sending sessions")
    try:
        await task
    finally:
        if demo is not None:
            demo.stop()
        sock.close()
