"""Every data command exits as docs/cli.md says: 0 done, 1 the server or the API refused or failed,
2 the command line is wrong (caught before asking anything)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_data import cli, seeded_server
from test_cli_docs import DOC, data_commands

from support.process import free_port
from support.server import RunningServer

RUNS = {
    "analytics": ["analytics"],
    "export": ["export", "--format", "jsonl", "-o", "{tmp}/out.jsonl"],
    "sessions list": ["sessions", "list"],
    "sessions show": ["sessions", "show", "s-won"],
    "users list": ["users", "list"],
    "users show": ["users", "show", "user-dana"],
}
REFUSED = {
    "analytics": None,  # every value it takes is checked by the command itself
    "export": ["export", "--format", "jsonl", "-o", "{tmp}/out.jsonl", "--ordering", "cost"],
    "sessions list": ["sessions", "list", "--cursor", "garbage"],
    "sessions show": ["sessions", "show", "no-such-session"],
    "users list": ["users", "list", "--ordering", "cost"],
    "users show": ["users", "show", "nobody"],
}
MISTAKES = {
    "analytics": ["analytics", "--since", "yesterday"],
    "export": ["export", "--format", "xlsx", "-o", "{tmp}/out.xlsx"],
    "sessions list": ["sessions", "list", "--limit", "0"],
    "sessions show": ["sessions", "show"],
    "users list": ["users", "list", "--until", "tomorrow"],
    "users show": ["users", "show", "user-dana", "extra"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with seeded_server(tmp_path_factory.mktemp("exit-codes")) as running:
        yield running


def _status(args: list[str], url: str, tmp: Path) -> int:
    result = cli(*(a.format(tmp=tmp) for a in args), "--url", url)
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


@pytest.mark.parametrize("command", sorted(RUNS))
def test_1_when_the_database_is_missing(tmp_path: Path, command: str) -> None:
    args = [a.format(tmp=tmp_path) for a in RUNS[command]]
    result = cli(*args, "--data-dir", str(tmp_path / "nothing"))
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("command", sorted(MISTAKES))
def test_2_when_the_command_line_is_wrong(server: RunningServer, tmp_path: Path, command: str) -> None:
    assert _status(MISTAKES[command], server.url, tmp_path) == 2
    assert _status([*RUNS[command], "--frobnicate"], server.url, tmp_path) == 2
