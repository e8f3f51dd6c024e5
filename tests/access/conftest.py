"""A server with --auth on, two projects and keys of every kind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.scenario import Session
from support.server import RunningServer, run_server
from threadline.server.auth import admin

SECRET = "a-test-secret"


@dataclass
class Secured:
    server: RunningServer
    keys: dict[str, str]
    """By role: full, read, ingest, revoked (of project default), other (a full key of project other)."""

    @property
    def url(self) -> str:
        return self.server.url


def make_key(server: RunningServer, project: str, scope: str, name: str = "") -> str:
    store = server.runtime.store
    return admin.create_key(store, SECRET.encode(), project, name, scope, time.time_ns()).key  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    data = tmp_path_factory.mktemp("secured") / "data"
    with run_server(Path(data), auth=True, secret_key=SECRET) as server:
        store = server.runtime.store
        admin.create_project(store, "other", time.time_ns())
        keys = {role: make_key(server, "default", scope) for role, scope in
                (("full", "full"), ("read", "read"), ("ingest", "ingest"), ("revoked", "full"))}  # fmt: skip
        keys["other"] = make_key(server, "other", "full")
        admin.revoke_key(store, keys["revoked"][:19], time.time_ns())
        with server.client() as client:
            client.headers["Authorization"] = f"Bearer {keys['full']}"
            Session("s-mine", user_id="ann").turn(0).send(client)
            client.headers["Authorization"] = f"Bearer {keys['other']}"
            Session("s-theirs", user_id="bob").turn(0).send(client)
        yield Secured(server, keys)
