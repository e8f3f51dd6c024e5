"""``threadline serve --demo``: the demo agent's traffic, through the real SDK, shows every feature."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from support.server import RunningServer, run_server
from threadline.server.demo import Demo

DAY_NS = 24 * 3600 * 10**9


def _run_demo(server: RunningServer, seed: int) -> tuple[Demo, list[dict[str, Any]]]:
    demo = Demo(server.url, seed=seed, live=False, start_ns=time.time_ns() - 2 * DAY_NS)
    demo.run()
    with server.client() as client:
        details = [client.get(f"/api/v1/sessions/{sid}").json() for sid in demo.session_ids]
    return demo, details


def test_the_demo_shows_a_full_product(server: RunningServer) -> None:
    demo, sessions = _run_demo(server, seed=7)
    with server.client() as client:
        stats = client.get("/api/v1/stats").json()
    turns = [t for s in sessions for t in s["turns"]]
    assert stats["session_count"] == len(demo.session_ids) >= 20
    assert stats["orphan_trace_count"] == 0
    assert len({s["user_id"] for s in sessions}) == 6  # several users, hashed
    assert all(len(s["user_id"]) == 32 for s in sessions)
    assert len({s["turn_count"] for s in sessions}) >= 4  # varied lengths, from 1 to 11 turns
    assert max(s["turn_count"] for s in sessions) >= 10
    assert sum(s["tool_call_count"] for s in sessions) >= 10
    assert any(t["error"] and t["error_message"].startswith("429") for t in turns)  # an LLM error
    assert any(t["tool_error"] for t in turns)  # a declined payment
    ended = {s["end_reason"] for s in sessions}
    assert {"completed", "inactive_timeout"} <= ended
    stopped_after_question = [
        s for s in sessions if s["end_reason"] == "inactive_timeout" and s["last_output"].endswith("?")
    ]
    assert len(stopped_after_question) >= 3
    dropped = [s["dropoff"]["agent_last_action"] for s in sessions if s["dropped_off"]]
    assert {"asked_question", "tool_failure"} <= set(dropped)
    onboarding = [j for s in sessions for j in s["journeys"] if j["name"] == "onboarding"]
    assert any(j["converted"] for j in onboarding)  # converts in one session...
    assert any(not j["converted"] and len(j["stages"]) == 2 for j in onboarding)  # ...stalls in another
    assert all(t["context_window_pct"] is not None for t in turns if not t["error"])
    assert any(t["attributes"].get("context.pruned") for t in turns)
    assert any(t["attributes"].get("turn.feedback") == -1 for t in turns)
    assert all(s["total_cost_usd"] for s in sessions)


def test_the_same_seed_sends_the_same_sessions(tmp_path: Path) -> None:
    summaries = []
    for run in ("a", "b"):
        with run_server(tmp_path / run) as server:
            _, sessions = _run_demo(server, seed=11)
        summaries.append(
            [(s["session_id"], s["user_id"], s["turn_count"], s["input_tokens"], s["end_reason"]) for s in sessions]
        )
    assert summaries[0] == summaries[1]


def test_serve_demo_fills_an_empty_server_and_stops_cleanly(tmp_path: Path) -> None:
    """The command a newcomer runs. The demo works in the background, so this test waits on the API."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [str(Path(sys.executable).with_name("threadline")), "serve", "--demo", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "THREADLINE_"))}
    with subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "data")], stdout=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith(f"Threadline listening on http://127.0.0.1:{port}")
            assert process.stdout.readline().startswith(f"Open http://127.0.0.1:{port}/ for the sessions")
            assert process.stdout.readline().startswith("Demo:")
            deadline = time.monotonic() + 30
            stats: dict[str, Any] = {}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                while time.monotonic() < deadline and stats.get("session_count", 0) < 20:
                    time.sleep(0.2)
                    stats = client.get("/api/v1/stats").json()
            assert stats["session_count"] >= 20
            assert stats["user_count"] == 6
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=20)
    assert code == 0


def test_a_restarted_demo_adds_no_second_day_of_history(server: RunningServer) -> None:
    """``make run`` twice: the second demo finds sessions and sends only live ones (none here)."""
    first = Demo(server.url, seed=None, live=False, start_ns=time.time_ns() - 2 * DAY_NS)
    first.run()
    with server.client() as client:
        before = client.get("/api/v1/stats").json()
    second = Demo(server.url, seed=None, live=False, start_ns=time.time_ns() - 2 * DAY_NS)
    second.run()
    with server.client() as client:
        after = client.get("/api/v1/stats").json()
    assert before["session_count"] >= 20
    assert second.session_ids == []
    assert after == before


def test_the_demo_hashes_users_with_the_salt_it_is_given(server: RunningServer) -> None:
    Demo(server.url, seed=3, live=False, start_ns=time.time_ns() - 2 * DAY_NS, user_id_salt="").run()
    with server.client() as client:  # the server's salt is empty too: the address finds the user
        found = client.get("/api/v1/sessions", params={"user_id": "maria@example.com"}).json()["sessions"]
    assert found
