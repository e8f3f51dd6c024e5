"""``threadline.stats()``: what the SDK has done in this process, for health checks and tests."""

from __future__ import annotations

from dataclasses import dataclass

from threadline._sdk import guard, runtime
from threadline._sdk.pipeline import CountingBatchSpanProcessor


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts of ended spans: each is queued, then exported, failed, dropped or abandoned."""

    spans_exported: int
    """Spans the backend acknowledged."""
    spans_failed: int
    """Spans in export requests that failed for good, after their retries (dead endpoint, 4xx...)."""
    spans_dropped: int
    """Spans dropped because the export queue was full (or ended while the SDK was shutting down)."""
    spans_abandoned: int
    """Spans not exported by the ``shutdown()`` deadline (queued, or in a request still retrying)."""
    spans_queued: int
    """Spans waiting right now: in the export queue or in an export request still retrying."""
    export_requests: int
    """Export requests finished (each one counts once, retries included)."""
    export_failures: int
    """Export requests that failed for good."""
    open_turns: int
    """Turns started and not ended yet."""
    turns_timed_out: int
    """Turns ended by their ``timeout``."""
    internal_errors: int
    """Errors inside the SDK, logged once and swallowed."""


def _empty() -> Stats:
    return Stats(0, 0, 0, 0, 0, 0, 0, 0, 0, guard.STATE.errors)


@guard.guarded(_empty)
def stats() -> Stats:
    """A snapshot of the SDK's counters since the last ``configure()`` (they outlive ``shutdown()``)."""
    rt = runtime.STATE.runtime
    if rt is None:
        return _empty()
    c = rt.counters
    processor = rt.processor
    with c.lock:
        queued = processor.queued() if isinstance(processor, CountingBatchSpanProcessor) else 0
        return Stats(
            spans_exported=c.spans_exported,
            spans_failed=c.spans_failed,
            spans_dropped=c.spans_dropped,
            spans_abandoned=c.spans_abandoned,
            spans_queued=queued + c.spans_in_flight,
            export_requests=c.export_requests,
            export_failures=c.export_failures,
            open_turns=len(rt.registry.open_turns),
            turns_timed_out=c.turns_timed_out,
            internal_errors=guard.STATE.errors,
        )
