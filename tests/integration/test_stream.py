"""GET /api/v1/stream: a session event on every change, when a session goes idle, and on erasure."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.scenario import Session, at
from support.server import ManualClock, RunningServer, run_server

pytestmark = pytest.mark.both_engines


@contextmanager
def listen(server: RunningServer, **params: str) -> Iterator[queue.Queue[tuple[str, dict[str, Any]]]]:
    """Subscribe; yields a queue of (event, data) as they arrive."""
    events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    connected = threading.Event()
    stop = threading.Event()

    def read() -> None:
        with (
            httpx.Client(base_url=server.url, timeout=30) as client,
            client.stream("GET", "/api/v1/stream", params=params) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in response.iter_lines():
                if line == ": connected":
                    connected.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    events.put((event, json.loads(line[6:])))
                if stop.is_set():
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert connected.wait(10)
    try:
        yield events
    finally:
        stop.set()


def next_event(events: queue.Queue[tuple[str, dict[str, Any]]], session_id: str) -> tuple[str, dict[str, Any]]:
    while True:
        event, data = events.get(timeout=10)
        if data["session_id"] == session_id:
            return event, data


def test_changes_idle_endings_and_erasure_are_streamed(tmp_path: Path, clock: ManualClock) -> None:
    with (
        run_server(tmp_path / "data", clock=clock, idle_timeout="60s") as server,
        server.client() as client,
        listen(server) as events,
    ):
        Session("s-live").turn(0, answer="What size?").send(client)
        event, data = next_event(events, "s-live")
        assert event == "session"
        assert (data["status"], data["turn_count"]) == ("active", 1)
        Session("s-live", turns=1).turn(10).send(client)
        event, data = next_event(events, "s-live")
        assert data["turn_count"] == 2
        clock.now_ns = at(12 + 61)  # the idle timeout passes with no new span
        event, data = next_event(events, "s-live")
        assert (event, data["status"], data["end_reason"]) == ("session", "ended", "inactive_timeout")
        assert client.delete("/api/v1/sessions/s-live").status_code == 200
        assert next_event(events, "s-live") == ("deleted", {"session_id": "s-live"})


def test_a_stream_can_follow_one_session(tmp_path: Path, clock: ManualClock) -> None:
    with (
        run_server(tmp_path / "data", clock=clock) as server,
        server.client() as client,
        listen(server, session_id="s-mine") as events,
    ):
        Session("s-other").turn(0).send(client)
        Session("s-mine").turn(5).send(client)
        event, data = events.get(timeout=10)
    assert (event, data["session_id"]) == ("session", "s-mine")
