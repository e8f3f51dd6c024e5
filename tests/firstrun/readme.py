"""The README and the Makefile as a newcomer reads them: the commands they show, ready to run."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
"""The virtual environment running the tests stands for the README's ``.venv``."""


def readme_commands() -> list[str]:
    """Every ``curl`` and ``.venv/bin/threadline`` line in the README's code blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(("curl ", ".venv/bin/threadline "))]


def make_run_command() -> list[str]:
    """The command ``make run`` starts, with ``$(BIN)`` resolved to this environment."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n\t(.+)$", makefile, flags=re.M)
    assert recipe is not None, "the Makefile has no run target"
    return shlex.split(recipe.group(1).replace("$(BIN)", str(VENV_BIN)))


def localize(command: str, port: int) -> str:
    """A README command aimed at the server on ``port`` and at this environment's ``threadline``."""
    return command.replace("127.0.0.1:4318", f"127.0.0.1:{port}").replace(".venv/bin/", f"{VENV_BIN}/")
