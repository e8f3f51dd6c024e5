"""``sessions``, ``analytics`` and ``users`` against a real server at --url.

The data (``seed``, also used by the export and docs tests): the captured OpenInference corpus
(3 sessions, 11 turns) and three scenario sessions (a converted journey, a drop-off after a question,
an error), read with a clock the test sets past every session's idle timeout.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from support.corpus import replay
from support.scenario import Session, at
from support.server import ManualClock, RunningServer, run_server
from threadline.server.cli.main import main
from threadline.server.cli.options import resolve_time

CORPUS = "openinference-instrumentation-openai-0.1.66"
CORPUS_SESSIONS = {"sess-oi-alpha": (3, 564, 85), "sess-oi-bravo": (4, 193, 53), "sess-oi-charlie": (4, 568, 83)}
SCENARIO_SESSIONS = {"s-won": 3, "s-lost": 2, "s-error": 1}
ALL = {**{k: v[0] for k, v in CORPUS_SESSIONS.items()}, **SCENARIO_SESSIONS}
CLEAN_ENV = {"COLUMNS": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "THREADLINE_URL": None}


def _journey(stage: str, number: int, **more: Any) -> dict[str, Any]:
    return {"journey.name": "onboarding", "journey.total_stages": 3, "journey.stage": stage,
            "journey.stage_number": number, **more}  # fmt: skip


def seed(http: httpx.Client, clock: ManualClock) -> None:
    """The corpus and the scenario sessions, then a "now" past the idle timeout of every one (all ended)."""
    replay(http, CORPUS)
    won = Session("s-won", user_id="user-dana")
    won.turn(0, attributes=_journey("signup", 1)).turn(60, attributes=_journey("verify", 2))
    won.turn(120, answer="All set!", attributes=_journey("activated", 3, **{"journey.converted": True}))
    won.send(http)
    lost = Session("s-lost", user_id="user-dana").turn(200, attributes=_journey("signup", 1))
    lost.turn(260, answer="What is your email?", attributes=_journey("verify", 2)).send(http)
    Session("s-error", user_id="user-eve").turn(300, answer=None, llm_error="RateLimitError: 429").send(http)
    clock.now_ns = at(4000)


@contextmanager
def seeded_server(folder: Path) -> Iterator[RunningServer]:
    """A real server on loopback holding the seeded data, its clock past every session's idle timeout."""
    clock = ManualClock()
    with run_server(folder / "data", clock=clock) as running, running.client() as http:
        seed(http, clock)
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with seeded_server(tmp_path_factory.mktemp("cli")) as running:
        yield running


def cli(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner(env={**CLEAN_ENV, **(env or {})}).invoke(main, list(args))


def ok(server: RunningServer, *args: str) -> Result:
    result = cli(*args, "--url", server.url)
    assert result.exit_code == 0, result.output
    return result


def api(server: RunningServer, path: str, **params: Any) -> Any:
    with server.client() as http:
        response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def table_rows(output: str) -> dict[str, list[str]]:
    """Rows of a rich table, by their first cell."""
    rows = [[cell.strip() for cell in line.split("│")] for line in output.splitlines() if "│" in line]
    return {row[0]: row[1:] for row in rows}


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


def test_sessions_list_shows_the_key_columns(server: RunningServer) -> None:
    rows = table_rows(ok(server, "sessions", "list").stdout)
    assert set(rows) == set(ALL)
    user, status, turns, tokens, cost, _, last, dropped = rows["sess-oi-alpha"]
    assert (user, status, turns, tokens, dropped) == ("user-alice", "ended", "3", f"{564 + 85:,}", "no")
    assert cost.startswith("$")
    assert last.startswith("2026-")
    assert rows["s-lost"][-1] == "yes"
    assert rows["s-won"][:3] == ["user-dana", "ended", "3"]
    assert rows["s-won"][5] == "2m 02s"  # first activity to last: 0 s to 122 s


def test_sessions_list_json_is_the_api_page(server: RunningServer) -> None:
    page = json.loads(ok(server, "sessions", "list", "--json", "--ordering", "first_activity").stdout)
    assert page == api(server, "/api/v1/sessions", ordering="first_activity")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--user", "user-bob"], ["sess-oi-bravo"]),
        (["--user-id", "user-dana", "--ordering", "first_activity"], ["s-won", "s-lost"]),
        (["--has-error", "--ordering", "first_activity"], ["sess-oi-bravo", "sess-oi-charlie", "s-error"]),
        (["--dropped-off"], ["s-error", "s-lost"]),  # ended after an error, or after asking a question
        (["--min-turns", "4", "--ordering", "first_activity"], ["sess-oi-bravo", "sess-oi-charlie"]),
        (["--max-turns", "1"], ["s-error"]),
        (["--status", "active"], []),
        (["--since", "2027-01-01T00:00:00Z", "--ordering", "turn_count"], ["s-error", "s-lost", "s-won"]),
        (
            ["--until", "2026-12-01", "--ordering", "-total_tokens"],
            ["sess-oi-charlie", "sess-oi-alpha", "sess-oi-bravo"],
        ),
        (["--search", "email", "--model", "gpt-4o-mini"], ["s-lost"]),
    ],
)
def test_sessions_list_filters(server: RunningServer, flags: list[str], expected: list[str]) -> None:
    page = json.loads(ok(server, "sessions", "list", "--json", *flags).stdout)
    assert [s["session_id"] for s in page["sessions"]] == expected


