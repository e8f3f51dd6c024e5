"""User rollups: totals, retention, returning users, orderings and pagination; user ids given before hashing."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_stream import listen

from support.scenario import Session
from support.server import ManualClock, run_server
from threadline import hash_user_id
from threadline.server.settings import SETTINGS

pytestmark = pytest.mark.both_engines

DAY = 86_400


def test_user_rollups_and_orderings(tmp_path: Path, clock: ManualClock) -> None:
    with run_server(tmp_path / "data", clock=clock) as server, server.client() as client:
        Session("s-1", user_id="ann").turn(0, cost_usd=0.01).turn(60, cost_usd=0.02).send(client)
        Session("s-2", user_id="ann").turn(3 * DAY, cost_usd=0.03).send(client)
        Session("s-3", user_id="ben").turn(DAY, cost_usd=0.5).turn(DAY + 60).turn(DAY + 120).send(client)
        Session("s-4", user_id="cid").turn(2 * DAY, model="unknown-model-x").send(client)
        ann = client.get("/api/v1/users/ann").json()
        by_cost = client.get("/api/v1/users", params={"ordering": "-total_cost"}).json()["users"]
        by_first = client.get("/api/v1/users", params={"ordering": "first_seen"}).json()["users"]
        returning = client.get("/api/v1/users", params={"returning": "true"}).json()["users"]
        page1 = client.get("/api/v1/users", params={"limit": 2}).json()
        page2 = client.get("/api/v1/users", params={"limit": 2, "cursor": page1["next_cursor"]}).json()
        bad = client.get("/api/v1/users", params={"ordering": "cost"})
    assert ann["session_count"] == 2
    assert ann["turn_count"] == 3
    assert ann["avg_turns_per_session"] == 1.5
    assert ann["total_cost_usd"] == 0.06
    assert ann["returning"] is True
    assert ann["retention_days"] == (3 * DAY + 2) / DAY
    assert [s["session_id"] for s in ann["recent_sessions"]] == ["s-2", "s-1"]
    assert [u["user_id"] for u in by_cost] == ["ben", "ann", "cid"]  # an unpriced user sorts as the cheapest
    assert by_cost[2]["total_cost_usd"] is None
    assert [u["user_id"] for u in by_first] == ["ann", "ben", "cid"]
    assert [u["user_id"] for u in returning] == ["ann"]
    assert [u["user_id"] for u in page1["users"] + page2["users"]] == ["ann", "cid", "ben"]
    assert page2["next_cursor"] is None
    assert bad.status_code == 400
    assert "session_count" in bad.json()["error"]["message"]


def test_a_user_id_is_matched_as_given_and_hashed_with_the_servers_salt(tmp_path: Path) -> None:
    hashed = hash_user_id("alice@example.com", salt="app-salt")
    with run_server(tmp_path / "data", user_id_salt="app-salt") as server, server.client() as client:
        Session("s-alice", user_id=hashed).turn(0).send(client)
        Session("s-plain", user_id="bob").turn(10).send(client)
        by_raw = client.get("/api/v1/sessions", params={"user_id": "alice@example.com"}).json()["sessions"]
        by_hash = client.get("/api/v1/sessions", params={"user_id": hashed}).json()["sessions"]
        plain = client.get("/api/v1/sessions", params={"user_id": "bob"}).json()["sessions"]
        user = client.get("/api/v1/users/alice@example.com")
        analytics = client.get("/api/v1/analytics/sessions", params={"user_id": "alice@example.com"}).json()
        journeys = client.get("/api/v1/analytics/journeys", params={"user_id": "alice@example.com"})
        nobody = client.get("/api/v1/users/carol@example.com")
        erased = client.delete("/api/v1/users/alice@example.com")
        after = client.get("/api/v1/sessions").json()["sessions"]
    assert [s["session_id"] for s in by_raw] == [s["session_id"] for s in by_hash] == ["s-alice"]
    assert [s["session_id"] for s in plain] == ["s-plain"]
    assert user.status_code == 200
    assert user.json()["user_id"] == hashed
    assert [s["session_id"] for s in user.json()["recent_sessions"]] == ["s-alice"]
    assert analytics["session_count"] == 1
    assert journeys.status_code == 200
    assert nobody.status_code == 404
    assert "hashed with the server's user_id_salt" in nobody.json()["error"]["message"]
    assert erased.json()["erased"]["sessions"] == ["s-alice"]
    assert [s["session_id"] for s in after] == ["s-plain"]


def test_without_the_salt_only_the_stored_form_matches(tmp_path: Path) -> None:
    hashed = hash_user_id("alice@example.com", salt="app-salt")
    with run_server(tmp_path / "data") as server, server.client() as client:
        Session("s-alice", user_id=hashed).turn(0).send(client)
        by_raw = client.get("/api/v1/sessions", params={"user_id": "alice@example.com"}).json()["sessions"]
        by_hash = client.get("/api/v1/sessions", params={"user_id": hashed}).json()["sessions"]
    assert by_raw == []
    assert [s["session_id"] for s in by_hash] == ["s-alice"]


def test_the_stream_follows_a_user_by_the_id_the_application_knows(tmp_path: Path) -> None:
    hashed = hash_user_id("alice@example.com", salt="app-salt")
    with (
        run_server(tmp_path / "data", user_id_salt="app-salt") as server,
        server.client() as client,
        listen(server, user_id="alice@example.com") as events,
    ):
        Session("s-bob", user_id="bob").turn(0).send(client)
        Session("s-alice", user_id=hashed).turn(5).send(client)
        event, data = events.get(timeout=10)
    assert (event, data["session_id"], data["user_id"]) == ("session", "s-alice", hashed)


def test_the_salt_is_a_server_setting_read_from_the_sdks_variable() -> None:
    (setting,) = [s for s in SETTINGS if s.name == "user_id_salt"]
    assert (setting.env, setting.default, setting.flag) == ("THREADLINE_USER_ID_SALT", "", "--user-id-salt")
