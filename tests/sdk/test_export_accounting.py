"""``threadline.stats()`` counts every ended span as it happens, and ``shutdown()`` keeps its deadline.

A span is queued (in the queue, or in an export request still retrying) until it is exported, failed
for good, dropped or, at the shutdown deadline, abandoned.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import threadline
from support.server import run_server

SHUTDOWN_TIMEOUT = 2.0
SLACK = 1.5
"""A behavioural bound for a busy machine, not a benchmark."""


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _Slow503(BaseHTTPRequestHandler):
    """Answers every request with 503, after a delay longer than the shutdown deadline."""

    delay = SHUTDOWN_TIMEOUT + 1.0
    release = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.release.wait(self.delay)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_503() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow503)
    server.daemon_threads = True
    _Slow503.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Slow503.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["closed-port", "slow-503"])
def dead_endpoint(request: pytest.FixtureRequest) -> str:
    if request.param == "closed-port":
        return _closed_port()
    endpoint: str = request.getfixturevalue("slow_503")
    return endpoint


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    provider = TracerProvider(resource=Resource.create({}), shutdown_on_exit=False)
    yield provider
    provider.shutdown()


@pytest.fixture(autouse=True)
def quiet_exporter(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The exporter logs each retry and failure; they are expected here."""
    with caplog.at_level(logging.CRITICAL):
        yield


def _turn(text: str) -> None:
    """One turn with one LLM call: two spans."""
    with threadline.session("sess_acct", user_id="u"), threadline.turn(text) as turn:
        with threadline.llm_call(model="gpt-4o-mini", provider="openai") as call:
            call.record(input_tokens=10, output_tokens=2)
        turn.output("answer")


def _configure(
    endpoint: str, provider: TracerProvider, *, export_timeout: float = 30, schedule_delay: float = 0.01
) -> None:
    threadline.configure(
        endpoint=endpoint,
        tracer_provider=provider,
        export_timeout=export_timeout,
        schedule_delay=schedule_delay,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )


def test_a_dead_endpoint_keeps_spans_queued_until_shutdown_abandons_them(
    dead_endpoint: str, provider: TracerProvider
) -> None:
    _configure(dead_endpoint, provider)
    _turn("first")
    assert threadline.stats().spans_queued == 2  # counted as soon as the spans end

    started = time.monotonic()
    assert threadline.flush(timeout=0.3) is False
    assert time.monotonic() - started < 0.3 + SLACK
    stats = threadline.stats()  # the request is still retrying (export_timeout 30 s): still queued
    assert (stats.spans_queued, stats.spans_failed, stats.spans_exported, stats.spans_abandoned) == (2, 0, 0, 0)

    _turn("second")
    with threadline.session("sess_acct"):
        threadline.turn("open at shutdown")
    assert threadline.stats().spans_queued == 4

    started = time.monotonic()
    assert threadline.shutdown() is False  # the documented deadline: shutdown_timeout
    assert time.monotonic() - started < SHUTDOWN_TIMEOUT + SLACK

    stats = threadline.stats()  # every span is accounted for, none exported: all abandoned
    assert (stats.spans_abandoned, stats.spans_queued, stats.spans_failed, stats.spans_exported) == (5, 0, 0, 0)
    assert (stats.spans_dropped, stats.open_turns, stats.internal_errors) == (0, 0, 0)


def test_spans_count_as_failed_once_their_retries_give_up(provider: TracerProvider) -> None:
    _configure(_closed_port(), provider, export_timeout=0.2)
    _turn("first")
    assert threadline.flush(timeout=10) is False  # the request failed for good: not delivered
    stats = threadline.stats()
    assert (stats.spans_failed, stats.spans_queued, stats.spans_abandoned) == (2, 0, 0)
    assert stats.export_failures == stats.export_requests >= 1

    started = time.monotonic()
    assert threadline.shutdown() is True  # nothing left to export
    assert time.monotonic() - started < SLACK
    assert threadline.stats().spans_abandoned == 0


def test_shutdown_with_a_zero_deadline_abandons_at_once(dead_endpoint: str, provider: TracerProvider) -> None:
    _configure(dead_endpoint, provider, schedule_delay=60)  # nothing leaves the queue before shutdown
    for index in range(3):
        _turn(f"turn {index}")
    assert threadline.stats().spans_queued == 6

    started = time.monotonic()
    assert threadline.shutdown(timeout=0) is False
    assert time.monotonic() - started < SLACK
    stats = threadline.stats()
    assert (stats.spans_abandoned, stats.spans_queued, stats.spans_failed) == (6, 0, 0)


def test_a_healthy_shutdown_exports_everything_and_abandons_nothing(tmp_path: Path, provider: TracerProvider) -> None:
    with run_server(tmp_path / "data") as server:
        _configure(server.url, provider, schedule_delay=60)
        _turn("first")
        assert threadline.stats().spans_queued == 2
        assert threadline.shutdown() is True
    stats = threadline.stats()
    assert (stats.spans_exported, stats.spans_queued, stats.spans_abandoned, stats.spans_failed) == (2, 0, 0, 0)
