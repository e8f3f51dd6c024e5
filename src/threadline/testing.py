"""Test helpers for code instrumented with Threadline, shipped as a pytest plugin.

The ``threadline_capture`` fixture configures the SDK for one test: spans are exported synchronously
to a ``CapturingExporter``, trace and span ids count up from 1, session ids are ``sess_`` plus a
counter, user ids are hashed with the salt ``test-salt``, the clock starts at 1 s and moves 1 s each
time it is read (``advance()`` moves it further and fires turn timeouts), and the SDK's own errors
are raised instead of swallowed. Everything is restored afterwards::

    def test_answer(threadline_capture):
        with threadline.session("s1", user_id="u1"), threadline.turn(input="hi") as turn:
            turn.output("hello")
        assert threadline_capture.snapshot()[0]["attributes"]["turn.output_length"] == 5

Outside pytest, ``configured(...)`` is the same as a context manager.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.util._once import Once

from threadline._sdk import guard, ids, runtime
from threadline._sdk.ids import Clock, SystemClock
from threadline._sdk.settings import resolve

__all__ = [
    "Capture",
    "CapturingExporter",
    "IncrementalIdGenerator",
    "SequentialIds",
    "SystemClock",
    "TestClock",
    "configured",
    "reset_otel_globals",
    "span_as_dict",
    "threadline_capture",
]


class CapturingExporter(SpanExporter):
    """Keeps every exported span in memory; ``wait_for(n)`` blocks until ``n`` spans arrived."""

    def __init__(self) -> None:
        self._spans: list[ReadableSpan] = []
        self._cond = threading.Condition()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._cond:
            self._spans.extend(spans)
            self._cond.notify_all()
        return SpanExportResult.SUCCESS

    @property
    def spans(self) -> list[ReadableSpan]:
        with self._cond:
            return list(self._spans)

    def clear(self) -> None:
        with self._cond:
            self._spans.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self._spans) >= count, timeout)

    def shutdown(self) -> None:
        pass


class IncrementalIdGenerator(IdGenerator):
    """Trace and span ids 1, 2, 3..."""

    def __init__(self) -> None:
        self._trace = 0
        self._span = 0
        self._lock = threading.Lock()

    def generate_trace_id(self) -> int:
        with self._lock:
            self._trace += 1
            return self._trace

    def generate_span_id(self) -> int:
        with self._lock:
            self._span += 1
            return self._span


class SequentialIds:
    """Session and conversation ids with a counter instead of randomness: ``sess_0000000000000001``."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def hex16(self) -> str:
        with self._lock:
            self._next += 1
            return f"{self._next:016x}"


class TestClock:
    """Starts at ``start`` seconds; every ``time_ns()`` read moves it by ``tick`` seconds."""

    __test__ = False  # not a test class, whatever pytest's name pattern says

    def __init__(self, start: float = 1.0, tick: float = 1.0) -> None:
        self.now_ns = int(start * 1e9)
        self.tick_ns = int(tick * 1e9)
        self._lock = threading.Lock()
        self.on_advance: list[Callable[[], object]] = []

    def time_ns(self) -> int:
        with self._lock:
            now = self.now_ns
            self.now_ns += self.tick_ns
            return now

    def monotonic(self) -> float:
        return self.now_ns / 1e9

    def advance(self, seconds: float) -> None:
        """Move time forward, then fire what is due (turn timeouts)."""
        with self._lock:
            self.now_ns += int(seconds * 1e9)
        for callback in self.on_advance:
            callback()


@dataclass
class Capture:
    exporter: SpanExporter
    clock: Clock
    provider: trace.TracerProvider
    runtime: runtime.Runtime
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spans(self) -> list[ReadableSpan]:
        exporter = self.exporter
        return exporter.spans if isinstance(exporter, CapturingExporter) else []

    def advance(self, seconds: float) -> None:
        """Move the test clock (and fire turn timeouts that fall due)."""
        if isinstance(self.clock, TestClock):
            self.clock.advance(seconds)
        else:
            self.runtime.watchdog.check()

    def snapshot(self, *, times: bool = True) -> list[dict[str, Any]]:
        """The exported spans as plain dicts, in export order, for literal comparison in tests."""
        return [span_as_dict(span, times=times) for span in self.spans]


def span_as_dict(span: ReadableSpan, *, times: bool = True) -> dict[str, Any]:
    context = span.context
    out: dict[str, Any] = {
        "name": span.name,
        "trace_id": context.trace_id if context else None,
        "span_id": context.span_id if context else None,
        "parent_id": span.parent.span_id if span.parent else None,
    }
    if times:
        out["start_time"], out["end_time"] = span.start_time, span.end_time
    status = span.status
    out["status"] = status.status_code.name + (f": {status.description}" if status.description else "")
    out["attributes"] = dict(sorted((span.attributes or {}).items()))
    if span.events:
        out["events"] = [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events]
    if span.links:
        out["links"] = [link.context.span_id for link in span.links]
    return out


def reset_otel_globals() -> None:
    """Forget the global TracerProvider so the next ``set_tracer_provider`` takes effect (tests only)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


@contextmanager
def configured(
    *,
    exporter: SpanExporter | None = None,
    clock: Clock | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    synchronous: bool = True,
    deterministic_ids: bool = True,
    set_global: bool = False,
    raise_errors: bool = True,
    **settings: Any,
) -> Iterator[Capture]:
    """Configure the SDK for a test and restore a blank state afterwards.

    Defaults: a ``CapturingExporter`` behind a synchronous processor, a ``TestClock``, a private
    ``TracerProvider`` with incremental ids (set as the global one only with ``set_global=True``).
    ``settings`` are ``configure()`` settings (``capture_content=False``, ``turn_timeout=5``...).
    """
    exporter = exporter if exporter is not None else CapturingExporter()
    clock = clock if clock is not None else TestClock()
    provider = tracer_provider or TracerProvider(
        id_generator=IncrementalIdGenerator() if deterministic_ids else None,
        resource=Resource.create({"service.name": "threadline-tests"}),
        shutdown_on_exit=False,
    )
    if set_global:
        reset_otel_globals()
        trace.set_tracer_provider(provider)
    guard.reset()
    guard.STATE.raise_errors = raise_errors
    settings.setdefault("user_id_salt", "test-salt")
    rt = runtime.install(
        resolve(settings, environ={}),
        tracer_provider=provider,
        exporter=exporter,
        clock=clock,
        id_source=SequentialIds() if deterministic_ids else None,
        synchronous=synchronous,
        install_hooks=False,
    )
    if isinstance(clock, TestClock):
        clock.on_advance.append(rt.watchdog.check)
    try:
        yield Capture(exporter, clock, provider, rt)
    finally:
        runtime.shutdown(timeout=5.0)
        rt.watchdog.stop()
        runtime.STATE.runtime = None
        if tracer_provider is None and isinstance(provider, TracerProvider):
            provider.shutdown()
        if set_global:
            reset_otel_globals()
        guard.reset()
        guard.STATE.raise_errors = False
        ids.IDS.source, ids.IDS.salt = ids.RandomIds(), ""


@pytest.fixture
def threadline_capture() -> Iterator[Capture]:
    """The SDK configured with a capturing exporter, deterministic ids and clock; restored afterwards."""
    with configured() as capture:
        yield capture
