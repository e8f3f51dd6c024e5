"""Mistakes get one line on stderr, a non-zero exit and no traceback; the API's refusals in its own words."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
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
    thread = threading.Thread(target=other.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{other.server_address[1]}"
    try:
        message = one_error_line(cli("sessions", "list", "--url", url))
    finally:
        other.shutdown()
        other.server_close()
    assert message == f"{url} answered HTTP 404 to GET /api/v1/sessions, not like a Threadline server; check --url"


def test_url_and_data_dir_are_exclusive(tmp_path: Path) -> None:
    result = cli("sessions", "list", "--url", "http://127.0.0.1:1", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "Error: pass --url or --data-dir, not both" in result.stderr
    assert "Traceback" not in result.output
