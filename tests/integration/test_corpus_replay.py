"""Every captured client payload, sent over real HTTP to a real server, comes out as the manifest says."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.corpus import FOLDERS, expected_user_id, manifest, replay
from support.server import ManualClock, RunningServer, run_server

pytestmark = pytest.mark.both_engines


@pytest.mark.parametrize("folder", FOLDERS)
def test_sessions_match_manifest(server: RunningServer, folder: str) -> None:
    expected = manifest(folder)["expected"]
    with server.client() as client:
        replay(client, folder)
        stats = client.get("/api/v1/stats").json()
        assert stats["session_count"] == expected["session_count"]
        assert stats["orphan_trace_count"] == 0
        assert stats["span_count"] == manifest(folder)["observed"]["total_spans"]
        for want in expected["sessions"]:
            got = client.get(f"/api/v1/sessions/{want['session_id']}").json()
            assert got["turn_count"] == want["turns"]
            assert got["llm_call_count"] == want["llm_calls"]
            assert got["input_tokens"] == want["prompt_tokens"]
            assert got["output_tokens"] == want["completion_tokens"]
            assert got["user_id"] == expected_user_id(folder, want["user_id"])
            errored = [t["turn_number"] for t in got["turns"] if t["error"]]
            assert errored == want["errored_turns"]
            assert [t["turn_number"] for t in got["turns"]] == list(range(1, want["turns"] + 1))


@pytest.mark.parametrize("folder", FOLDERS)
def test_totals_and_tool_calls(server: RunningServer, folder: str) -> None:
    expected = manifest(folder)["expected"]
    with server.client() as client:
        replay(client, folder)
        sessions = client.get("/api/v1/sessions", params={"limit": 500}).json()["sessions"]
    assert sum(s["turn_count"] for s in sessions) == expected["turn_count"]
    assert sum(s["llm_call_count"] for s in sessions) == expected["llm_call_count"]
    assert sum(s["tool_call_count"] for s in sessions) == expected["tool_calls"]
    assert sum(s["input_tokens"] for s in sessions) == expected["total_prompt_tokens"]
    assert sum(s["output_tokens"] for s in sessions) == expected["total_completion_tokens"]
    # gpt-4o-mini is in the price data: every session is priced, and marked as computed.
    assert all(s["total_cost_usd"] is not None and s["total_cost_usd"] > 0 for s in sessions)
    assert {s["cost_source"] for s in sessions} == {"computed"}


def test_replaying_twice_changes_nothing(tmp_path: Path, clock: ManualClock) -> None:
    """Client retries re-send spans already stored: they are recognised, not counted twice."""
    folder = FOLDERS[0]
    with run_server(tmp_path / "data", clock=clock) as server, server.client() as client:
        replay(client, folder)
        first = client.get("/api/v1/sessions").json()["sessions"]
        stats = client.get("/api/v1/stats").json()
        replay(client, folder)
        assert client.get("/api/v1/sessions").json()["sessions"] == first
        assert client.get("/api/v1/stats").json() == stats
