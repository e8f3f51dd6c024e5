"""Two Threadline servers, one ClickHouse store: interleaved halves of the same sessions, sent to both at once
(a quarter of the requests retried on the other server, as a client does after a timeout), and both answer
exactly what one SQLite server fed every span in order answers.

With ``THREADLINE_TEST_CLICKHOUSE_URL`` (``http://user:password@host:8123``) the servers are two
``threadline serve`` processes on a real ClickHouse server, in a database of their own that the test drops
after. Without it that test is skipped, saying so, and the same interleaving goes through two servers in this
process whose stores share one chdb database: two writers, two caches, one engine (chdb opens a directory in
one process only).
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from support import server as servers
from support.otlp import PROTOBUF, SpanSpec, request
from support.process import serve
from support.scenario import Session
from support.server import ManualClock, run_server
from threadline.server.store.clickhouse import connection

CLICKHOUSE_URL = os.environ.get("THREADLINE_TEST_CLICKHOUSE_URL", "")
SESSIONS = 16
TURNS = 5


def workload() -> list[SpanSpec]:
    """Sessions of several users and turns, with failing tools and LLM calls, a session event, and costs."""
    spans: list[SpanSpec] = []
    for n in range(SESSIONS):
        session = Session(f"s-{n:02d}", user_id=f"user-{n % 5}")
        for t in range(TURNS - n % 3):
            session.turn(
                n * 10 + t * 90.0,
                question=f"question {t} of {n}",
                answer=f"answer {t} of {n}",
                input_tokens=100 * (t + 1) + n,
                output_tokens=20 + n,
                cost_usd=0.001 * (n + 1),
                tool_error="timeout" if (n + t) % 4 == 0 else None,
                llm_error="rate limited" if (n, t) == (3, 1) else None,
            )
        if n % 4 == 0:
            session.event(n * 10 + 1.0, {"threadline.session.action": "feedback", "feedback.score": 1})
        spans += session.spans
    return spans


def interleaved(spans: list[SpanSpec], seed: int) -> tuple[list[bytes], list[bytes]]:
    """Every span shuffled into requests of 1 to 4 spans, alternately for each server; a quarter of the
    requests are sent to both (a retry of a request whose answer was lost)."""
    rng = random.Random(seed)
    shuffled = spans[:]
    rng.shuffle(shuffled)
    halves: tuple[list[bytes], list[bytes]] = ([], [])
    index = 0
    while shuffled:
        size = rng.randint(1, 4)
        body = request(*shuffled[:size])
        shuffled = shuffled[size:]
        halves[index % 2].append(body)
        if rng.random() < 0.25:
            halves[(index + 1) % 2].append(body)
        index += 1
    return halves


def send_at_once(urls: tuple[str, str], halves: tuple[list[bytes], list[bytes]]) -> None:
    """Each half to its server, from two threads at the same time."""
    failures: list[str] = []

    def send(url: str, bodies: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for body in bodies:
                answer = client.post("/v1/traces", content=body, headers=PROTOBUF)
                if answer.status_code != 200:
                    failures.append(f"{url}: {answer.status_code} {answer.text}")

    threads = [threading.Thread(target=send, args=pair) for pair in zip(urls, halves, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


_MOVING = frozenset({"idle_time_ms"})
"""Fields that depend on the moment of the request, not on the data."""


def without(value: Any, keys: frozenset[str]) -> Any:
    """``value`` with the members named ``keys`` left out, at any depth."""
    if isinstance(value, dict):
        return {k: without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without(v, keys) for v in value]
    return value


def view(url: str) -> dict[str, Any]:
    """What a server shows of everything: stats, users, every session's summary and detail, every trace."""
    with httpx.Client(base_url=url, timeout=60) as client:
        sessions = client.get("/api/v1/sessions", params={"limit": 200}).json()["sessions"]
        details = {s["session_id"]: client.get(f"/api/v1/sessions/{s['session_id']}").json() for s in sessions}
        trace_ids = sorted({tid for d in details.values() for turn in d["turns"] for tid in turn["trace_ids"]})
        return without(
            {
                "stats": client.get("/api/v1/stats").json(),
                "users": client.get("/api/v1/users", params={"limit": 200}).json()["users"],
                "sessions": sorted(sessions, key=lambda s: s["session_id"]),
                "details": details,
                "traces": {tid: client.get(f"/api/v1/traces/{tid}").json() for tid in trace_ids},
            },
            _MOVING,
        )


