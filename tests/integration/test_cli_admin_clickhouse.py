"""``threadline projects`` and ``threadline keys`` on a ClickHouse store directly (``--clickhouse-url``): how
the first key of servers sharing ClickHouse is made. Keys are hashed with the servers' secret, so a key made
on the store works on a server started with that secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from support import server as servers
from support.scenario import Session
from support.server import run_server
from threadline.server.cli.main import main as cli

SECRET = "shared-by-every-server"


def test_a_key_made_on_the_store_works_on_a_server_sharing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    store = ["--clickhouse-url", servers.clickhouse_url(data_dir)]
    runner = CliRunner(env={"THREADLINE_SECRET_KEY": SECRET})
    made = runner.invoke(cli, ["projects", "create", "team", *store])
    assert made.exit_code == 0, made.output
    created = runner.invoke(cli, ["keys", "create", "--project", "team", "--name", "ops", *store])
    assert created.exit_code == 0, created.output
    key = created.stdout.splitlines()[-1]
    listed = runner.invoke(cli, ["keys", "list", "--project", "team", *store])
    assert key[:19] in listed.stdout
    assert "ops" in listed.stdout

    monkeypatch.setattr(servers, "engine", "clickhouse")
    with run_server(data_dir, auth=True, secret_key=SECRET) as server, server.client() as client:
        client.headers["Authorization"] = f"Bearer {key}"
        Session("s-team", user_id="ann").turn(0).send(client)
        assert [s["session_id"] for s in client.get("/api/v1/sessions").json()["sessions"]] == ["s-team"]
        assert runner.invoke(cli, ["keys", "revoke", key[:19], *store]).exit_code == 0
        server.runtime.authenticator.forget()  # type: ignore[union-attr]
        assert client.get("/api/v1/sessions").status_code == 401


def test_a_clickhouse_server_needs_the_servers_secret(tmp_path: Path) -> None:
    refused = CliRunner(env={"THREADLINE_SECRET_KEY": ""}).invoke(
        cli, ["keys", "create", "--project", "default", "--clickhouse-url", "http://127.0.0.1:9/threadline"]
    )
    assert refused.exit_code == 1
    assert "THREADLINE_SECRET_KEY" in refused.output
    assert "Traceback" not in refused.output


def test_a_cluster_needs_a_url() -> None:
    refused = CliRunner().invoke(cli, ["keys", "list", "--clickhouse-cluster", "prod"])
    assert refused.exit_code == 2
    assert "--clickhouse-cluster needs --clickhouse-url" in refused.output
