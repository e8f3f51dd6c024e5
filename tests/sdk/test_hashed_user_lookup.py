"""The SDK hashes user ids; the CLI finds them by the id the application knows when the server has the
application's salt, and says how to look one up when it does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from opentelemetry.sdk.trace import TracerProvider

import threadline
from support.server import RunningServer, run_server
from threadline.server.cli.main import main

APP_SALT = "app-salt"
ENV = {"COLUMNS": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "THREADLINE_URL": None}


@contextmanager
def application_data(folder: Path, provider: TracerProvider, server_salt: str) -> Iterator[RunningServer]:
    """A real server holding one session the SDK sent for alice@example.com, hashed with ``APP_SALT``."""
    with run_server(folder / "data", user_id_salt=server_salt) as server:
        threadline.configure(endpoint=server.url, user_id_salt=APP_SALT, tracer_provider=provider)
        try:
            with threadline.session("sess_alice", user_id="alice@example.com"), threadline.turn("Hi") as turn:
                turn.output("Hello!")
            assert threadline.flush(timeout=30)
        finally:
            threadline.shutdown()
        yield server


def cli(server: RunningServer, *args: str) -> Result:
    result = CliRunner(env=ENV).invoke(main, [*args, "--url", server.url])
    assert result.exit_code == 0, result.output
    return result


def test_the_cli_finds_a_hashed_user_when_the_salts_agree(tmp_path: Path, app_provider: TracerProvider) -> None:
    with application_data(tmp_path, app_provider, server_salt=APP_SALT) as server:
        listed = json.loads(cli(server, "sessions", "list", "--user", "alice@example.com", "--json").stdout)
        table = cli(server, "sessions", "list", "--user", "alice@example.com")
        user = cli(server, "users", "show", "alice@example.com")
        analytics = json.loads(cli(server, "analytics", "--user", "alice@example.com", "--json").stdout)
    hashed = threadline.hash_user_id("alice@example.com", salt=APP_SALT)
    assert [(s["session_id"], s["user_id"]) for s in listed["sessions"]] == [("sess_alice", hashed)]
    assert "sess_alice" in table.stdout
    assert table.stderr == ""
    assert user.stdout.startswith(f"User {hashed}")
    assert analytics["sessions"]["session_count"] == 1


@pytest.mark.parametrize("server_salt", ["", "another-salt"])
def test_the_cli_says_how_to_look_a_user_up_when_the_salts_differ(
    tmp_path: Path, app_provider: TracerProvider, server_salt: str
) -> None:
    with application_data(tmp_path, app_provider, server_salt=server_salt) as server:
        listed = cli(server, "sessions", "list", "--user", "alice@example.com")
        analytics = cli(server, "analytics", "--user", "alice@example.com")
        found = cli(server, "sessions", "list", "--user", threadline.hash_user_id("alice@example.com", salt=APP_SALT))
    assert listed.stdout == "No sessions match.\n"
    (hint,) = listed.stderr.splitlines()
    assert hint.startswith("User ids may be stored hashed: look one up with ")
    assert "threadline.hash_user_id('alice@example.com', salt='YOUR_SALT')" in hint
    assert "THREADLINE_USER_ID_SALT" in hint
    assert analytics.stderr.splitlines() == [hint]
    assert "sess_alice" in found.stdout
