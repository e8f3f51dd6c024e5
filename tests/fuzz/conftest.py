"""Print what the fuzz sent and how the server answered, whether or not the run captures output."""

from __future__ import annotations

import pytest

SUMMARIES = pytest.StashKey[list[str]]()
"""Lines the fuzz tests leave for the terminal summary."""


@pytest.fixture
def summary(request: pytest.FixtureRequest) -> list[str]:
    """A list whose lines are printed at the end of the run (``-s`` or not)."""
    return request.config.stash.setdefault(SUMMARIES, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(SUMMARIES, [])
    if lines:
        terminalreporter.section("fuzz: requests per status code")
        for line in lines:
            terminalreporter.write_line(line)
