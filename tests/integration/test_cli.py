"""``threadline`` on the command line: serving, and mistakes answered in one line."""

from __future__ import annotations

from pathlib import Path

import httpx

from support.otlp import PROTOBUF, request, turn
from support.process import serve, threadline


def test_serve_prints_its_url_and_answers(tmp_path: Path) -> None:
    with serve(tmp_path / "data") as server:
        assert server.first_line.startswith(f"Threadline listening on {server.url}")
        assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    assert (tmp_path / "data" / "threadline.db").exists()


def test_settings_come_from_the_environment_too(tmp_path: Path) -> None:
    result = threadline("serve", "--help")
    assert result.returncode == 0
    assert "THREADLINE_IDLE_TIMEOUT" in result.stdout
    bad = threadline("serve", "--data-dir", str(tmp_path), env={"THREADLINE_IDLE_TIMEOUT": "soon"})
    assert bad.returncode == 2
    assert "'soon' is not a duration" in bad.stderr


def test_mistakes_get_one_clear_line_and_no_traceback(tmp_path: Path) -> None:
    for args in (["serve", "--port", "many"], ["serve", "--idle-timeout", "3 weeks"], ["frobnicate"]):
        result = threadline(*args, "--data-dir", str(tmp_path)) if args[0] == "serve" else threadline(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
        assert "Error:" in result.stderr


def test_a_busy_port_is_reported_plainly(tmp_path: Path) -> None:
    with serve(tmp_path / "a") as first:
        port = first.url.rsplit(":", 1)[1]
        result = threadline("serve", "--port", port, "--data-dir", str(tmp_path / "b"))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_acknowledged_spans_survive_kill_9(tmp_path: Path) -> None:
    """Durability: every span acknowledged with 200 survives a hard kill of the server."""
    data = tmp_path / "data"
    with serve(data) as server, httpx.Client(base_url=server.url) as client:
        for n in range(30):
            body = request(*turn(f"s-{n % 5}", start_s=n))
            assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
        server.kill_hard()
    with serve(data) as restarted, httpx.Client(base_url=restarted.url) as client:
        stats = client.get("/api/v1/stats").json()
        session = client.get("/api/v1/sessions/s-3").json()
    assert stats["span_count"] == 60
    assert stats["session_count"] == 5
    assert session["turn_count"] == 6
