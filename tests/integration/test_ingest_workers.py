"""Trace requests decoded in worker processes (``--ingest-workers``): the same sessions as decoding on the
server's threads, refusals answered alike, and a worker that dies costs a 503 for the requests it held, never
an acknowledged span; the next request finds a fresh worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.otlp import PROTOBUF, request
from support.scenario import Session
from support.server import ManualClock, RunningServer, run_server
from threadline.server.ingest import handoff
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.prepare import Preparer


def sessions() -> list[Session]:
    out = []
    for n in range(6):
        session = Session(f"s-{n}", user_id=f"user-{n % 2}")
        for t in range(3):
            session.turn(
                n * 10 + t * 60.0, input_tokens=100 + t, output_tokens=20, tool_error="boom" if t == 1 else None
            )
        out.append(session)
    return out


def view(server: RunningServer) -> dict[str, Any]:
    with server.client() as client:
        listed = client.get("/api/v1/sessions", params={"limit": 50}).json()["sessions"]
        return {
            "stats": client.get("/api/v1/stats").json(),
            "sessions": {s["session_id"]: client.get(f"/api/v1/sessions/{s['session_id']}").json() for s in listed},
        }


def test_the_handoff_gives_back_what_the_worker_prepared() -> None:
    spans = [span for session in sessions() for span in session.spans]
    prepared = Preparer().prepare(decode_protobuf(request(*spans)).spans)
    back = handoff.unpack(handoff.pack(handoff.Prepared(prepared, 2, ("a reason",))))
    assert back.items == prepared
    assert (back.rejected, back.reasons) == (2, ("a reason",))
    assert len({id(span.resource) for span, _ in back.items}) == 1  # shared, as decoded


def test_workers_give_the_same_sessions_as_threads(tmp_path: Path) -> None:
    clock = ManualClock()
    bodies = [request(*session.spans) for session in sessions()]
    shown = []
    for workers in (0, 1):
        with run_server(tmp_path / f"w{workers}", clock=clock, ingest_workers=workers) as server:
            assert (server.runtime.decoders is None) == (workers == 0)
            with server.client() as client:
                for body in bodies:
                    assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
            shown.append(view(server))
    assert shown[0] == shown[1]
    assert shown[0]["stats"]["session_count"] == 6


def test_refusals_come_back_from_the_worker(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", ingest_workers=1) as server, server.client() as client:
        bad = client.post("/v1/traces", content=b"\x0a\xff\xff", headers=PROTOBUF)
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/x-protobuf")  # a google.rpc.Status
        as_json = {"Content-Type": "application/json"}
        json_bad = client.post("/v1/traces", content=b'{"resourceSpans": [', headers=as_json)
        assert json_bad.status_code == 400
        assert json_bad.json()["error"]["code"]
        span = {"traceId": "00" * 16, "spanId": "11" * 8, "name": "no trace", "startTimeUnixNano": "1"}
        partial = client.post("/v1/traces", json={"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
        assert partial.status_code == 200
        assert (
            partial.json()["partialSuccess"]["rejectedSpans"] == "1"
        )  # int64 as a string; counted in the worker, told here
        Session("s-after").turn(0).send(client)  # the worker is still there
        assert client.get("/api/v1/sessions/s-after").status_code == 200


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_request_costs_a_503_and_no_acknowledged_span(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", ingest_workers=1) as server:
        pool = server.runtime.decoders
        assert pool is not None
        deadline = time.monotonic() + 30
        while not pool.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        acknowledged: list[str] = []
        refused: list[httpx.Response] = []
        stop = threading.Event()

        def send(sender: int) -> None:
            with server.client() as client:
                n = 0
                while not stop.is_set():
                    session = Session(f"k-{sender}-{n}", user_id="u").turn(0).turn(60).turn(120)
                    answer = client.post("/v1/traces", content=request(*session.spans), headers=PROTOBUF)
                    if answer.status_code == 200:
                        acknowledged.append(session.session_id)
                    else:
                        refused.append(answer)
                    n += 1

        senders = [threading.Thread(target=send, args=(i,)) for i in range(3)]
        for sender in senders:
            sender.start()
        while len(acknowledged) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        for pid in pool.pids():
            os.kill(pid, signal.SIGKILL)
        while pool.replaced == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = len(acknowledged)
        while len(acknowledged) < before + 20 and time.monotonic() < deadline:
            time.sleep(0.01)  # the new worker takes requests
        stop.set()
        for sender in senders:
            sender.join(30)
        assert pool.replaced == 1
        assert len(acknowledged) >= before + 20
        assert refused, "the requests the worker held were refused"
        assert {r.status_code for r in refused} == {503}
        assert all(r.headers.get("Retry-After") for r in refused)
        with server.client() as client:
            stored = {s["session_id"] for s in client.get("/api/v1/sessions", params={"limit": 500}).json()["sessions"]}
            assert set(acknowledged) <= stored
            for session_id in acknowledged[:: max(1, len(acknowledged) // 10)]:
                assert client.get(f"/api/v1/sessions/{session_id}").json()["turn_count"] == 3