def test_relative_times_are_sent_as_iso_8601(server: RunningServer) -> None:
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert resolve_time("36h", now) == "2026-11-20T00:00:00.000000Z"
    assert resolve_time("1.5w", now) == "2026-11-11T00:00:00.000000Z"
    assert resolve_time("2026-11-21", now) == "2026-11-21"
    everything = json.loads(ok(server, "sessions", "list", "--json", "--since", "36500d").stdout)["sessions"]
    assert len(everything) == len(ALL)
    assert "No sessions match." in ok(server, "sessions", "list", "--until", "36500d").stdout


def test_pages_follow_the_cursor_and_all_walks_them(server: RunningServer) -> None:
    first = ok(server, "sessions", "list", "--limit", "4", "--ordering", "first_activity")
    assert len(table_rows(first.stdout)) == 4
    cursor = first.stderr.split("--cursor ")[1].split()[0]
    rest = ok(server, "sessions", "list", "--limit", "4", "--ordering", "first_activity", "--cursor", cursor)
    assert len(table_rows(rest.stdout)) == 2
    assert "More sessions" not in rest.stderr
    everything = json.loads(ok(server, "sessions", "list", "--limit", "2", "--all", "--json").stdout)
    assert [s["session_id"] for s in everything["sessions"]] == [
        s["session_id"] for s in api(server, "/api/v1/sessions")["sessions"]
    ]
    assert everything["next_cursor"] is None


def test_sessions_show_goes_turn_by_turn(server: RunningServer) -> None:
    out = ok(server, "sessions", "show", "sess-oi-bravo").stdout
    assert out.startswith("Session sess-oi-bravo")
    assert "193 → 53 (246 in all)" in out
    assert "4 (1 errored)" in out
    turns = table_rows(out.split("Turns", 1)[1].split("Drop-off")[0])
    assert list(turns) == ["1", "2", "3", "4"]
    assert turns["3"][3].startswith("BadRequestError")
    assert turns["1"][3] == "—"
    assert turns["1"][4].startswith("Summarise the plot of Hamlet in one line. → ")
    assert "Drop-off: none" in out


def test_sessions_show_journeys_and_dropoff(server: RunningServer) -> None:
    won = ok(server, "sessions", "show", "s-won").stdout
    journey = table_rows(won.split("Journeys", 1)[1])["onboarding"]
    assert journey == ["1 signup (turn 1) → 2 verify (turn 2) → 3 activated (turn 3)", "3/3", "at turn 3, after 2m 02s"]
    lost = ok(server, "sessions", "show", "s-lost").stdout
    assert "Drop-off: yes (derived): after turn 2, last intent question, agent's last action asked_question" in lost
    assert table_rows(lost.split("Journeys", 1)[1])["onboarding"][1:] == ["2/3", "no"]
    error = ok(server, "sessions", "show", "s-error", "--full").stdout
    assert table_rows(error.split("Turns", 1)[1])["1"][3] == "RateLimitError: 429"


