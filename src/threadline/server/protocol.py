"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn times out idle keep-alive connections but not a client that opens a connection and sends its
headers a byte at a time: each such connection is held forever. Here every request must finish its
headers within ``header_timeout_s`` of its first byte (or of the connection, for the first request);
the connection is closed otherwise. Bodies are timed by the ingest edge (``ingest/otlp.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TimedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def with_header_timeout(seconds: float) -> type[TimedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http=`` setting, with this deadline."""
    return type("TimedHttpToolsProtocol", (TimedHttpToolsProtocol,), {"header_timeout_s": seconds})
