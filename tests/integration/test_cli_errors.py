"""Mistakes get one line on stderr, a non-zero exit and no traceback; the API's refusals in its own words,
except where the CLI has better ones (an unknown session or user)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from test_cli_data import cli, one_error_line

from support.process import free_port, threadline
from support.server import RunningServer, run_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """An empty server: enough to be refused."""
    with run_server(tmp_path_factory.mktemp("errors") / "data") as running:
        yield running


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sessions", "list", "--ordering", "cost"], "Invalid value 'cost' for 'ordering': expected one of"),
        (["users", "--ordering", "-turns"], "Invalid value '-turns' for 'ordering': expected one of last_seen"),
        (["export", "-o", "x.csv", "--format", "csv", "--ordering", "x"], "Invalid value 'x' for 'ordering'"),
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
    thread = threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{other.server_address[1]}"
    try:
        message = one_error_line(cli("sessions", "list", "--url", url))
    finally:
        other.shutdown()
        other.server_close()
    assert message == f"{url} answered HTTP 404 to GET /api/v1/sessions, not like a Threadline server; check --url"


def test_an_unknown_session_or_user_points_at_the_cli(server: RunningServer) -> None:
    session = one_error_line(cli("sessions", "show", "NOPE", "--url", server.url))
    user = one_error_line(cli("users", "show", "NOPE", "--url", server.url))
    assert session == "No session 'NOPE'. List sessions with `threadline sessions list`."
    assert user.startswith("No user 'NOPE'. List users with `threadline users`. User ids may be stored hashed: ")
    assert "GET /api/v1" not in session + user
    with server.client() as http:  # the API keeps its words for API users
        assert "GET /api/v1/sessions" in http.get("/api/v1/sessions/NOPE").json()["error"]["message"]
        assert "GET /api/v1/users" in http.get("/api/v1/users/NOPE").json()["error"]["message"]


def usage_line(result: Result) -> str:
    """The one line of a usage error (exit status 2)."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


FORMS = "use a time ago (90m, 24h, 7d, 2w) or ISO 8601 such as 2026-11-21T10:00:00Z."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sessions", "list", "--since", "yesterday"], f"--since 'yesterday' is not a time: {FORMS}"),
        (["sessions", "list", "--until", "soon"], f"--until 'soon' is not a time: {FORMS}"),
        (["analytics", "--until", "2026-13-45"], f"--until '2026-13-45' is not a time: {FORMS}"),
        (["users", "--since", "last week"], f"--since 'last week' is not a time: {FORMS}"),
        (["export", "-o", "x.csv", "--format", "csv", "--since", "1y"], f"--since '1y' is not a time: {FORMS}"),
        (["sessions", "list", "--url", "localhost:4318"], "--url 'localhost:4318' is not an http:// or https:// URL"),
        (["sessions", "list", "--url", "http://127.0.0.1:1", "--data-dir", "."], "pass --url or --data-dir, not both"),
    ],
)
def test_command_line_mistakes_are_one_line_usage_errors(args: list[str], message: str) -> None:
    """Caught before asking anything: the server at --url is never reached (nothing listens there)."""
    if "--url" not in args:
        args = [*args, "--url", f"http://127.0.0.1:{free_port()}"]
    assert usage_line(cli(*args)) == message


def test_times_the_api_reads_pass(server: RunningServer) -> None:
    for since in ("2026-11-21", "2026-11-21T10:00:00Z", "2026-11-21T10:00:00.5+02:00", "2026-11-21 10:00z", "90m"):
        assert cli("sessions", "list", "--since", since, "--url", server.url).exit_code == 0, since
