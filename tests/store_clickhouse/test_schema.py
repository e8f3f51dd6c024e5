"""Migrations, cluster rendering, and how opening fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from threadline.server.store.base import StoreUnavailable
from threadline.server.store.clickhouse import connection, schema
from threadline.server.store.clickhouse.schema import MIGRATIONS_TABLE, Schema
from threadline.server.store.clickhouse.store import ClickHouseStore

SHARD_KEYS = {
    "spans": "cityHash64(trace_id)",
    "traces": "cityHash64(trace_id)",
    "session_traces": "cityHash64(session_id)",
    "sessions": "cityHash64(session_id)",
}


def test_migrations_are_applied_once_and_recorded(ch_path: Path) -> None:
    store = ClickHouseStore(f"chdb://{ch_path}")
    try:
        rows = store.conn.query(f"SELECT version, name FROM {MIGRATIONS_TABLE} ORDER BY version")
        assert [r[0] for r in rows] == [m.version for m in schema.migrations()]
        assert schema.migrate(store.conn, store.schema) == []  # nothing pending
        assert [p.name for p in store.projects()] == ["default"]
        assert store.project_by_id(1) is not None
    finally:
        store.close()
    again = ClickHouseStore(f"chdb://{ch_path}")  # a second open (another server) changes nothing
    try:
        assert [p.id for p in again.projects()] == [1]
        assert again.conn.query(f"SELECT count() FROM {MIGRATIONS_TABLE}")[0][0] == len(schema.migrations())
    finally:
        again.close()


def test_single_server_statements_are_the_scripts() -> None:
    statements = Schema("db").render(schema.migrations()[0].sql)
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    assert len(creates) == 9
    assert all("Replicated" not in s and "ON CLUSTER" not in s for s in statements)
    assert all("--" not in s for s in statements)


def test_cluster_mode_renders_replicated_local_tables_and_distributed_ones() -> None:
    statements = Schema("tl", cluster="prod").render(schema.migrations()[0].sql)
    locals_ = {re.search(r"TABLE IF NOT EXISTS (\w+)_local", s)[1]: s for s in statements if "_local ON CLUSTER" in s}  # type: ignore[index]
    assert set(SHARD_KEYS) <= set(locals_)
    spans = locals_["spans"]
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/spans_local', '{replica}')"
        in spans
    )
    assert "ORDER BY (project_id, trace_id, span_id, item, event_time, event_name, digest)" in spans
    assert "PARTITION BY" in spans
    sessions = locals_["sessions"]
    assert (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/sessions_local', '{replica}', version)"
        in sessions
    )
    for table, key in SHARD_KEYS.items():
        distributed = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER"))
        assert distributed.endswith(f"AS {table}_local ENGINE = Distributed('prod', 'tl', '{table}_local', {key})")
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert len(inserts) == 1  # the default project, through the distributed table
    assert Schema("tl", cluster="prod").deletable("spans") == "spans_local ON CLUSTER 'prod'"
    first = Schema("tl", cluster="prod").migrations_table()
    assert first[0] == "CREATE DATABASE IF NOT EXISTS tl ON CLUSTER 'prod'"  # on every node, before any table
    assert any("_local ON CLUSTER 'prod'" in s for s in first)
    assert not any("DATABASE" in s for s in Schema("tl").migrations_table())


def test_a_bad_cluster_name_is_refused() -> None:
    with pytest.raises(StoreUnavailable):
        Schema("tl", cluster="a'; DROP")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:s3cret@127.0.0.1:1/threadline", "http://admin:***@127.0.0.1:1/threadline"),
        ("ftp://somewhere", "unsupported ClickHouse URL"),
        ("http://127.0.0.1:1/bad-name!", "bad ClickHouse database name"),
        ("chdb://", "chdb:// needs a directory"),
    ],
)
def test_opening_fails_with_one_line(url: str, shown: str) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        ClickHouseStore(url)
    message = str(raised.value)
    assert shown in message
    assert "\n" not in message
    assert "s3cret" not in message


def test_a_read_only_store_needs_a_current_schema(ch_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="start a writing server"):
        ClickHouseStore(f"chdb://{ch_path}", read_only=True)


def test_every_cluster_statement_parses_in_the_engine(ch_path: Path) -> None:
    """No cluster runs here: the engine parses each statement cluster mode sends (a typo fails here, not on
    the first deployment)."""
    cluster = Schema("tl", cluster="prod")
    statements = [
        *cluster.migrations_table(),
        *(s for m in schema.migrations() for s in cluster.render(m.sql)),
        *(f"DELETE FROM {cluster.deletable(t)} WHERE session_id IN ('s')" for t in ("sessions", "session_traces")),
    ]
    store = ClickHouseStore(f"chdb://{ch_path}")
    try:
        for statement in statements:
            assert store.conn.query(f"EXPLAIN AST {statement}"), statement
        with pytest.raises(Exception, match="Syntax error"):
            store.conn.query("EXPLAIN AST CREATE TABLE x ON CLUSTER 'prod' (a UInt64) ENGINE = MergeTree( ORDER BY a")
    finally:
        store.close()


def test_a_chdb_url_may_name_a_database_and_a_configuration_file() -> None:
    target = connection.parse("chdb:///var/lib/tl?database=tl&config-file=/etc/tl/cluster.xml")
    assert (target.chdb_path, target.database, target.chdb_config) == ("/var/lib/tl", "tl", "/etc/tl/cluster.xml")
    assert connection.parse("chdb://here").chdb_config is None
    with pytest.raises(StoreUnavailable, match="config-file=FILE"):
        connection.parse("chdb://here?threads=4")
