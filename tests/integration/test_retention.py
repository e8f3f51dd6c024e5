"""Retention: sessions and orphan traces older than a project's ``retention_days`` are removed in small
batches, with every rollup, user and counter kept exact; a project without retention is untouched."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request
from support.scenario import Session
from support.server import ManualClock, RunningServer, run_server
from threadline.server.api.params import iso
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.writer import Writer
from threadline.server.live import LiveUpdates
from threadline.server.retention import Batches, Removed, enforce_retention, retention_round
from threadline.server.store.base import Project
from threadline.server.store.sqlite.db import database_path
from threadline.server.store.sqlite.store import SqliteStore

pytestmark = pytest.mark.both_engines

DAY = 86_400
NOW = 100 * DAY
"""The server's "now", in seconds after ``BASE_NS``; with 30 days of retention the cutoff is day 70."""
CUTOFF = 70 * DAY

EXPIRED = {  # session -> (user, start of each turn, in seconds): last activity before the cutoff
    "a-1": ("alice", [1 * DAY, 1 * DAY + 60]),
    "b-1": ("bob", [3 * DAY]),
    "d-1": ("dave", [7 * DAY]),
    "a-2": ("alice", [12 * DAY]),
    "d-2": ("dave", [20 * DAY, 20 * DAY + 300]),
    "b-2": ("bob", [33 * DAY]),
    "d-3": ("dave", [45 * DAY]),
    "a-3": ("alice", [50 * DAY]),
    "d-4": ("dave", [60 * DAY]),
    "b-3": ("bob", [CUTOFF - 10]),
}
KEPT = {
    "a-9": ("alice", [95 * DAY]),
    "c-1": ("carol", [CUTOFF + 10]),  # just after the cutoff
    "c-2": ("carol", [99 * DAY]),
    "e-1": ("erin", [40 * DAY, 75 * DAY]),  # started long ago, active since the cutoff
}
OLD_ORPHAN, NEW_ORPHAN = 2 * DAY, 98 * DAY


def send_sessions(client: httpx.Client, sessions: dict[str, tuple[str, list[int]]]) -> None:
    for n, (session_id, (user_id, starts)) in enumerate(sessions.items()):
        session = Session(session_id, user_id=user_id)
        for start in starts:
            session.turn(start, input_tokens=100 + n, output_tokens=10 + n, cost_usd=0.001 * (n + 1))
        session.send(client)


def send_orphan(client: httpx.Client, start_s: int) -> str:
    trace_id = new_trace_id()
    orphan = SpanSpec(trace_id, name="batch job", start_s=start_s, end_s=start_s + 1)
    assert client.post("/v1/traces", content=request(orphan), headers=PROTOBUF).status_code == 200
    return trace_id.hex()


def seed_other_project(server: RunningServer, now_ns: int) -> int:
    """A second project, without retention, holding old sessions (written through the stitcher)."""
    rt = server.runtime
    project = rt.store.create_project("other", now_ns)
    session = Session("z-1", user_id="zoe").turn(1 * DAY).turn(2 * DAY)
    spans = [*session.spans, SpanSpec(new_trace_id(), name="old orphan", start_s=OLD_ORPHAN)]
    items = rt.preparer.prepare(decode_protobuf(request(*spans)).spans)
    rt.writer.submit(project.id, items).result(timeout=10)
    return project.id


def set_retention(server: RunningServer, project_id: int, days: int | None) -> None:
    store = server.runtime.store
    project = store.project_by_id(project_id)
    assert project is not None
    store.update_project(dataclasses.replace(project, retention_days=days))


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock) -> Iterator[RunningServer]:
    clock.advance(NOW)
    with run_server(tmp_path / "data", clock=clock) as running:
        yield running


class CallSpy:
    """Counts the writer tasks (one transaction each); ``before`` runs before the n-th is queued."""

    def __init__(self, writer: Writer, before: Callable[[int], None] | None = None) -> None:
        self.calls = 0
        self._call = writer.call
        self._before = before

    def __call__(self, task: Callable[..., Any]) -> Future[Any]:
        self.calls += 1
        if self._before is not None:
            self._before(self.calls)
        return self._call(task)


def run_round(server: RunningServer, size: int = 3) -> dict[int, Removed]:
    rt = server.runtime
    return asyncio.run(retention_round(rt.store, rt.writer, rt.live, rt.clock, Batches(size=size, pause_s=0)))


# --- recounts from the SQLite file -------------------------------------------------------------------


