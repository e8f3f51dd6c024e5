"""``--data-dir``: the data commands read the database directly, read-only, while ``threadline serve`` writes it."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from support.corpus import replay
from support.otlp import PROTOBUF, request, turn
from support.process import ServeProcess, serve
from threadline import hash_user_id
from threadline.server.cli.main import main

CORPUS = "traceloop-sdk-0.62.4"
CLEAN_ENV = {"COLUMNS": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "THREADLINE_URL": None}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Path]]:
    data = tmp_path_factory.mktemp("served") / "data"
    with serve(data) as process, httpx.Client(base_url=process.url) as http:
        replay(http, CORPUS)
        yield process, data


def cli(*args: str) -> Result:
    result = CliRunner(env=CLEAN_ENV).invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def without_clock(value: Any) -> Any:
    """``value`` without the fields that depend on when it is read (idle time, time since the last turn)."""
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in ("idle_time_ms", "time_since_last_turn_ms")}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


@pytest.mark.parametrize(
    "args",
    [
        ["sessions", "list", "--json", "--ordering", "first_activity"],
        ["sessions", "show", "sess-tl-charlie", "--json"],
        ["analytics", "--json"],
        ["users", "--json", "--ordering", "first_seen"],
        ["users", "show", "user-bob", "--json"],
    ],
)
def test_the_database_answers_like_the_server(served: tuple[ServeProcess, Path], args: list[str]) -> None:
    process, data = served
    direct = json.loads(cli(*args, "--data-dir", str(data)).stdout)
    asked = json.loads(cli(*args, "--url", process.url).stdout)
    assert without_clock(direct) == without_clock(asked)


def test_tables_and_export_from_the_database(served: tuple[ServeProcess, Path], tmp_path: Path) -> None:
    _, data = served
    listed = cli("sessions", "list", "--data-dir", str(data)).stdout
    assert {"sess-tl-alpha", "sess-tl-bravo", "sess-tl-charlie"} <= set(listed.split())
    shown = cli("sessions", "show", "sess-tl-alpha", "--data-dir", str(data)).stdout
    assert "564 → 85 (649 in all)" in shown
    out = tmp_path / "turns.csv"
    exported = cli("export", "--format", "csv", "-o", str(out), "--level", "turns", "--data-dir", str(data))
    assert exported.stdout == f"Exported 11 turns to {out}\n"
    with out.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert sum(int(r["input_tokens"]) for r in rows) == 1325
    assert sum(int(r["output_tokens"]) for r in rows) == 221


def test_reads_see_what_the_server_acknowledged_and_leave_it_writing(served: tuple[ServeProcess, Path]) -> None:
    process, data = served
    with httpx.Client(base_url=process.url) as http:
        body = request(*turn("s-late", start_s=0, input_tokens=7, output_tokens=3))
        assert http.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
        late = json.loads(cli("sessions", "show", "s-late", "--json", "--data-dir", str(data)).stdout)
        assert (late["turn_count"], late["input_tokens"], late["output_tokens"]) == (1, 7, 3)
        again = request(*turn("s-late", start_s=10, input_tokens=5, output_tokens=1))
        assert http.post("/v1/traces", content=again, headers=PROTOBUF).status_code == 200
        assert http.get("/api/v1/sessions/s-late").json()["turn_count"] == 2
    assert json.loads(cli("sessions", "show", "s-late", "--json", "--data-dir", str(data)).stdout)["turn_count"] == 2


def test_the_database_is_read_with_the_salt_in_the_environment(served: tuple[ServeProcess, Path]) -> None:
    process, data = served
    hashed = hash_user_id("carol@example.com", salt="app-salt")
    with httpx.Client(base_url=process.url) as http:
        body = request(*turn("s-carol", start_s=0, user_id=hashed))
        assert http.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
    args = ["sessions", "list", "--json", "--user", "carol@example.com", "--data-dir", str(data)]
    salted = CliRunner(env={**CLEAN_ENV, "THREADLINE_USER_ID_SALT": "app-salt"}).invoke(main, args)
    unsalted = CliRunner(env={**CLEAN_ENV, "THREADLINE_USER_ID_SALT": None}).invoke(main, args)
    assert [s["session_id"] for s in json.loads(salted.stdout)["sessions"]] == ["s-carol"]
    assert json.loads(unsalted.stdout)["sessions"] == []


def test_a_data_dir_under_home_may_be_named_with_a_tilde(
    served: tuple[ServeProcess, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = served
    monkeypatch.setenv("HOME", str(data.parent))
    listed = json.loads(cli("sessions", "list", "--json", "--data-dir", f"~/{data.name}").stdout)
    assert "sess-tl-alpha" in {s["session_id"] for s in listed["sessions"]}
