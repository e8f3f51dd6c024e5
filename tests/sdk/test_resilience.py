"""The SDK never hurts its host: a dead endpoint, a full queue, a fork, a bug inside the SDK."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import threadline
from support.server import run_server
from threadline._sdk import registry
from threadline.testing import CapturingExporter, configured


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _turns(count: int, session_id: str = "sess_r") -> None:
    with threadline.session(session_id, user_id="u"):
        for index in range(count):
            with threadline.turn(f"question {index}") as turn:
                with threadline.llm_call(model="gpt-4o-mini", provider="openai") as call:
                    call.record(input_tokens=10, output_tokens=2)
                turn.output("answer")


def test_a_dead_endpoint_costs_the_application_nothing(caplog: pytest.LogCaptureFixture) -> None:
    provider = TracerProvider(resource=Resource.create({}), shutdown_on_exit=False)
    threadline.configure(
        endpoint=f"http://127.0.0.1:{_closed_port()}", tracer_provider=provider, export_timeout=10, schedule_delay=0.01
    )
    started = time.monotonic()
    _turns(50)
    caller_time = time.monotonic() - started
    assert caller_time < 5.0  # far below one export's retries (10 s): no network on the caller's thread
    started = time.monotonic()
    assert threadline.flush(timeout=0.5) is False  # delivery impossible: the deadline holds
    assert time.monotonic() - started < 1.5
    with caplog.at_level(logging.CRITICAL):  # the exporter's own retry messages
        started = time.monotonic()
        threadline.shutdown(timeout=1.0)
        assert time.monotonic() - started < 5.0
    stats = threadline.stats()
    assert stats.internal_errors == 0
    provider.shutdown()


class StuckExporter(SpanExporter):
    """A backend that does not answer until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(30)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_a_full_queue_drops_and_counts_without_blocking(caplog: pytest.LogCaptureFixture) -> None:
    exporter = StuckExporter()
    with (
        caplog.at_level(logging.ERROR),  # OTel warns "Queue full, dropping Span."
        configured(
            exporter=exporter,
            synchronous=False,
            max_queue_size=16,
            max_export_batch_size=8,
            schedule_delay=0.01,
            deterministic_ids=False,
        ),
    ):
        started = time.monotonic()
        _turns(100)  # 200 spans while the exporter is stuck (for up to 30 s)
        assert time.monotonic() - started < 10.0
        stats = threadline.stats()
        assert stats.spans_dropped >= 200 - 16 - 8
        exporter.release.set()
        assert threadline.flush(timeout=10) is False  # delivered what was left, but spans were dropped
        assert threadline.flush(timeout=10) is True  # nothing lost since the previous flush
        stats = threadline.stats()
    assert exporter.exported + stats.spans_dropped == 200
    assert stats.spans_queued == 0
    assert stats.spans_exported == exporter.exported


def test_a_forked_child_exports_its_own_turns(tmp_path: Path) -> None:
    provider = TracerProvider(resource=Resource.create({}), shutdown_on_exit=False)
    with run_server(tmp_path / "data") as server:
        threadline.configure(endpoint=server.url, tracer_provider=provider, schedule_delay=0.01)
        try:
            _turns(1, "sess_parent")  # the exporter has a connection open before the fork
            assert threadline.flush(timeout=10)
            with threadline.session("sess_parent"):
                open_turn = threadline.turn("open across the fork")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # "fork() in a multi-threaded process"
                pid = os.fork()
            if pid == 0:  # the child: exports through its own fresh worker and connection, then leaves
                code = 1
                try:
                    _turns(2, "sess_child")
                    code = 0 if threadline.flush(timeout=10) and not threadline.stats().open_turns else 3
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            open_turn.end()
            _turns(1, "sess_parent")
            assert threadline.flush(timeout=10)
            with server.client() as client:
                parent = client.get("/api/v1/sessions/sess_parent").json()
                child = client.get("/api/v1/sessions/sess_child").json()
        finally:
            threadline.shutdown()
            provider.shutdown()
    assert [t["input"] for t in parent["turns"]] == ["question 0", "open across the fork", "question 0"]
    assert [t["turn_number"] for t in child["turns"]] == [1, 2]


def test_a_bug_inside_the_sdk_is_logged_once_and_swallowed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("bug in the turn counter")

    with configured(raise_errors=False) as capture:
        monkeypatch.setattr(registry.Registry, "next_turn", broken)
        answers = []
        with caplog.at_level(logging.WARNING, logger="threadline"):
            for index in range(3):
                with threadline.session("sess_bug"), threadline.turn(f"q{index}") as turn:
                    with turn.llm_call(model="m") as call:
                        call.record(input_tokens=1)
                    with threadline.tool_call("t") as tool:
                        tool.result("r")
                    turn.output("a").set_metadata("k", "v")
                    turn.error("and an error path")
                    answers.append(f"a{index}")
        assert answers == ["a0", "a1", "a2"]  # the application ran to completion
        internal = [r for r in caplog.records if "internal error" in r.getMessage()]
        assert len(internal) == 1
        assert "bug in the turn counter" in caplog.text
        assert threadline.stats().internal_errors == 3
        monkeypatch.undo()
        _turns(1, "sess_recovered")  # the SDK keeps working afterwards
        assert capture.spans[-1].attributes["session.id"] == "sess_recovered"


def test_an_exporter_that_raises_is_counted_as_a_failed_export() -> None:
    class Exploding(CapturingExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            raise ConnectionError("boom")

    with configured(exporter=Exploding(), raise_errors=False):
        _turns(1)
        stats = threadline.stats()
    assert (stats.spans_failed, stats.export_failures, stats.spans_exported) == (2, 2, 0)


def test_disabled_sdk_records_nothing_and_keeps_the_api_working() -> None:
    exporter = CapturingExporter()
    with configured(exporter=exporter, enabled=False):
        _turns(2)
        threadline.feedback(1)
        assert threadline.flush()
    assert exporter.spans == []


EXITING_APP = """
import sys, threadline
threadline.configure(endpoint=sys.argv[1], schedule_delay=60, shutdown_timeout=float(sys.argv[2]))
with threadline.session("sess_exit", user_id="leo"):
    with threadline.turn("last words") as turn:
        turn.output("bye")
    threadline.turn("still open at exit")
print("done", flush=True)
"""


def _run_app(endpoint: str, shutdown_timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "THREADLINE_"))}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", EXITING_APP, endpoint, str(shutdown_timeout)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return time.monotonic() - started, done


def test_spans_are_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as server:
        _, done = _run_app(server.url, 10)
        assert done.stdout == "done\n", done.stderr
        with server.client() as client:
            got = client.get("/api/v1/sessions/sess_exit").json()
    assert [(t["input"], t["error"], t["error_message"]) for t in got["turns"]] == [
        ("last words", False, None),
        ("still open at exit", True, "the SDK shut down before the turn ended"),
    ]


def test_exit_with_a_dead_endpoint_keeps_to_the_deadline() -> None:
    elapsed, done = _run_app(f"http://127.0.0.1:{_closed_port()}", 1)
    assert done.returncode == 0, done.stderr
    assert elapsed < 6  # interpreter start-up, plus the 1 s deadline
