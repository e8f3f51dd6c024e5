"""What request handlers need from the running server, held on ``app.state``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.writer import Writer
from threadline.server.live import LiveUpdates
from threadline.server.settings import Settings
from threadline.server.store.base import Store

DEFAULT_PROJECT = 1
Clock = Callable[[], int]
"""Returns the current time in nanoseconds since the epoch."""


@dataclass
class Runtime:
    settings: Settings
    store: Store
    writer: Writer
    preparer: Preparer
    live: LiveUpdates
    clock: Clock = time.time_ns

    idle_timeout_ns: int = 30 * 60 * 10**9


def runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value
