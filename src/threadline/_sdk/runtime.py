"""The SDK's one piece of global state: what ``configure()`` set up, and its flush, shutdown and hooks.

``configure()`` joins the application's OpenTelemetry SDK ``TracerProvider`` when there is one (adding
one processor to it) and creates and sets one only when none exists. Calling it again swaps what the
processor exports to. Used before ``configure()``, the SDK configures itself from the environment.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from threadline._sdk import guard, ids, spans
from threadline._sdk.ids import Clock, IdSource, SystemClock
from threadline._sdk.pipeline import Counters, CountingBatchSpanProcessor, Hub, ThreadlineExporter
from threadline._sdk.registry import Registry
from threadline._sdk.settings import Settings, resolve
from threadline._sdk.watchdog import Watchdog

log = logging.getLogger("threadline")
INSTRUMENTATION_NAME = "threadline"


@dataclass
class Runtime:
    settings: Settings
    tracer: trace.Tracer
    clock: Clock
    registry: Registry
    watchdog: Watchdog
    counters: Counters
    hub: Hub | None = None
    processor: SpanProcessor | None = None
    exporter: ThreadlineExporter | None = None
    provider: SdkTracerProvider | None = None
    owns_provider: bool = False

    @property
    def capture(self) -> bool:
        return self.settings.capture_content


class _State:
    runtime: Runtime | None = None
    lock = threading.RLock()
    hooks_installed = False


STATE = _State()
_HUBS: weakref.WeakKeyDictionary[SdkTracerProvider, Hub] = weakref.WeakKeyDictionary()


def current() -> Runtime:
    """The runtime in force, configured from the environment on first use."""
    rt = STATE.runtime
    if rt is None:
        with STATE.lock:
            rt = STATE.runtime
            if rt is None:
                rt = install(resolve({}))
                if rt.settings.enabled:
                    log.info("threadline: configured from the environment, exporting to %s", rt.settings.traces_url)
    return rt


_INERT: list[Runtime] = []


def inert_runtime() -> Runtime:
    """A runtime that records nothing, for handles returned after an internal error."""
    if not _INERT:
        clock = SystemClock()
        _INERT.append(
            Runtime(
                Settings(enabled=False),
                trace.NoOpTracer(),
                clock,
                Registry(1),
                Watchdog(clock.monotonic, tuple, threaded=False),
                Counters(),
            )
        )
    return _INERT[0]


def install(
    settings: Settings,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    exporter: SpanExporter | None = None,
    clock: Clock | None = None,
    id_source: IdSource | None = None,
    synchronous: bool = False,
    install_hooks: bool = True,
) -> Runtime:
    """Replace the runtime in force (the previous pipeline is shut down; open turns carry on)."""
    with STATE.lock:
        previous = STATE.runtime
        if previous is not None:
            _stop_pipeline(previous, settings.shutdown_timeout)
        clock = clock or (previous.clock if previous is not None else SystemClock())
        keep = previous is not None and previous.clock is clock
        registry = previous.registry if keep and previous else Registry(settings.max_tracked_sessions)
        watchdog = (
            previous.watchdog
            if keep and previous
            else Watchdog(clock.monotonic, lambda: registry.open_turns.values(), threaded=not synchronous)
        )
        if previous is not None and not keep:
            previous.watchdog.stop()
        ids.IDS.salt = settings.user_id_salt
        ids.IDS.source = id_source or ids.RandomIds()
        counters = Counters()
        rt = Runtime(settings, trace.NoOpTracer(), clock, registry, watchdog, counters)
        if settings.enabled:
            _build_pipeline(rt, tracer_provider, exporter, synchronous)
        STATE.runtime = rt
        if install_hooks and not STATE.hooks_installed:
            STATE.hooks_installed = True
            atexit.register(_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork_in_child)
        return rt


def _build_pipeline(
    rt: Runtime, provider: trace.TracerProvider | None, exporter: SpanExporter | None, synchronous: bool
) -> None:
    settings = rt.settings
    sdk_provider, owns = _provider(provider, settings)
    hub = _HUBS.get(sdk_provider)
    if hub is None:
        hub = _HUBS[sdk_provider] = Hub()
        sdk_provider.add_span_processor(hub)
    wrapped = ThreadlineExporter(
        exporter or _otlp_exporter(settings), rt.counters, capture_content=settings.capture_content
    )
    processor: SpanProcessor
    if synchronous:
        processor = SimpleSpanProcessor(wrapped)
    else:
        processor = CountingBatchSpanProcessor(
            wrapped,
            rt.counters,
            max_queue_size=max(1, settings.max_queue_size),
            max_export_batch_size=max(1, settings.max_export_batch_size),
            schedule_delay_millis=max(1.0, settings.schedule_delay * 1000),
            export_timeout_millis=settings.export_timeout * 1000,
        )
    hub.registry = rt.registry
    hub.processors = (processor,)
    rt.hub, rt.processor, rt.exporter = hub, processor, wrapped
    rt.provider, rt.owns_provider = sdk_provider, owns
    rt.tracer = sdk_provider.get_tracer(INSTRUMENTATION_NAME, _version())
    hub.sdk_scope = getattr(rt.tracer, "_instrumentation_scope", None)


def _provider(given: trace.TracerProvider | None, settings: Settings) -> tuple[SdkTracerProvider, bool]:
    if isinstance(given, SdkTracerProvider):
        return given, False
    existing = trace.get_tracer_provider()
    if isinstance(existing, SdkTracerProvider):
        return existing, False
    created = SdkTracerProvider(resource=Resource.create({SERVICE_NAME: settings.service_name}), shutdown_on_exit=False)
    if isinstance(existing, trace.ProxyTracerProvider):
        trace.set_tracer_provider(created)
    else:
        guard.warn_once(
            "foreign-provider",
            "threadline: the global TracerProvider (%s) is not the OpenTelemetry SDK's; Threadline uses its own, "
            "so spans of other libraries will not carry the session id",
            type(existing).__name__,
        )
    return created, True


def _otlp_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    try:
        compression = Compression(settings.compression.strip().lower())
    except ValueError:
        log.warning(
            "threadline: compression=%r is not gzip, deflate or none; sending uncompressed", settings.compression
        )
        compression = Compression.NoCompression
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else None
    return OTLPSpanExporter(
        endpoint=settings.traces_url, headers=headers, timeout=settings.export_timeout, compression=compression
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("threadline")
    except Exception:
        return "0"


# --- flush and shutdown --------------------------------------------------------------------------


def run_with_deadline(fn: Callable[[], bool], timeout: float, name: str) -> tuple[bool, threading.Thread]:
    """Run ``fn`` on a helper thread: (its result, or ``False`` if not back within ``timeout`` s; the thread)."""
    outcome: list[bool] = []

    def target() -> None:
        try:
            outcome.append(bool(fn()))
        except Exception as exc:
            guard.internal_error(name, exc)

    thread = threading.Thread(target=target, name=f"threadline-{name}", daemon=True)
    thread.start()
    thread.join(max(timeout, 0.0))
    return bool(outcome and outcome[0]), thread


def flush(timeout: float | None = None) -> bool:
    """``True`` when no span is still waiting after ``timeout`` seconds and none was lost (failed,
    dropped or abandoned) since the previous flush."""
    rt = STATE.runtime
    if rt is None or rt.processor is None:
        return True
    timeout = rt.settings.shutdown_timeout if timeout is None else timeout
    processor = rt.processor
    if isinstance(processor, SimpleSpanProcessor):
        done = processor.force_flush(int(timeout * 1000))
    else:
        done = run_with_deadline(lambda: processor.force_flush(int(timeout * 1000)), timeout, "flush")[0]
    return rt.counters.lost_since_last_call() == 0 and done


def shutdown(timeout: float | None = None) -> bool:
    """End open turns with error status, export what is queued within ``timeout``, then go quiet."""
    with STATE.lock:
        rt = STATE.runtime
        if rt is None:
            return True
        timeout = rt.settings.shutdown_timeout if timeout is None else timeout
        for turn in list(rt.registry.open_turns.values()):
            turn.abandon("the SDK shut down before the turn ended")
        rt.watchdog.stop()
        done = _stop_pipeline(rt, timeout)
        STATE.runtime = Runtime(  # the counters stay readable: what was exported, failed, abandoned
            rt.settings.replace(enabled=False), trace.NoOpTracer(), rt.clock, rt.registry, rt.watchdog, rt.counters
        )
        return done


_ABORT_GRACE = 0.25
"""Seconds at most, kept from the end of a shutdown deadline, for the threads to stop once aborted."""


def _stop_pipeline(rt: Runtime, timeout: float) -> bool:
    """Export what is queued, within ``timeout`` seconds all told; then abandon the rest."""
    processor, hub = rt.processor, rt.hub
    if processor is None or hub is None:
        return True

    def stop() -> bool:
        processor.shutdown()
        return True

    timeout = max(timeout, 0.0)
    grace = min(_ABORT_GRACE, timeout / 4)
    done, thread = run_with_deadline(stop, timeout - grace, "shutdown")
    if not done:
        _abandon(rt, processor)
        thread.join(grace)  # a request still waiting for its answer finishes in the background
    if hub.processors == (processor,):
        hub.processors = ()
    rt.processor = None
    return done


def _abandon(rt: Runtime, processor: SpanProcessor) -> None:
    """Count every span not exported yet as abandoned, stop the export requests and abort the retries."""
    rt.counters.close()
    if isinstance(processor, CountingBatchSpanProcessor):
        processor.abandon()
    if rt.exporter is not None:
        rt.exporter.shutdown()  # wakes the exporter from its retry sleep: the worker thread ends soon


def _at_exit() -> None:
    try:
        shutdown()
    except Exception as exc:  # pragma: no cover - interpreter teardown
        guard.internal_error("atexit", exc)


def _after_fork_in_child() -> None:
    STATE.lock = threading.RLock()
    guard.STATE.lock = threading.Lock()
    spans.reset_after_fork()
    rt = STATE.runtime
    if rt is not None:
        rt.registry.reset_after_fork()
        rt.watchdog.reset_after_fork()
        rt.counters.lock = threading.Lock()
        rt.counters.spans_in_flight = 0  # the parent's request, not the child's
        if rt.exporter is not None:
            rt.exporter.reset_after_fork()


def configure_from(overrides: Mapping[str, Any], **wiring: Any) -> Runtime:
    return install(resolve(overrides), **wiring)
