"""DELETE a session or a user: everything stored for them is gone and every rollup is corrected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request
from support.scenario import Session
from support.server import ManualClock, RunningServer, run_server

pytestmark = pytest.mark.both_engines


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock) -> Iterator[RunningServer]:
    with run_server(tmp_path / "data", clock=clock) as running:
        yield running


def seed(client: httpx.Client) -> None:
    Session("s-a1", user_id="alice").turn(0).turn(60).send(client)
    Session("s-a2", user_id="alice").turn(500, input_tokens=300).send(client)
    Session("s-b1", user_id="bob").turn(100).turn(160).turn(220).send(client)
    orphan = SpanSpec(new_trace_id(), name="batch job", attributes={"user.id": "alice"})
    assert client.post("/v1/traces", content=request(orphan), headers=PROTOBUF).status_code == 200


def test_deleting_a_session_removes_it_and_corrects_its_user(server: RunningServer) -> None:
    with server.client() as client:
        seed(client)
        trace_id = client.get("/api/v1/sessions/s-a1").json()["turns"][0]["trace_ids"][0]
        before = client.get("/api/v1/stats").json()
        response = client.delete("/api/v1/sessions/s-a1")
        assert response.status_code == 200
        assert response.json() == {"erased": {"sessions": ["s-a1"], "traces": 2, "spans": 4}}
        assert client.get("/api/v1/sessions/s-a1").status_code == 404
        assert client.get(f"/api/v1/traces/{trace_id}").status_code == 404
        stats = client.get("/api/v1/stats").json()
        alice = client.get("/api/v1/users/alice").json()
    assert stats == {**before, "span_count": before["span_count"] - 4, "trace_count": before["trace_count"] - 2,
                     "session_count": before["session_count"] - 1}  # fmt: skip
    assert (alice["session_count"], alice["turn_count"], alice["input_tokens"]) == (1, 1, 300)
    assert [s["session_id"] for s in alice["recent_sessions"]] == ["s-a2"]


def test_deleting_a_user_removes_their_sessions_and_orphan_traces(server: RunningServer) -> None:
    with server.client() as client:
        seed(client)
        response = client.delete("/api/v1/users/alice")
        assert response.status_code == 200
        assert response.json() == {"erased": {"sessions": ["s-a1", "s-a2"], "traces": 4, "spans": 7}}
        assert client.get("/api/v1/users/alice").status_code == 404
        assert client.get("/api/v1/sessions", params={"user_id": "alice"}).json()["sessions"] == []
        assert client.get("/api/v1/traces", params={"orphan": "true"}).json()["traces"] == []
        stats = client.get("/api/v1/stats").json()
        bob = client.get("/api/v1/users/bob").json()
    assert stats == {"span_count": 6, "trace_count": 3, "session_count": 1, "orphan_trace_count": 0, "user_count": 1}
    assert bob["session_count"] == 1


def test_erasing_what_does_not_exist_is_404(server: RunningServer) -> None:
    with server.client() as client:
        missing_session = client.delete("/api/v1/sessions/nope")
        missing_user = client.delete("/api/v1/users/nobody")
    assert missing_session.status_code == missing_user.status_code == 404
    assert missing_session.json()["error"]["code"] == "not_found"


def test_log_events_of_an_erased_session_are_gone_too(server: RunningServer) -> None:
    session = Session("s-logs", user_id="carol").turn(0)
    trace_id, llm_span = session.spans[1].trace_id, session.spans[1].span_id
    logs = ExportLogsServiceRequest()
    record = (
        logs.resource_logs.add()
        .scope_logs.add()
        .log_records.add(trace_id=trace_id, span_id=llm_span, time_unix_nano=5, event_name="gen_ai.user.message")
    )
    record.body.string_value = "my card number is 4111..."
    with server.client() as client:
        session.send(client)
        assert client.post("/v1/logs", content=logs.SerializeToString(), headers=PROTOBUF).status_code == 200
        assert client.delete("/api/v1/sessions/s-logs").status_code == 200
        # The same ids sent again start from nothing: no stale state survives in caches or tables.
        Session("s-logs", user_id="carol").turn(0).send(client)
        again = client.get("/api/v1/sessions/s-logs").json()
        trace = client.get(f"/api/v1/traces/{again['turns'][0]['trace_ids'][0]}").json()
    assert again["turn_count"] == 1
    assert all(not span["events"] for root in trace["spans"] for span in [root, *root["children"]])


def test_a_user_rebuilt_from_saturated_sessions_stays_an_integer(tmp_path: Path, engine_kind: str) -> None:
    """Sums saturate at int64 when a user's rollup is rebuilt (SQL's sum() would raise instead)."""
    if engine_kind != "sqlite":
        pytest.skip("rebuilds a user's rollup with the SQLite engine's own SQL on its file")
    import sqlite3

    from threadline.server.store.sqlite import erase
    from threadline.server.store.sqlite.db import database_path

    with run_server(tmp_path / "data") as running, running.client() as client:
        seed(client)
    conn = sqlite3.connect(database_path(tmp_path / "data"))
    conn.execute("UPDATE sessions SET input_tokens = 9223372036854775807 WHERE user_id = 'alice'")
    assert erase.recompute_user(conn, 1, "alice") is False
    tokens, kind = conn.execute(
        "SELECT input_tokens, typeof(input_tokens) FROM users WHERE user_id = 'alice'"
    ).fetchone()
    conn.close()
    assert (tokens, kind) == (9223372036854775807, "integer")
