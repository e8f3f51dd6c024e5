"""The README's path, run the way a newcomer runs it: ``make run``'s command in a fresh working folder
(its default, relative data folder), then every command the README shows."""

from __future__ import annotations

import json
import os
import select
import shlex
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from firstrun.readme import ROOT, localize, make_run_command, readme_commands
from support.process import free_port


@contextmanager
def started(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Start ``command`` (a ``threadline serve``) and yield its URL once it says it listens."""
    with subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        try:
            ready, _, _ = select.select([process.stdout], [], [], 60)
            line = process.stdout.readline() if ready else ""
            assert "listening on" in line, f"{line!r} {process.stderr.read() if process.poll() is not None else ''}"
            yield line.split("listening on ", 1)[1].split()[0]
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            errors = process.stderr.read()
            assert "Traceback" not in errors, errors


def wait_for_sessions(url: str, at_least: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = httpx.get(f"{url}/api/v1/stats", timeout=10).json()
        if stats["session_count"] >= at_least:
            return
        time.sleep(0.2)
    pytest.fail(f"the demo sent fewer than {at_least} sessions in {timeout_s}s")


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_the_readme_commands_answer_against_make_run(tmp_path: Path) -> None:
    commands = readme_commands()
    assert any(c.startswith("curl ") for c in commands)
    assert any(c.startswith(".venv/bin/") for c in commands)
    port = free_port()
    env = {"THREADLINE_PORT": str(port), "THREADLINE_URL": f"http://127.0.0.1:{port}"}
    with started(make_run_command(), tmp_path, env) as url:
        wait_for_sessions(url, 20)
        for command in commands:
            result = run(localize(command, port), tmp_path, env)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr, command
            if command.startswith("curl "):
                body = json.loads(result.stdout)
                assert "error" not in body, (command, body)
                if "sessions" in body:
                    assert body["sessions"], f"{command} listed no session of the demo"
            else:
                assert result.stdout.strip(), command
                assert "No sessions match" not in result.stdout, (command, result.stdout)
    assert (tmp_path / "threadline-data" / "threadline.db").is_file()  # the default folder, relative to cwd


def _one_turn(url: str) -> None:
    """A span naming a session, as any OTLP exporter would send it (OTLP/JSON)."""
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "turn",
        "startTimeUnixNano": "1800000000000000000",
        "endTimeUnixNano": "1800000001000000000",
        "attributes": [{"key": "session.id", "value": {"stringValue": "s-first"}}],
    }
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    response = httpx.post(f"{url}/v1/traces", json=body, timeout=10)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("relative flag", "rel/data"),
        ("absolute flag", "abs/data"),
        ("environment", "env/data"),
        ("tilde", "home/data"),
    ],
)
def test_every_way_of_naming_the_data_folder(tmp_path: Path, how: str, expected: str) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = {"HOME": str(home), "THREADLINE_URL": f"http://127.0.0.1:{port}"}
    folder = {
        "relative flag": ["--data-dir", "../rel/data"],
        "absolute flag": ["--data-dir", str(tmp_path / "abs" / "data")],
        "environment": [],
        "tilde": ["--data-dir", "~/data"],  # as a quoted argument: the shell left the ~ alone
    }[how]
    if how == "environment":
        env["THREADLINE_DATA_DIR"] = "../env/data"
    serve = [str(Path(make_run_command()[0])), "serve", "--port", str(port), *folder]
    with started(serve, cwd, env) as url:
        _one_turn(url)
        listed = run(f"{localize('.venv/bin/threadline sessions list', port)}", cwd, env)
        assert "s-first" in listed.stdout, listed.stdout + listed.stderr
        data_dir = folder[1] if folder else "../env/data"
        direct = run(f"{localize('.venv/bin/threadline', port)} sessions list --data-dir '{data_dir}'", cwd, env)
        assert "s-first" in direct.stdout, direct.stdout + direct.stderr
    assert (tmp_path / expected / "threadline.db").is_file()


def test_the_readme_team_setup(tmp_path: Path) -> None:
    """ "Running it for a team", literally: the first key on the database, the server with --auth, a read
    with the key (addressed to the allowed host name), and what happens without it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running it for a team", 1)[1].split("\n## ", 1)[0]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    make_key, serve, read, _ = (line.removeprefix("$ ") for line in block.splitlines())
    created = run(f'{localize(make_key, 0)}\necho "$KEY"', tmp_path, {})
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("tl_")
    port = free_port()
    serve = localize(serve, port).replace("--host 0.0.0.0", f"--host 127.0.0.1 --port {port}")
    with started(shlex.split(serve), tmp_path, {}):
        through = f"--connect-to threadline.example.com:4318:127.0.0.1:{port} -w '\\n%{{http_code}}'"
        answered = run(f"KEY={key}\n" + read.replace("curl -s", f"curl -s {through}"), tmp_path, {})
        assert answered.stdout.endswith("\n200"), answered.stdout
        assert '"sessions"' in answered.stdout
        refused = run(f"curl -s {through} http://threadline.example.com:4318/api/v1/sessions", tmp_path, {})
        assert refused.stdout.endswith("\n401"), refused.stdout
        rebound = run(f"curl -s -w '\\n%{{http_code}}' -H 'Authorization: Bearer {key}' "
                      f"http://127.0.0.1:{port}/api/v1/sessions", tmp_path, {})  # fmt: skip
        assert rebound.stdout.endswith("\n421"), rebound.stdout  # a name not allowed
