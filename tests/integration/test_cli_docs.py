"""``docs/cli.md`` shows what the commands print: their help, and examples run against known data.

Each block that follows a ``<!-- generated: threadline ARGS -->`` line is the output of that command
(examples run against the data of ``test_cli_data``, with its fixed clock). After changing a command,
regenerate the blocks with ``.venv/bin/python tests/integration/test_cli_docs.py``.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
import tempfile
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":  # run as a script: make the test helpers importable
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from test_cli_data import seed  # noqa: E402

from support.server import ManualClock, run_server  # noqa: E402
from threadline.server.cli.main import main  # noqa: E402

DOC = ROOT / "docs" / "cli.md"
BLOCK = re.compile(r"(<!-- generated: threadline (?P<args>.*?) -->\n```text\n)(?P<body>.*?)(```\n)", re.S)
ENV = {"COLUMNS": "120", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "THREADLINE_URL": None}
HELP_WIDTH = 80


def run(args: list[str], url: str) -> str:
    """What ``threadline ARGS`` prints: its help, or the example run against ``url``."""
    runner = CliRunner(env=ENV)
    if "--help" in args:
        result = runner.invoke(main, args, prog_name="threadline", terminal_width=HELP_WIDTH)
        return result.stdout
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):  # exports write here
        result = runner.invoke(main, [*args, "--url", url], prog_name="threadline")
    shown = result.stdout if result.exit_code == 0 else result.output
    return f"$ threadline {shlex.join(args)}\n{shown}"


def regenerate(text: str, url: str) -> str:
    def block(match: re.Match[str]) -> str:
        output = run(shlex.split(match["args"]), url)
        body = "\n".join(line.rstrip() for line in output.rstrip("\n").splitlines()) + "\n"
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(block, text)


def generated(tmp: Path) -> str:
    clock = ManualClock()
    with run_server(tmp / "data", clock=clock) as server, server.client() as http:
        seed(http, clock)
        return regenerate(DOC.read_text(), server.url)


def data_commands(group: click.Group = main, prefix: str = "") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        if name == "serve":  # its options are the settings table: docs/configuration.md
            continue
        if isinstance(command, click.Group):
            names += data_commands(command, f"{prefix}{name} ")
        else:
            names.append(prefix + name)
    return names


def test_the_docs_show_what_the_commands_print(tmp_path: Path) -> None:
    assert generated(tmp_path) == DOC.read_text(), (
        "docs/cli.md is out of date: run .venv/bin/python tests/integration/test_cli_docs.py"
    )


def test_every_data_command_has_its_help_in_the_docs() -> None:
    documented = {m["args"] for m in BLOCK.finditer(DOC.read_text())}
    assert data_commands() == [
        "analytics", "export", "keys create", "keys list", "keys revoke", "projects create", "projects list",
        "projects set", "sessions list", "sessions show", "users list", "users show",
    ]  # fmt: skip
    assert {f"{name} --help" for name in data_commands()} <= documented


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        DOC.write_text(generated(Path(scratch)))
    print(f"regenerated {DOC.relative_to(ROOT)}")
