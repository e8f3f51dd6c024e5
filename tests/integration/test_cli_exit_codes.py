"""Every data command exits as docs/cli.md says: 0 done, 1 the server or the API refused or failed,
2 the command line is wrong (caught before asking anything)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_data import cli, seeded_server
from test_cli_docs import DOC, data_commands

from support.process import free_port
from support.server import RunningServer
from threadline.server.auth import admin

RUNS = {
    "analytics": ["analytics"],
    "export": ["export", "--format", "jsonl", "-o", "{tmp}/out.jsonl"],
    "sessions list": ["sessions", "list"],
    "sessions show": ["sessions", "show", "s-won"],
    "users list": ["users", "list"],
    "users show": ["users", "show", "user-dana"],
    "keys create": ["keys", "create", "--project", "default"],
    "keys list": ["keys", "list"],
    "keys revoke": ["keys", "revoke", "{key}"],
    "projects create": ["projects", "create", "exit-codes"],
    "projects list": ["projects", "list"],
    "projects set": ["projects", "set", "default", "--retention-days", "400"],
}
ADMIN = {"keys create", "keys list", "keys revoke", "projects create", "projects list", "projects set"}
"""Commands that, given --data-dir, make the database when there is none (a key before the first start)."""
REFUSED = {
    "analytics": None,  # every value it takes is checked by the command itself
    "export": ["export", "--format", "jsonl", "-o", "{tmp}/out.jsonl", "--ordering", "cost"],
    "sessions list": ["sessions", "list", "--cursor", "garbage"],
    "sessions show": ["sessions", "show", "no-such-session"],
    "users list": ["users", "list", "--ordering", "cost"],
    "users show": ["users", "show", "nobody"],
    "keys create": ["keys", "create", "--project", "nowhere"],
    "keys list": ["keys", "list", "--project", "nowhere"],
    "keys revoke": ["keys", "revoke", "tl_0000000000000000"],
    "projects create": ["projects", "create", "bad name"],
    "projects list": None,  # it takes no value to refuse
    "projects set": ["projects", "set", "default", "--redact-pattern", "(unclosed"],
}
MISTAKES = {
    "analytics": ["analytics", "--since", "yesterday"],
    "export": ["export", "--format", "xlsx", "-o", "{tmp}/out.xlsx"],
    "sessions list": ["sessions", "list", "--limit", "0"],
    "sessions show": ["sessions", "show"],
    "users list": ["users", "list", "--until", "tomorrow"],
    "users show": ["users", "show", "user-dana", "extra"],
    "keys create": ["keys", "create"],
    "keys list": ["keys", "list", "extra"],
    "keys revoke": ["keys", "revoke"],
    "projects create": ["projects", "create"],
    "projects list": ["projects", "list", "extra"],
    "projects set": ["projects", "set", "default"],
}


KEY_ID = "tl_0000000000000000"
"""The key ``keys revoke`` revokes: one the server made, once the server runs."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    global KEY_ID
    with seeded_server(tmp_path_factory.mktemp("exit-codes")) as running:
        KEY_ID = admin.create_key(running.runtime.store, b"s", "default", "", "read", time.time_ns()).record.id
        yield running


def _args(args: list[str], tmp: Path) -> list[str]:
    return [a.format(tmp=tmp, key=KEY_ID) for a in args]


def _status(args: list[str], url: str, tmp: Path) -> int:
    result = cli(*_args(args, tmp), "--url", url)
    assert "Traceback" not in result.output
    assert result.exit_code == 0 or len(result.stderr.strip().splitlines()) >= 1
    return result.exit_code


def test_the_docs_document_the_three_statuses() -> None:
    section = DOC.read_text().split("## Mistakes and exit status", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^\| `(\d)` \|", section, re.M) == ["0", "1", "2"]


def test_every_data_command_is_covered() -> None:
    assert sorted(RUNS) == sorted(REFUSED) == sorted(MISTAKES) == data_commands()


@pytest.mark.parametrize("command", sorted(RUNS))
def test_0_when_done(server: RunningServer, tmp_path: Path, command: str) -> None:
    assert _status(RUNS[command], server.url, tmp_path) == 0


@pytest.mark.parametrize("command", sorted(RUNS))
def test_1_when_no_server_answers(tmp_path: Path, command: str) -> None:
    assert _status(RUNS[command], f"http://127.0.0.1:{free_port()}", tmp_path) == 1


@pytest.mark.parametrize("command", sorted(c for c, args in REFUSED.items() if args))
def test_1_when_the_api_refuses(server: RunningServer, tmp_path: Path, command: str) -> None:
    args = REFUSED[command]
    assert args is not None
    assert _status(args, server.url, tmp_path) == 1


@pytest.mark.parametrize("command", sorted(set(RUNS) - ADMIN))
def test_1_when_the_database_is_missing(tmp_path: Path, command: str) -> None:
    result = cli(*_args(RUNS[command], tmp_path), "--data-dir", str(tmp_path / "nothing"))
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("command", sorted(ADMIN - {"keys revoke"}))
def test_keys_and_projects_make_the_database_and_say_so(tmp_path: Path, command: str) -> None:
    result = cli(*_args(RUNS[command], tmp_path), "--data-dir", str(tmp_path / "new"))
    assert result.exit_code == 0, result.output
    assert "A new Threadline database" in result.stderr
    assert (tmp_path / "new" / "threadline.db").exists()


@pytest.mark.parametrize("command", sorted(MISTAKES))
def test_2_when_the_command_line_is_wrong(server: RunningServer, tmp_path: Path, command: str) -> None:
    assert _status(MISTAKES[command], server.url, tmp_path) == 2
    assert _status([*RUNS[command], "--frobnicate"], server.url, tmp_path) == 2
