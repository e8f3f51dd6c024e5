"""Cluster mode rehearsed on one node, run by ``test_cluster_rehearsal.py`` in a process of its own (chdb reads
its configuration file once per process, when its engine starts).

The engine is configured with a cluster of one shard on this node, and the servers run with
``--clickhouse-cluster``: every table is a ``Distributed`` table over its ``_local`` table, inserts and reads go
through the distributed tables with the cluster's settings, deletes go to the local tables. Two things need
ClickHouse Keeper, which no engine here runs: ``ON CLUSTER`` (distributed DDL) and the ``Replicated`` engines.
The cluster statements are the ones a real cluster gets with those two parts taken out
(``on_one_node``); everything else is what cluster mode does.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from integration.test_two_servers import assert_exact, interleaved, reference, send_at_once, view, workload
from support.server import ManualClock, run_server
from threadline.server.store.clickhouse import schema
from threadline.server.store.clickhouse.store import ClickHouseStore

CLUSTER = "rehearsal"
CONFIG = f"""<clickhouse>
    <tcp_port>9000</tcp_port>
    <remote_servers>
        <{CLUSTER}><shard><replica><host>localhost</host><port>9000</port></replica></shard></{CLUSTER}>
    </remote_servers>
</clickhouse>
"""
"""One shard on this node (the port is what makes ClickHouse see the replica as itself, and query it in
process)."""

_ON_CLUSTER = re.compile(r" ON CLUSTER '[^']*'")
_REPLICATED = re.compile(r"Replicated(\w+)\('/clickhouse/tables/[^']*', '\{replica\}'(?:, )?")


def on_one_node(statement: str) -> str:
    """A cluster statement without what needs Keeper: ``ON CLUSTER``, and the ``Replicated`` engine (its
    Keeper path and replica name: the engine's own arguments stay)."""
    return _REPLICATED.sub(r"\1(", _ON_CLUSTER.sub("", statement))


@pytest.fixture
def one_node(monkeypatch: pytest.MonkeyPatch) -> None:
    render, deletable, migrations_table = schema.Schema.render, schema.Schema.deletable, schema.Schema.migrations_table
    monkeypatch.setattr(schema.Schema, "render", lambda self, script: [on_one_node(s) for s in render(self, script)])
    monkeypatch.setattr(schema.Schema, "deletable", lambda self, table: on_one_node(deletable(self, table)))
    monkeypatch.setattr(
        schema.Schema, "migrations_table", lambda self: [on_one_node(s) for s in migrations_table(self)]
    )


def test_two_servers_on_a_one_shard_cluster(tmp_path: Path, one_node: None) -> None:
    config = tmp_path / "cluster.xml"
    config.write_text(CONFIG)
    url = f"chdb://{tmp_path / 'clickhouse'}?config-file={config}"
    clock = ManualClock()
    spans = workload()
    expected = reference(tmp_path, spans, clock)
    assert_exact(expected)
    with (
        run_server(tmp_path / "a", clock=clock, store=ClickHouseStore(url, cluster=CLUSTER)) as first,
        run_server(tmp_path / "b", clock=clock, store=ClickHouseStore(url, cluster=CLUSTER)) as second,
    ):
        conn = first.runtime.store.conn  # type: ignore[attr-defined]
        engines = dict(conn.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()"))
        assert engines["sessions"] == engines["spans"] == "Distributed"
        assert engines["sessions_local"] == "ReplacingMergeTree"
        assert conn.query(f"SELECT count() FROM system.clusters WHERE cluster = '{CLUSTER}' AND is_local")[0][0] == 1

        send_at_once((first.url, second.url), interleaved(spans, seed=5))
        assert view(first.url) == view(second.url) == expected

        erased = expected["sessions"][0]["session_id"]
        assert httpx.delete(f"{first.url}/api/v1/sessions/{erased}", timeout=30).status_code == 200
        after = view(second.url)
        assert erased not in after["details"]
        assert after["stats"]["session_count"] == expected["stats"]["session_count"] - 1
        assert after["stats"]["span_count"] < expected["stats"]["span_count"]
        assert view(first.url) == after