def reference(tmp_path: Path, spans: list[SpanSpec], clock: ManualClock) -> dict[str, Any]:
    """What one SQLite server shows when it is sent every span, in order."""
    with run_server(tmp_path / "reference", clock=clock) as server, server.client() as client:
        for start in range(0, len(spans), 8):
            assert client.post("/v1/traces", content=request(*spans[start : start + 8]), headers=PROTOBUF).is_success
        return view(server.url)


def assert_exact(shown: dict[str, Any]) -> None:
    """The reference itself holds what was sent (so agreeing with it means being exact)."""
    assert shown["stats"]["session_count"] == SESSIONS
    assert shown["stats"]["orphan_trace_count"] == 0
    turns = sum(TURNS - n % 3 for n in range(SESSIONS))
    assert sum(s["turn_count"] for s in shown["sessions"]) == turns
    per_user = {f"user-{u}": len([n for n in range(SESSIONS) if n % 5 == u]) for u in range(5)}
    assert {u["user_id"]: u["session_count"] for u in shown["users"]} == per_user


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """``url`` with a database of its own, dropped after."""
    parts = urlsplit(url)
    database = f"threadline_test_{uuid.uuid4().hex[:12]}"
    mine = urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", ""))
    try:
        yield mine
    finally:
        conn = connection.acquire(urlunsplit((parts.scheme, parts.netloc, "/default", "", "")))
        try:
            conn.command(f"DROP DATABASE IF EXISTS {database}")
        finally:
            connection.release(conn)


@pytest.mark.skipif(
    not CLICKHOUSE_URL,
    reason="THREADLINE_TEST_CLICKHOUSE_URL is not set: no ClickHouse server to run two `threadline serve` "
    "processes against (test_two_servers_in_one_process_share_one_chdb_database runs the same interleaving)",
)
def test_two_server_processes_on_one_clickhouse_answer_identically_and_exactly(tmp_path: Path) -> None:
    spans = workload()
    expected = reference(tmp_path, spans, ManualClock())
    assert_exact(expected)
    with fresh_database(CLICKHOUSE_URL) as url, ExitStack() as stack:
        processes = [
            stack.enter_context(serve(tmp_path / name, "--store", "clickhouse", "--clickhouse-url", url))
            for name in ("a", "b")
        ]
        send_at_once((processes[0].url, processes[1].url), interleaved(spans, seed=11))
        first, second = view(processes[0].url), view(processes[1].url)
    # Another clock than the reference's: compare what does not depend on "now".
    assert _timeless(first) == _timeless(second) == _timeless(expected)


@pytest.mark.parametrize("seed", [1, 2])
def test_two_servers_in_one_process_share_one_chdb_database(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    spans = workload()
    expected = reference(tmp_path, spans, clock)
    assert_exact(expected)
    monkeypatch.setattr(servers, "engine", "clickhouse")
    with (
        run_server(tmp_path / "a", clock=clock, shared_with=tmp_path / "a") as first,
        run_server(tmp_path / "b", clock=clock, shared_with=tmp_path / "a") as second,
    ):
        assert first.settings.clickhouse_url == second.settings.clickhouse_url
        assert first.runtime.store is not second.runtime.store
        send_at_once((first.url, second.url), interleaved(spans, seed))
        assert view(first.url) == view(second.url) == expected


_NOW_DEPENDENT = frozenset({"status", "end_reason", "ended_at", "dropped_off", "abandoned", "dropoff"})


def _timeless(shown: dict[str, Any]) -> Any:
    """``shown`` without what a session's lifecycle derives from the reading server's clock."""
    return without(shown, _NOW_DEPENDENT)
