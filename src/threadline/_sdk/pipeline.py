"""The span pipeline the SDK adds to a TracerProvider: one ``Hub`` processor in front of the export.

- ``Hub.on_start`` stamps the session id, hashed user id, conversation id (and turn number inside a
  turn) on every span started in a session scope, whichever library starts it. A root span started in
  a session outside any turn is a turn for the server: it gets the conversation's next turn number.
- ``Hub.on_end`` counts tool calls and agent runs made by other libraries inside an open turn.
- ``CountingBatchSpanProcessor`` is OTel's ``BatchSpanProcessor`` (bounded queue, background worker)
  that also counts the spans it drops when its queue is full and the spans its worker takes out of it.
- ``ThreadlineExporter`` wraps the real exporter: instrumentation is suppressed while it exports,
  user ids found in clear are hashed, content is withheld when capture is off, results are counted.

Every ended span is counted once: waiting (in the queue or in a request under way), then exported,
failed, dropped or, at the shutdown deadline, abandoned. Ending a span costs the caller what OTel's
processor costs (an append to the queue); the export worker does the counting.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from threadline import semconv as sc
from threadline._sdk import guard, ids
from threadline._sdk.registry import Registry
from threadline._sdk.scope import SCOPE_KEY, Scope

if TYPE_CHECKING:
    from threadline._sdk.turn import Turn

_FOREIGN_KINDS = {
    "openinference.span.kind": {"TOOL": "tool", "AGENT": "agent"},
    sc.GEN_AI_OPERATION_NAME: {"execute_tool": "tool", "invoke_agent": "agent"},
    "traceloop.span.kind": {"tool": "tool", "agent": "agent"},
}


@dataclass
class Counters:
    spans_exported: int = 0
    spans_failed: int = 0
    spans_dropped: int = 0
    spans_abandoned: int = 0
    spans_in_flight: int = 0
    """Spans taken from the queue for an export request that has not finished."""
    export_requests: int = 0
    export_failures: int = 0
    turns_timed_out: int = 0
    lost_reported: int = 0
    closed: bool = False
    """Set at the shutdown deadline: from then on, every span not exported yet is abandoned."""

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def add(self, **amounts: int) -> None:
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def lost_since_last_call(self) -> int:
        """Spans failed, dropped or abandoned since the previous call (``flush()`` reports them)."""
        with self.lock:
            lost = self.spans_failed + self.spans_dropped + self.spans_abandoned
            new, self.lost_reported = lost - self.lost_reported, lost
            return new

    def settled(self, count: int, ok: bool, tracked: bool) -> None:
        """An export request finished; ``tracked``: its spans were counted in flight (``CountingQueue``)."""
        with self.lock:
            self.export_requests += 1
            self.export_failures += not ok
            if tracked:
                if self.closed:
                    return  # counted as abandoned when the deadline passed
                self.spans_in_flight = max(0, self.spans_in_flight - count)
            if ok:
                self.spans_exported += count
            else:
                self.spans_failed += count

    def close(self) -> None:
        """The shutdown deadline passed: the spans of the request under way are abandoned."""
        with self.lock:
            self.closed = True
            self.spans_abandoned += self.spans_in_flight
            self.spans_in_flight = 0


class Hub(SpanProcessor):
    """The one processor the SDK adds to a provider; what it forwards to can be swapped (reconfigure)."""

    def __init__(self) -> None:
        self.processors: tuple[SpanProcessor, ...] = ()
        self.registry: Registry | None = None
        self.sdk_scope: object = None
        """The SDK tracer's instrumentation scope: its spans need no foreign-span counting."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        try:
            attributes = span.attributes
            if attributes is None or attributes.get(sc.SESSION_ID) is None:
                scope = otel_context.get_value(SCOPE_KEY)
                if scope is None and parent_context is not None:
                    scope = otel_context.get_value(SCOPE_KEY, parent_context)
                if isinstance(scope, Scope) and scope.stamp:
                    span.set_attributes(scope.stamp)
                    if span.parent is None and scope.turn is None and scope.session is not None:
                        self._number_root(span, scope)
        except Exception as exc:
            guard.internal_error("Hub.on_start", exc)
        for processor in self.processors:
            processor.on_start(span, parent_context=parent_context)

    def _number_root(self, span: Span, scope: Scope) -> None:
        """Another library's root span in a session but outside any turn is a turn of its own for the
        server: give it the conversation's next number, so that it never shares one with an SDK turn."""
        if self.registry is not None and scope.session is not None:
            conversation = scope.conversation or ""
            number = self.registry.next_turn(scope.session.session_id, conversation, None)
            span.set_attribute(sc.CONVERSATION_TURN_NUMBER, number)

    def on_end(self, span: ReadableSpan) -> None:
        registry = self.registry
        if registry is not None and registry.open_turns:
            try:
                context = span.context
                turn = registry.open_turns.get(context.trace_id) if context is not None else None
                if turn is not None and span.instrumentation_scope is not self.sdk_scope:
                    attributes = span.attributes or {}
                    if sc.THREADLINE_SPAN_KIND not in attributes:
                        _count_foreign(attributes, turn)
            except Exception as exc:
                guard.internal_error("Hub.on_end", exc)
        for processor in self.processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        for processor in self.processors:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """``BatchSpanProcessor`` that counts the spans it drops (queue full, or after shutdown) and the
    spans its worker takes from the queue for export.

    The hot path is OTel's, untouched: the caller's thread counts only a span it drops. The worker
    counts, under the counters' lock, each span it takes out of the queue (``CountingQueue``).
    """

    def __init__(self, exporter: SpanExporter, counters: Counters, **options: Any) -> None:
        super().__init__(exporter, **options)
        batch = getattr(self, "_batch_processor", None)
        metrics = getattr(batch, "_metrics", None)
        queue = getattr(batch, "_queue", None)
        self._queue: CountingQueue | None = None
        if batch is not None and metrics is not None and isinstance(queue, deque) and not queue:
            batch._metrics = _DropCounter(metrics, counters)
            batch._queue = self._queue = CountingQueue(queue.maxlen, counters)
            if isinstance(exporter, ThreadlineExporter):
                exporter.tracked = True
        else:  # pragma: no cover - another OpenTelemetry SDK layout
            guard.warn_once("drop-count", "threadline: this OpenTelemetry SDK does not let its queue be counted")

    def queued(self) -> int:
        """Spans waiting in the queue right now."""
        return len(self._queue) if self._queue is not None else 0

    def abandon(self) -> None:
        """The shutdown deadline passed: the worker stops exporting; what is left in the queue is abandoned."""
        batch = getattr(self, "_batch_processor", None)
        if batch is not None and hasattr(batch, "_shutdown_timeout_exceeded"):
            batch._shutdown_timeout_exceeded = True  # OTel's own flag: no further export request
        queue = self._queue
        while queue:  # each pop counts the span as abandoned (``Counters.closed``)
            try:
                queue.pop()
            except IndexError:  # the worker took the last one
                return


