"""User rollups: totals, retention, returning users, orderings and pagination."""

from __future__ import annotations

from pathlib import Path

from support.scenario import Session
from support.server import ManualClock, run_server

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
