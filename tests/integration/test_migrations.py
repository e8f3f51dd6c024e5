"""Numbered migrations: applied in order at start-up, once, and refused when the file is newer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from threadline.server.store.base import StoreUnavailable
from threadline.server.store.sqlite import db
from threadline.server.store.sqlite.store import SqliteStore


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    found = db.migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert all(m.name.startswith(f"{m.version:04d}_") for m in found)


def test_a_new_file_is_migrated_to_the_latest_version(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    store.close()
    conn = sqlite3.connect(db.database_path(tmp_path))
    assert db.schema_version(conn) == len(db.migrations())
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"spans", "traces", "turns", "sessions", "users", "project_counters"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrating_twice_applies_nothing(tmp_path: Path) -> None:
    conn = db.connect_writer(db.database_path(tmp_path))
    assert db.migrate(conn) == [m.name for m in db.migrations()]
    assert db.migrate(conn) == []


def test_each_migration_applies_on_top_of_the_previous_one(tmp_path: Path) -> None:
    conn = db.connect_writer(db.database_path(tmp_path))
    for migration in db.migrations():
        conn.executescript(migration.sql)
        conn.execute(f"PRAGMA user_version = {migration.version}")
    assert db.migrate(conn) == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_database_from_a_newer_threadline_is_refused(tmp_path: Path) -> None:
    conn = db.connect_writer(db.database_path(tmp_path))
    conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreUnavailable, match="newer than this Threadline"):
        db.migrate(conn)


def test_read_only_opening_needs_a_migrated_file(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no Threadline database at"):
        SqliteStore(tmp_path, read_only=True)
    SqliteStore(tmp_path).close()
    reader = SqliteStore(tmp_path, read_only=True)
    assert reader.stats(1).span_count == 0
    reader.close()


def test_a_read_only_reader_uses_the_idle_timeout_the_server_recorded(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from support.server import run_server
    from threadline.server.app import create_app
    from threadline.server.settings import Settings

    with run_server(tmp_path / "data", idle_timeout="90s"):
        pass
    reader = create_app(Settings(data_dir=tmp_path / "data"), read_only=True)
    with TestClient(reader):
        assert reader.state.runtime.idle_timeout_ns == 90 * 10**9
