"""Run the server with uvicorn until interrupted; say where it listens once it does."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import socket
from typing import Any

import click
import uvicorn
from starlette.applications import Starlette

from threadline.server.app import create_app
from threadline.server.protocol import with_header_timeout
from threadline.server.settings import Settings
from threadline.server.store.sqlite.store import SqliteStore

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
    }
    return uvicorn.Config(app, **{**options, **overrides})


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates an arena of its own, and keeps their freed memory: with the
    decoding threads, the writer and the readers, resident memory would creep far above what is in use.
    Must run before those threads start; does nothing where malloc is not glibc's."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena limit."""


async def run(settings: Settings) -> None:
    """Serve until interrupted. Raises ``OSError`` when the address cannot be bound and ``StoreUnavailable``
    when the database cannot be opened, before anything is served."""
    sock = bind(settings.host, settings.port)
    try:
        store = SqliteStore(settings.data_dir)
    except BaseException:
        sock.close()
        raise
    server = Server(server_config(create_app(settings, store=store), settings))
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        click.echo(f"Threadline listening on http://{settings.host}:{settings.port}  (data in {store.path.parent})")
        click.echo(f"Open http://{settings.host}:{settings.port}/ for the sessions; the API is described at /docs")
    demo = None
    if server.started and settings.demo:
        from threadline.server.demo import start_demo

        host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
        demo = start_demo(
            f"http://{f'[{host}]' if ':' in host else host}:{settings.port}", user_id_salt=settings.user_id_salt
        )
        click.echo("Demo: a travel assistant built on the Threadline SDK is sending sessions")
    try:
        await task
    finally:
        if demo is not None:
            demo.stop()
        sock.close()
