"""Run the server with uvicorn until interrupted; say where it listens once it does."""

from __future__ import annotations

import asyncio

import click
import uvicorn

from threadline.server.app import create_app
from threadline.server.settings import Settings


async def run(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    config.load()
    task = asyncio.ensure_future(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        click.echo(f"Threadline listening on http://{settings.host}:{settings.port}  (data in {settings.data_dir})")
    await task
    if not server.started:
        raise OSError(98, "address unavailable or startup failed")