@contextmanager
def database(server: RunningServer) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"{database_path(server.settings.data_dir).absolute().as_uri()}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def recount(conn: sqlite3.Connection, project_id: int) -> dict[str, int]:
    """What ``/api/v1/stats`` must say, counted from the rows."""

    def count(sql: str) -> int:
        return int(conn.execute(sql, (project_id,)).fetchone()[0])

    return {
        "span_count": count("SELECT count(*) FROM spans JOIN traces t ON t.pk = trace_pk WHERE t.project_id = ?"),
        "trace_count": count("SELECT count(*) FROM traces WHERE project_id = ?"),
        "session_count": count("SELECT count(*) FROM sessions WHERE project_id = ?"),
        "orphan_trace_count": count("SELECT count(*) FROM traces WHERE project_id = ? AND session_pk IS NULL"),
        "user_count": count("SELECT count(DISTINCT user_id) FROM sessions WHERE project_id = ? AND user_id != ''"),
    }


USER_FIELDS = (
    "session_count", "turn_count", "trace_count", "error_count", "input_tokens", "output_tokens", "total_cost_usd",
    "first_seen", "last_seen",
)  # fmt: skip
SESSION_FIELDS = ("turn_count", "trace_count", "span_count")


def users_recounted(conn: sqlite3.Connection, project_id: int) -> dict[str, dict[str, Any]]:
    """Every user's rollup, recounted from their remaining sessions (as the API presents it)."""
    rows = conn.execute(
        "SELECT user_id, count(*), sum(turn_count), sum(trace_count), sum(error_count), sum(input_tokens), "
        "sum(output_tokens), sum(total_cost_usd), min(first_ns), max(last_ns) FROM sessions "
        "WHERE project_id = ? AND user_id != '' GROUP BY user_id",
        (project_id,),
    )
    return {
        r[0]: {
            **dict(zip(USER_FIELDS[:6], r[1:7], strict=True)),
            "total_cost_usd": pytest.approx(r[7]),
            "first_seen": iso(r[8]),
            "last_seen": iso(r[9]),
        }
        for r in rows
    }


def sessions_recounted(conn: sqlite3.Connection, project_id: int) -> dict[str, dict[str, int]]:
    """Every session's turns, traces and spans, counted from their rows."""
    rows = conn.execute(
        "SELECT s.session_id, (SELECT count(*) FROM turns WHERE session_pk = s.pk), "
        "(SELECT count(*) FROM traces WHERE session_pk = s.pk), "
        "(SELECT count(*) FROM spans JOIN traces t ON t.pk = trace_pk WHERE t.session_pk = s.pk) "
        "FROM sessions s WHERE s.project_id = ?",
        (project_id,),
    )
    return {r[0]: {"turn_count": r[1], "trace_count": r[2], "span_count": r[3]} for r in rows}


