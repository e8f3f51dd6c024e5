"""The data commands (``sessions``, ``analytics``, ``users``, ``export``) against a real server at --url.

One server for the module, with a clock the test sets: the captured OpenInference corpus (3 sessions,
11 turns) and three scenario sessions (a converted journey, a drop-off after a question, an error).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from support.corpus import replay
from support.process import free_port, threadline
from support.scenario import Session, at
from support.server import ManualClock, RunningServer, run_server
from threadline.server.cli import main
from threadline.server.cli_options import resolve_time

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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    clock = ManualClock()
    with run_server(tmp_path_factory.mktemp("cli") / "data", clock=clock) as running, running.client() as http:
        seed(http, clock)
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


def test_export_sessions_jsonl_csv_parquet(server: RunningServer, tmp_path: Path) -> None:
    listed = api(server, "/api/v1/sessions", ordering="first_activity")["sessions"]
    for fmt in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"sessions.{fmt}"
        result = ok(server, "export", "--format", fmt, "--output", str(out))
        assert result.stdout == f"Exported 6 sessions to {out}\n"
        assert "sessions" in result.stderr
        assert "6/6" in result.stderr
    lines = [json.loads(line) for line in (tmp_path / "sessions.jsonl").read_text().splitlines()]
    assert lines == listed
    with (tmp_path / "sessions.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["session_id"] for r in rows] == [s["session_id"] for s in listed]
    bravo = next(r for r in rows if r["session_id"] == "sess-oi-bravo")
    assert (bravo["turn_count"], bravo["input_tokens"], bravo["output_tokens"]) == ("4", "193", "53")
    assert json.loads(bravo["models"]) == ["gpt-4o-mini"]
    assert bravo["dropped_off"] == "false"
    assert next(r for r in rows if r["session_id"] == "s-lost")["dropped_off"] == "true"
    assert (
        json.loads(bravo["attributes"]) == next(s for s in listed if s["session_id"] == "sess-oi-bravo")["attributes"]
    )
    table = pq.read_table(tmp_path / "sessions.parquet").to_pylist()
    assert [r["session_id"] for r in table] == [s["session_id"] for s in listed]
    assert {r["session_id"]: r["total_tokens"] for r in table}["sess-oi-charlie"] == 568 + 83
    assert table[0]["models"] == ["gpt-4o-mini"]
    assert [json.loads(r["attributes"]) for r in table] == [s["attributes"] for s in listed]


def test_export_turns_one_row_per_turn(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "turns.csv"
    result = ok(server, "export", "--format", "csv", "-o", str(out), "--level", "turns", "--user", "user-bob")
    assert result.stdout == f"Exported 4 turns to {out}\n"
    with out.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["session_id"], r["turn_number"]) for r in rows] == [("sess-oi-bravo", str(n)) for n in (1, 2, 3, 4)]
    assert sum(int(r["input_tokens"]) for r in rows) == 193
    assert sum(int(r["output_tokens"]) for r in rows) == 53
    assert [r["error"] for r in rows] == ["false", "false", "true", "false"]
    everything = tmp_path / "turns.parquet"
    ok(server, "export", "--format", "parquet", "-o", str(everything), "--level", "turns")
    turns = pq.read_table(everything).to_pylist()
    assert len(turns) == sum(ALL.values())
    detail = api(server, "/api/v1/sessions/s-won")["turns"]
    assert [{k: v for k, v in t.items() if k != "session_id"} for t in turns if t["session_id"] == "s-won"] == [
        {**t, "attributes": json.dumps(t["attributes"], ensure_ascii=False)} for t in detail
    ]


def test_an_empty_export_still_has_its_columns(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "none.csv"
    ok(server, "export", "--format", "csv", "-o", str(out), "--status", "active")
    header = out.read_text().splitlines()
    assert header[0].startswith("session_id,user_id,status,")
    assert len(header) == 1
    empty = tmp_path / "none.parquet"
    ok(server, "export", "--format", "parquet", "-o", str(empty), "--level", "turns", "--status", "active")
    assert pq.read_table(empty).column_names[:2] == ["session_id", "turn_number"]


def test_a_failed_export_leaves_the_old_file_and_no_temporary(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "sessions.jsonl"
    out.write_text("previous export\n")
    message = one_error_line(cli("export", "--format", "jsonl", "-o", str(out), "--since", "soon", "--url", server.url))
    assert message.startswith("Invalid value 'soon' for 'since'")
    assert out.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sessions.jsonl"]


def test_parquet_without_pyarrow_says_how_to_install_it(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    out = tmp_path / "s.parquet"
    message = one_error_line(cli("export", "--format", "parquet", "-o", str(out), "--url", server.url))
    assert message == "--format parquet needs pyarrow: pip install 'threadline[export]'"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sessions", "list", "--since", "yesterday"], "Invalid value 'yesterday' for 'since': expected an ISO 8601"),
        (["sessions", "list", "--ordering", "cost"], "Invalid value 'cost' for 'ordering': expected one of"),
        (["users", "--ordering", "-turns"], "Invalid value '-turns' for 'ordering': expected one of last_seen"),
        (["analytics", "--until", "2026-13-45"], "Invalid value '2026-13-45' for 'until'"),
        (["sessions", "show", "no-such-session"], "No session 'no-such-session'."),
        (["users", "show", "nobody"], "No user 'nobody'."),
        (["sessions", "list", "--cursor", "garbage"], "Invalid value 'garbage' for 'cursor'"),
    ],
)
def test_api_errors_are_one_line_in_the_apis_words(server: RunningServer, args: list[str], message: str) -> None:
    assert one_error_line(cli(*args, "--url", server.url)).startswith(message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sessions", "list"], "no Threadline server at {url}: start one with `threadline serve`, or pass --data-dir"),
        (["analytics", "--data-dir", "{missing}"], "no Threadline data at {missing}: pass the --data-dir"),
        (
            ["users", "--data-dir", "{empty}"],
            "no Threadline database at {empty}/threadline.db: start `threadline serve",
        ),
        (["sessions", "list", "--url", "localhost:4318"], "--url 'localhost:4318' is not an http:// or https:// URL"),
        (["export", "--format", "csv", "-o", "{missing}/x.csv"], "cannot write {missing}/x.csv: No such file"),
    ],
)
def test_local_mistakes_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    names = {
        "url": f"http://127.0.0.1:{free_port()}",
        "missing": str(tmp_path / "missing"),
        "empty": str(tmp_path / "empty"),
    }
    filled = [a.format(**names) for a in args]
    if "--url" not in filled and "--data-dir" not in filled:
        filled += ["--url", names["url"]]
    assert one_error_line(cli(*filled)).startswith(message.format(**names))


def test_an_unreachable_server_in_a_real_process_is_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = threadline("sessions", "show", "s-1", "--url", url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: no Threadline server at {url}: start one with `threadline serve`, "
        "or pass --data-dir to read a database directly"
    ]


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_another_kind_of_server_is_named(tmp_path: Path) -> None:
    other = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=tmp_path))
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{other.server_address[1]}"
    try:
        message = one_error_line(cli("sessions", "list", "--url", url))
    finally:
        other.shutdown()
        other.server_close()
    assert message == f"{url} answered HTTP 404 to GET /api/v1/sessions, not like a Threadline server; check --url"


def test_ids_and_content_print_as_they_are(tmp_path: Path) -> None:
    """Ids go in the URL as one path segment; content is never read as rich markup or emoji codes."""
    with run_server(tmp_path / "data") as running, running.client() as http:
        Session("team a?b#c", user_id="user a?b").turn(0, question="[bold]hi[/bold] :warning: [error400]").send(http)
        shown = ok(running, "sessions", "show", "team a?b#c").stdout
        assert "Session team a?b#c" in shown
        assert "[bold]hi[/bold] :warning: [error400] → It ships tomorrow." in shown
        assert "team a?b#c" in ok(running, "users", "show", "user a?b").stdout
