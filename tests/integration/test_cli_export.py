"""``threadline export``: files parsed back (JSON Lines, CSV, Parquet), written whole or not at all."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_cli_data import ALL, api, cli, ok, one_error_line, seeded_server

from support.server import RunningServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with seeded_server(tmp_path_factory.mktemp("export")) as running:
        yield running


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
    message = one_error_line(cli("export", "--format", "jsonl", "-o", str(out), "--ordering", "x", "--url", server.url))
    assert message.startswith("Invalid value 'x' for 'ordering'")
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