def dangling_rows(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows whose session or trace is gone (none may be left behind)."""
    checks = {
        "spans": "SELECT count(*) FROM spans WHERE trace_pk NOT IN (SELECT pk FROM traces)",
        "traces": "SELECT count(*) FROM traces WHERE session_pk IS NOT NULL AND session_pk NOT IN "
        "(SELECT pk FROM sessions)",
        "turns": "SELECT count(*) FROM turns WHERE session_pk NOT IN (SELECT pk FROM sessions)",
        "session_models": "SELECT count(*) FROM session_models WHERE session_pk NOT IN (SELECT pk FROM sessions)",
        "session_journeys": "SELECT count(*) FROM session_journeys WHERE session_pk NOT IN (SELECT pk FROM sessions)",
        "users": "SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM sessions s "
        "WHERE s.project_id = u.project_id AND s.user_id = u.user_id)",
    }
    return {table: n for table, sql in checks.items() if (n := conn.execute(sql).fetchone()[0])}


def recounted_through_the_api(client: httpx.Client) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """Stats and users recounted from what the API shows of each remaining session and orphan trace: a check
    that holds on any engine (each session's turns, traces and spans read from its detail and trace trees)."""
    sessions = client.get("/api/v1/sessions", params={"limit": 200}).json()["sessions"]
    orphans = client.get("/api/v1/traces", params={"orphan": "true", "limit": 200}).json()["traces"]
    span_count = sum(t["span_count"] for t in orphans)
    trace_count = len(orphans)
    for summary in sessions:
        detail = client.get(f"/api/v1/sessions/{summary['session_id']}").json()
        trace_ids = {trace_id for turn in detail["turns"] for trace_id in turn["trace_ids"]}
        spans = sum(client.get(f"/api/v1/traces/{trace_id}").json()["span_count"] for trace_id in trace_ids)
        assert {k: summary[k] for k in SESSION_FIELDS} == {
            "turn_count": len(detail["turns"]),
            "trace_count": len(trace_ids),
            "span_count": spans,
        }
        span_count, trace_count = span_count + spans, trace_count + len(trace_ids)
    users: dict[str, dict[str, Any]] = {}
    for summary in sessions:
        if not summary["user_id"]:
            continue
        user = users.setdefault(summary["user_id"], dict.fromkeys(USER_FIELDS[:6], 0) | {"total_cost_usd": 0.0})
        user["session_count"] += 1
        for field in USER_FIELDS[1:6]:
            user[field] += summary[field]
        user["total_cost_usd"] += summary["total_cost_usd"] or 0.0
        first, last = user.get("first_seen"), user.get("last_seen")
        user["first_seen"] = min(first or summary["first_activity"], summary["first_activity"])
        user["last_seen"] = max(last or summary["last_activity"], summary["last_activity"])
    for user in users.values():
        user["total_cost_usd"] = pytest.approx(user["total_cost_usd"])
    stats = {
        "span_count": span_count,
        "trace_count": trace_count,
        "session_count": len(sessions),
        "orphan_trace_count": len(orphans),
        "user_count": len(users),
    }
    return stats, users


def assert_exact(server: RunningServer, client: httpx.Client, other_project: int | None = None) -> None:
    """Stats, users and every session's rollup agree with a recount: from what the API shows of each session
    (any engine), and on SQLite from the remaining rows too, none of them left dangling."""
    stats = client.get("/api/v1/stats").json()
    users = client.get("/api/v1/users", params={"limit": 200}).json()["users"]
    sessions = client.get("/api/v1/sessions", params={"limit": 200}).json()["sessions"]
    shown = {u["user_id"]: {k: u[k] for k in USER_FIELDS} for u in users}
    assert (stats, shown) == recounted_through_the_api(client)
    if server.settings.store != "sqlite":
        return
    with database(server) as conn:
        assert stats == recount(conn, 1)
        assert shown == users_recounted(conn, 1)
        assert {s["session_id"]: {k: s[k] for k in SESSION_FIELDS} for s in sessions} == sessions_recounted(conn, 1)
        assert dangling_rows(conn) == {}
        if other_project is not None:
            assert dataclasses.asdict(server.runtime.store.stats(other_project)) == recount(conn, other_project)


@contextmanager
def deletions(server: RunningServer) -> Iterator[queue.Queue[str]]:
    """Subscribe to ``/api/v1/stream``; yields a queue of the session ids it reports deleted."""
    deleted: queue.Queue[str] = queue.Queue()
    connected, stop = threading.Event(), threading.Event()

    def read() -> None:
        with (
            httpx.Client(base_url=server.url, timeout=30) as client,
            client.stream("GET", "/api/v1/stream") as response,
        ):
            event = None
            for line in response.iter_lines():
                if line == ": connected":
                    connected.set()
                elif line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "deleted":
                    deleted.put(json.loads(line[6:])["session_id"])
                if stop.is_set():
                    return

    threading.Thread(target=read, daemon=True).start()
    assert connected.wait(10)
    try:
        yield deleted
    finally:
        stop.set()


# --- through a real server ---------------------------------------------------------------------------


def test_old_sessions_and_orphans_go_in_small_batches_and_every_rollup_stays_exact(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = server.runtime
    other = seed_other_project(server, rt.clock())
    with server.client() as client, deletions(server) as deleted:
        send_sessions(client, EXPIRED | KEPT)
        old_orphan, new_orphan = send_orphan(client, OLD_ORPHAN), send_orphan(client, NEW_ORPHAN)
        other_before = server.runtime.store.stats(other)
        set_retention(server, 1, 30)
        spy = CallSpy(rt.writer)
        monkeypatch.setattr(rt.writer, "call", spy)
        # ClickHouse re-checks an erasure through the writer 10 s later: not one of the round's transactions.
        monkeypatch.setattr("threadline.server.store.clickhouse.writer.RECHECK_S", 3600.0)

        removed = run_round(server, size=3)

        turns = sum(len(starts) for _, starts in EXPIRED.values())
        assert removed == {1: Removed(sessions=10, orphan_traces=1, traces=turns + 1, spans=2 * turns + 1)}
        assert spy.calls == 4 + 1  # sessions 3 + 3 + 3 + 1, then the orphan: one transaction each
        assert {deleted.get(timeout=10) for _ in EXPIRED} == set(EXPIRED)
        listed = client.get("/api/v1/sessions", params={"limit": 200}).json()["sessions"]
        assert {s["session_id"] for s in listed} == set(KEPT)
        orphans = client.get("/api/v1/traces", params={"orphan": "true"}).json()["traces"]
        assert [t["trace_id"] for t in orphans] == [new_orphan]
        assert client.get(f"/api/v1/traces/{old_orphan}").status_code == 404
        assert client.get("/api/v1/users/bob").status_code == client.get("/api/v1/users/dave").status_code == 404
        assert client.get("/api/v1/users/alice").json()["session_count"] == 1
        assert_exact(server, client, other)
        assert server.runtime.store.stats(other) == other_before  # no retention there: untouched

        # A span for a removed session starts it again, from nothing, and its user comes back.
        Session("b-1", user_id="bob").turn(NOW - 60).send(client)
        again = client.get("/api/v1/sessions/b-1").json()
        assert (again["turn_count"], again["span_count"]) == (1, 2)
        assert client.get("/api/v1/users/bob").json()["session_count"] == 1
        assert_exact(server, client, other)
        assert run_round(server) == {1: Removed()}


def test_ingest_between_batches_is_kept(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = server.runtime
    with server.client() as client:
        send_sessions(client, EXPIRED | KEPT)
        set_retention(server, 1, 30)

        def ingest(call: int) -> None:
            """Before the second batch (a-2, d-2, b-2, read already) is written, d-2 gets a new turn."""
            if call == 2:
                Session("d-2", user_id="dave", turns=2).turn(NOW - 30).send(client)
                Session("fresh", user_id="dave").turn(NOW - 20).send(client)

        spy = CallSpy(rt.writer, before=ingest)
        monkeypatch.setattr(rt.writer, "call", spy)
        removed = run_round(server, size=3)

        assert removed[1].sessions == 9
        assert spy.calls == 4  # a-1 b-1 d-1 | a-2 (d-2 revived) b-2 | d-3 a-3 d-4 | b-3
        revived = client.get("/api/v1/sessions/d-2").json()
        assert (revived["turn_count"], revived["trace_count"], revived["span_count"]) == (3, 3, 6)
        assert client.get("/api/v1/sessions/fresh").status_code == 200
        dave = client.get("/api/v1/users/dave").json()
        assert (dave["session_count"], dave["turn_count"]) == (2, 4)
        listed = client.get("/api/v1/sessions", params={"limit": 200}).json()["sessions"]
        assert {s["session_id"] for s in listed} == set(KEPT) | {"d-2", "fresh"}
        assert_exact(server, client)


def test_changing_the_retention_applies_at_the_next_round(server: RunningServer) -> None:
    with server.client() as client:
        send_sessions(client, EXPIRED | KEPT)
        assert run_round(server) == {}  # no retention: nothing read, nothing removed
        set_retention(server, 1, 90)  # cutoff day 10: a-1, b-1 and d-1 only
        assert run_round(server)[1].sessions == 3
        set_retention(server, 1, None)
        assert run_round(server) == {}
        assert client.get("/api/v1/stats").json()["session_count"] == len(EXPIRED) + len(KEPT) - 3
        assert_exact(server, client)


# --- the loop ----------------------------------------------------------------------------------------


class WatchedStore(SqliteStore):
    """Counts rounds (each starts by reading the projects); the first fails; counts candidate reads."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.rounds = 0
        self.candidate_reads = 0

    def projects(self) -> list[Project]:
        self.rounds += 1
        if self.rounds == 1:
            raise OSError("the disk went away for a moment")
        return super().projects()

    def sessions_quiet_since(self, project_id: int, before_ns: int, limit: int) -> list[str]:
        self.candidate_reads += 1
        return super().sessions_quiet_since(project_id, before_ns, limit)


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait for a condition the loop makes true (checked every few milliseconds, up to ``timeout_s``)."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


def test_the_loop_leaves_projects_without_retention_alone_and_survives_a_failing_round(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = WatchedStore(tmp_path)
    preparer = Preparer()
    writer = Writer(store, preparer.prepare)
    writer.start()
    clock = ManualClock()
    clock.advance(NOW)
    old = Session("old", user_id="ann").turn(1 * DAY)
    writer.submit(1, preparer.prepare(decode_protobuf(request(*old.spans)).spans)).result(timeout=10)
    tasks = CallSpy(writer)
    writer.call = tasks  # type: ignore[method-assign]

    async def scenario() -> None:
        loop = asyncio.create_task(enforce_retention(store, writer, LiveUpdates(), clock, interval_s=0.001))
        try:
            await until(lambda: store.rounds >= 4)  # the first failed; two more went by without retention
            assert (tasks.calls, store.candidate_reads) == (0, 0)
            project = store.project_by_id(1)
            assert project is not None
            store.update_project(dataclasses.replace(project, retention_days=30))
            start = store.rounds
            await until(lambda: store.rounds >= start + 2)  # a whole round began after the change
        finally:
            loop.cancel()

    try:
        with caplog.at_level(logging.INFO, logger="threadline.retention"):
            asyncio.run(scenario())
        stats = store.stats(1)
    finally:
        writer.stop()
        store.close()
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert "the disk went away" in str(failures[0].exc_info[1])
    assert tasks.calls >= 1
    assert (stats.session_count, stats.span_count, stats.user_count) == (0, 0, 0)
    assert any("removed 1 sessions" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
