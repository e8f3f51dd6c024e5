"""``threadline.testing`` is a pytest plugin that users get by installing the package."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

USER_TEST = """
import threadline


def test_my_agent_sends_one_turn(threadline_capture):
    with threadline.session("s1", user_id="u1"), threadline.turn("hi") as turn:
        with threadline.llm_call(model="gpt-4o-mini") as call:
            call.record(input_tokens=3, output_tokens=1)
        turn.output("hello")
    llm, root = threadline_capture.snapshot()
    assert (root["trace_id"], root["span_id"], root["start_time"]) == (1, 1, 1_000_000_000)
    assert root["attributes"]["turn.output_length"] == 5
    assert llm["parent_id"] == 1


def test_state_is_reset_between_tests(threadline_capture):
    with threadline.session(), threadline.turn("again"):
        pass
    (root,) = threadline_capture.snapshot()
    assert root["trace_id"] == 1
    assert root["attributes"]["session.id"] == "sess_0000000000000001"
"""


def test_the_plugin_is_registered() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins["threadline"] == "threadline.testing"


def test_a_user_project_gets_the_fixture_without_configuration(tmp_path: Path) -> None:
    (tmp_path / "test_user_agent.py").write_text(USER_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "test_user_agent.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
