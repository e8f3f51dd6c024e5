"""What the commands print for people: rounded money, turns with problems counted as the rows show
them, and span content that cannot steer the terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_data import api, cli, ok, table_rows

from support.scenario import Session
from support.server import ManualClock, RunningServer, run_server
from threadline.server.cli import render as r
from threadline.server.cli.client import segment

CLEAR = "\x1b[2J"
LINK = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\"
CSI8 = "\x9b"
HOSTILE = f"one{CLEAR} {LINK} two{CSI8}31m \u202eright\u202c\x07\x00\x7f\x85 end\nnext line"
ESCAPES = ["\x1b", "\x9b", "\x9c", "\x9d", "\x07", "\x00", "\x7f", "\x85", "\u202e", "\u202c"]


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (None, "—"),
        (0, "$0.00"),
        (0.0242, "$0.0242"),
        (0.024213, "$0.02421"),
        (0.000027, "$0.000027"),
        (0.00006075, "$0.00006075"),
        (0.000135004, "$0.000135"),
        (0.5, "$0.50"),
        (0.99999, "$1.00"),
        (0.099996, "$0.10"),
        (1.005, "$1.00"),
        (1234.5678, "$1,234.57"),
        (-0.0242, "-$0.0242"),
    ],
)
def test_money_is_rounded_for_people(usd: float | None, shown: str) -> None:
    assert r.money(usd) == shown


@pytest.mark.parametrize(
    ("text", "lines", "cleaned"),
    [
        (HOSTILE, False, "one click two right end next line"),
        (HOSTILE, True, "one click two right end\nnext line"),
        ("tab\there\r\nwindows", True, "tab here\nwindows"),
        ("\x1bc reset \x1b(B charset \x1b[?25l cursor", False, " reset  charset  cursor"),
        ("\x1b]0;a title\x07 after", False, " after"),
        ("\x1b]8;;unterminated", False, "8;;unterminated"),
        ("plain ünïcode, emoji 🙂 and [markup]", False, "plain ünïcode, emoji 🙂 and [markup]"),
    ],
)
def test_clean_drops_controls_and_escape_sequences(text: str, lines: bool, cleaned: str) -> None:
    assert r.clean(text, lines=lines) == cleaned


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("output")
    with run_server(folder / "data", clock=ManualClock()) as running, running.client() as http:
        tools = Session("s-tools", user_id="user-tom")
        tools.turn(0, cost_usd=0.0242).turn(60, tool_error="lookup failed", cost_usd=0.01)
        tools.turn(120, answer=None, llm_error="RateLimitError: 429").turn(180, cost_usd=1234.5678).send(http)
        hostile = Session(f"s-{CLEAR}hostile", user_id=f"user-{LINK}")
        hostile.turn(0, question=HOSTILE, answer=HOSTILE, llm_error=HOSTILE, model=f"gpt{CLEAR}-x").send(http)
        yield running


def test_a_turn_whose_tool_failed_is_counted_as_its_row_shows_it(server: RunningServer) -> None:
    out = ok(server, "sessions", "show", "s-tools").stdout
    turns = table_rows(out.split("Turns", 1)[1].split("Drop-off")[0])
    assert [row[3] for row in turns.values()] == ["—", "tool failed", "RateLimitError: 429", "—"]
    assert "turns        4 (1 errored, 1 with a failed tool)" in out


def test_money_is_rounded_in_tables_and_exact_in_json(server: RunningServer) -> None:
    shown = ok(server, "sessions", "show", "s-tools").stdout
    turns = table_rows(shown.split("Turns", 1)[1].split("Drop-off")[0])
    assert [row[2] for row in turns.values()] == ["$0.0242", "$0.01", "$0.000027", "$1,234.57"]
    assert "cost         $1,234.60 (mixed)" in shown
    listed = table_rows(ok(server, "sessions", "list", "--user", "user-tom").stdout)
    assert listed["s-tools"][4] == "$1,234.60"
    detail = json.loads(ok(server, "sessions", "show", "s-tools", "--json").stdout)
    assert detail == api(server, "/api/v1/sessions/s-tools")
    assert [t["total_cost_usd"] for t in detail["turns"]][:2] == [0.0242, 0.01]


@pytest.mark.parametrize(
    "args",
    [
        ["sessions", "show", f"s-{CLEAR}hostile"],
        ["sessions", "show", f"s-{CLEAR}hostile", "--full"],
        ["sessions", "list"],
        ["sessions", "list", "--search", "right"],
        ["users"],
        ["users", "show", f"user-{LINK}"],
        ["analytics", "--user", f"user-{LINK}"],
        ["sessions", "show", f"s-{CLEAR}missing"],
        ["users", "show", f"user-{LINK}missing"],
    ],
)
def test_span_content_cannot_steer_the_terminal(server: RunningServer, args: list[str]) -> None:
    result = cli(*args, "--url", server.url)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    for escape in ESCAPES:
        assert escape not in result.stdout + result.stderr, (escape, result.output)


def test_what_the_rows_show_of_hostile_content(server: RunningServer) -> None:
    out = ok(server, "sessions", "show", f"s-{CLEAR}hostile", "--full").stdout
    assert out.startswith("Session s-hostile\n")
    assert "user-click" in out
    assert "http://evil" not in out
    assert "one click two right end" in out
    assert "gpt-x" in out
    listed = table_rows(ok(server, "sessions", "list").stdout)
    assert listed["s-hostile"][0] == "user-click"


def test_json_keeps_the_content_with_controls_escaped(server: RunningServer) -> None:
    result = ok(server, "sessions", "show", f"s-{CLEAR}hostile", "--json")
    for escape in ESCAPES[:-1]:
        assert escape not in result.stdout
    assert json.loads(result.stdout) == api(server, f"/api/v1/sessions/{segment(f's-{CLEAR}hostile')}")


def test_the_hostile_session_is_exported_as_it_is(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "sessions.jsonl"
    ok(server, "export", "--format", "jsonl", "-o", str(out), "--search", "right")
    (row,) = [json.loads(line) for line in out.read_text().split("\n") if line]
    assert row["first_input"] == HOSTILE
