"""``SpanHandle``: what turns, LLM calls, tool calls and agent runs have in common.

A handle owns one OpenTelemetry span. It ends exactly once (``end()``, ``error()``, leaving a
``with`` / ``async with`` block, a parent's error or a timeout: whichever comes first), and while a
``with`` block runs its span and scope are the current OTel context.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from threadline import semconv as sc
from threadline._sdk import guard
from threadline._sdk.attached import AttachedContext
from threadline._sdk.content import attribute_value
from threadline._sdk.scope import Scope, context_with

if TYPE_CHECKING:
    from threadline._sdk.runtime import Runtime

_END_LOCK = threading.Lock()


def reset_after_fork() -> None:
    global _END_LOCK
    _END_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a span ended in error."""

    message: str
    error_type: str
    exception: BaseException | None = None

    @classmethod
    def of(cls, cause: str | BaseException | None, default: str = "error") -> Failure:
        if isinstance(cause, BaseException):
            message = str(cause) or type(cause).__name__
            return cls(message, type(cause).__qualname__, cause)
        return cls(cause or default, "error")


class SpanHandle(AttachedContext):
    """Base class; subclasses add what their kind records."""

    def __init__(self, runtime: Runtime, span: trace.Span, scope: Scope) -> None:
        super().__init__()
        self._runtime = runtime
        self._span = span
        self._scope = scope
        self._ended = False

    # --- public ------------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def trace_id(self) -> str:
        """The span's trace id as 32 hex characters."""
        return format(self._span.get_span_context().trace_id, "032x")

    @property
    def span_id(self) -> str:
        return format(self._span.get_span_context().span_id, "016x")

    @property
    def span(self) -> trace.Span:
        """The underlying OpenTelemetry span, for what the SDK does not cover."""
        return self._span

    def end(self) -> None:
        """End the span (no-op if it has ended already)."""
        self._finish_safely(None)

    def error(self, message: str | BaseException | None = None) -> None:
        """End the span with error status; open children end with error status too."""
        self._finish_safely(Failure.of(message))

    @guard.guarded(guard.SELF)
    def set_attribute(self, key: str, value: Any) -> Self:
        """Set any attribute on the span (non-primitive values are sent as JSON)."""
        self._set(key, value)
        return self

    # --- context manager ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._attach(lambda: context_with(self._inner_scope(), self._span))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish_safely(Failure.of(exc) if exc is not None else None)
        self._detach()

    # --- for subclasses ----------------------------------------------------------------------------

    def _inner_scope(self) -> Scope:
        """The scope code inside this handle's ``with`` block runs in."""
        return self._scope

    def _set(self, key: str, value: Any) -> None:
        if not self._ended and value is not None:
            self._span.set_attribute(key, attribute_value(value))

    def _before_end(self, failure: Failure | None, end_ns: int) -> None:
        """Last attributes before the span ends (called once, by the thread that ends it)."""

    def _after_end(self, failure: Failure | None, end_ns: int) -> None:
        """Bookkeeping once the span has ended."""

    def _finish_safely(self, failure: Failure | None, end_ns: int | None = None) -> None:
        try:
            self._finish(failure, end_ns)
        except Exception as exc:
            if guard.STATE.raise_errors:
                raise
            guard.internal_error(f"{type(self).__name__}.end", exc)

    def _finish(self, failure: Failure | None, end_ns: int | None = None) -> bool:
        with _END_LOCK:
            if self._ended:
                return False
            self._ended = True
        end_ns = self._runtime.clock.time_ns() if end_ns is None else end_ns
        span = self._span
        try:
            self._before_end(failure, end_ns)
            if failure is not None:
                span.set_attribute(sc.ERROR_TYPE, failure.error_type)
                if failure.exception is not None:
                    span.record_exception(failure.exception, timestamp=end_ns)
                span.set_status(Status(StatusCode.ERROR, failure.message))
        finally:
            span.end(end_time=end_ns)
        self._after_end(failure, end_ns)
        return True