class CountingQueue(deque[Any]):
    """The batch processor's queue. Taking a span out of it for export counts it as in flight (or, past
    the shutdown deadline, as abandoned) in the same step, so that ``stats()`` never misses it."""

    def __init__(self, maxlen: int | None, counters: Counters) -> None:
        super().__init__((), maxlen)
        self._counters = counters

    def pop(self) -> Any:  # type: ignore[override]  # deque.pop takes no index, as in typeshed
        counters = self._counters
        with counters.lock:
            span = super().pop()
            if counters.closed:
                counters.spans_abandoned += 1
            else:
                counters.spans_in_flight += 1
        return span


class _DropCounter:
    """Forwards the batch processor's metrics calls, counting drops on the way."""

    def __init__(self, inner: Any, counters: Counters) -> None:
        self._inner = inner
        self._counters = counters

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        self._counters.add(spans_dropped=count)
        self._inner.drop_items(count, error_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class ThreadlineExporter(SpanExporter):
    def __init__(
        self,
        inner: SpanExporter,
        counters: Counters,
        *,
        capture_content: bool,
        factory: Callable[[], SpanExporter] | None = None,
    ) -> None:
        self.inner = inner
        self.counters = counters
        self.capture_content = capture_content
        self.tracked = False
        """A ``CountingQueue`` counts the spans handed over as in flight."""
        self._factory = factory
        self._shutdown = False

    def reset_after_fork(self) -> None:
        """A forked child must not share the parent's HTTP connections: build a fresh exporter."""
        if self._factory is not None and not self._shutdown:
            self.inner = self._factory()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.counters.closed:  # past the shutdown deadline: no more requests
            if not self.tracked:
                self.counters.add(spans_abandoned=len(spans))
            return SpanExportResult.FAILURE
        result = self._send(spans)
        self.counters.settled(len(spans), result is SpanExportResult.SUCCESS, self.tracked)
        return result

    def _send(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ctx = otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True)
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, True, ctx))
        try:
            batch = [self.sanitize(span) for span in spans]
            result = self.inner.export(batch)
        except Exception as exc:
            guard.internal_error("ThreadlineExporter.export", exc)
            result = SpanExportResult.FAILURE
        finally:
            otel_context.detach(token)
        return result

    def sanitize(self, span: ReadableSpan) -> ReadableSpan:
        """The span as it may leave the process (the same object when nothing needs to change)."""
        attributes = span.attributes or {}
        hashed = _clear_user_ids(attributes)
        withheld = () if self.capture_content else [k for k in attributes if is_content_key(k)]
        events = span.events
        content_events = not self.capture_content and any(e.name in sc.CONTENT_EVENT_NAMES for e in events)
        if not hashed and not withheld and not content_events:
            return span
        clean = {k: v for k, v in attributes.items() if k not in withheld}
        clean.update(hashed)
        if content_events:
            events = tuple(e for e in events if e.name not in sc.CONTENT_EVENT_NAMES)
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=clean,
            events=events,
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def shutdown(self) -> None:
        if not self._shutdown:
            self._shutdown = True
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _count_foreign(attributes: Any, turn: Turn) -> None:
    """Count a tool call or agent run that another library made inside ``turn``."""
    for key, kinds in _FOREIGN_KINDS.items():
        kind = kinds.get(str(attributes.get(key, "")))
        if kind is not None:
            turn.count_child(kind)
            return


def is_content_key(key: str) -> bool:
    return key in sc.CONTENT_KEYS or key.startswith(sc.CONTENT_KEY_PREFIXES)


def _clear_user_ids(attributes: Any) -> dict[str, str]:
    """User ids that are not hashed yet, hashed."""
    found: dict[str, str] = {}
    for key in sc.USER_ID_KEYS:
        value = attributes.get(key)
        if value is None or value == "":
            continue
        text = str(value)
        if not ids.looks_hashed(text):
            found[key] = ids.hash_user_id(text)
    return found
