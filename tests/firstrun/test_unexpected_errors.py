"""An unexpected server error: logged once with a request id, a 500 that carries the id, rate-limited
repeats, and a connection that stays usable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from support.server import run_server
from threadline.server.api.errors import LogLimiter
from threadline.server.store.records import Stats
from threadline.server.store.sqlite.store import SqliteStore


class BrokenStats(SqliteStore):
    """A store whose stats read fails the way a bug would."""

    def stats(self, project_id: int) -> Stats:
        raise ZeroDivisionError("a bug in a read")


def test_a_failure_answers_500_with_a_request_id_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    with run_server(tmp_path, store=BrokenStats(tmp_path)) as server, server.client() as client:
        server_log = logging.getLogger("uvicorn.error")  # where the server logs what escapes the app
        server_log.addHandler(caplog.handler)
        try:
            answers = [client.get("/api/v1/stats") for _ in range(5)]
            after = client.get("/api/v1/sessions")
        finally:
            server_log.removeHandler(caplog.handler)
    first = answers[0]
    assert first.status_code == 500
    error = first.json()["error"]
    request_id = error["detail"]["request_id"]
    assert error["code"] == "internal_error"
    assert request_id in error["message"]
    assert first.headers["x-request-id"] == request_id
    assert first.headers.get("connection") != "close"
    assert after.status_code == 200  # the same keep-alive connection still serves
    records = [r for r in caplog.records if r.name == "threadline.api"]
    assert len(records) == 1  # five identical failures, one traceback in the log
    assert request_id in records[0].getMessage()
    assert records[0].exc_info is not None
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert tracebacks == records  # and no second traceback from the server underneath


def test_repeats_are_logged_again_after_the_window_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = LogLimiter(window_s=60, clock=lambda: now[0])
    caplog.set_level(logging.ERROR)
    for moment in (0.0, 1.0, 2.0, 61.0):
        now[0] = moment
        try:
            raise ValueError("same place")
        except ValueError as exc:
            limiter.log(exc, "GET /x", f"id-{moment}")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "id-0.0" in messages[0]
    assert "id-61.0" in messages[1]
    assert "2 more like it" in messages[1]