def test_sessions_show_json_is_the_api_detail(server: RunningServer) -> None:
    shown = json.loads(ok(server, "sessions", "show", "s-lost", "--json").stdout)
    assert shown == api(server, "/api/v1/sessions/s-lost")


def test_analytics_summary_and_funnels(server: RunningServer) -> None:
    out = ok(server, "analytics").stdout
    assert "sessions           6 (6 ended)" in out
    assert "dropped off        33.3% of ended sessions (2)" in out
    assert "with an error      50.0% of sessions" in out
    histogram = table_rows(out.split("Turns per session", 1)[1].split("Drop-off by last turn")[0])
    assert {k: v[0] for k, v in histogram.items()} == {"1": "1", "2": "1", "3": "2", "4": "2"}
    assert "Journey onboarding: 2 sessions, 1 converted (50.0%), median at turn 3 after 2m 02s" in out
    stages = table_rows(out.split("Journey onboarding", 1)[1])
    assert [row[:3] for row in stages.values()] == [["signup", "2", "100.0%"], ["verify", "2", "100.0%"],
                                                   ["activated", "1", "50.0%"]]  # fmt: skip


def test_analytics_json_and_window(server: RunningServer) -> None:
    both = json.loads(ok(server, "analytics", "--json", "--user", "user-dana").stdout)
    assert both == {
        "sessions": api(server, "/api/v1/analytics/sessions", user_id="user-dana"),
        "journeys": api(server, "/api/v1/analytics/journeys", user_id="user-dana")["journeys"],
    }
    assert both["sessions"]["session_count"] == 2
    old = ok(server, "analytics", "--until", "2026-12-01T00:00:00Z")
    assert "sessions           3 (3 ended)" in old.stdout
    assert "No journeys recorded in this window." in old.stdout


def test_users_list_sorted_and_as_json(server: RunningServer) -> None:
    rows = table_rows(ok(server, "users", "--ordering", "-session_count").stdout)
    assert next(iter(rows)) == "user-dana"
    assert rows["user-dana"][:3] == ["2", "5", "2.5"]
    assert rows["user-bob"][:4] == ["1", "4", "4.0", f"{193 + 53:,}"]
    assert rows["user-dana"][-1] == "yes"
    listed = json.loads(ok(server, "users", "list", "--json", "--one-time", "--ordering", "turn_count").stdout)
    assert listed == api(server, "/api/v1/users", returning="false", ordering="turn_count")
    assert [u["user_id"] for u in listed["users"]][:1] == ["user-eve"]


def test_users_show(server: RunningServer) -> None:
    out = ok(server, "users", "show", "user-dana").stdout
    assert out.startswith("User user-dana")
    assert "2 (returning)" in out
    assert set(table_rows(out.split("Recent sessions", 1)[1])) == {"s-won", "s-lost"}
    assert json.loads(ok(server, "users", "show", "user-bob", "--json").stdout) == api(server, "/api/v1/users/user-bob")


def test_url_comes_from_the_environment(server: RunningServer) -> None:
    result = cli("sessions", "list", "--json", env={"THREADLINE_URL": server.url + "/"})
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["sessions"]) == len(ALL)


def test_ids_and_content_print_as_they_are(tmp_path: Path) -> None:
    """Ids go in the URL as one path segment; content is never read as rich markup or emoji codes."""
    with run_server(tmp_path / "data") as running, running.client() as http:
        Session("team a?b#c", user_id="user a?b").turn(0, question="[bold]hi[/bold] :warning: [error400]").send(http)
        shown = ok(running, "sessions", "show", "team a?b#c").stdout
        assert "Session team a?b#c" in shown
        assert "[bold]hi[/bold] :warning: [error400] → It ships tomorrow." in shown
        assert "team a?b#c" in ok(running, "users", "show", "user a?b").stdout
