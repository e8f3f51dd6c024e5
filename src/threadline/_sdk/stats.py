"""``threadline.stats()``: what the SDK has done in this process, for health checks and tests."""

from __future__ import annotations

from dataclasses import dataclass

from threadline._sdk import guard, runtime


@dataclass(frozen=True, slots=True)
class Stats:
    spans_exported: int
    """Spans the backend acknowledged."""
    spans_failed: int
    """Spans in export requests that failed after retries (dead endpoint, 4xx...)."""
    spans_dropped: int
    """Spans dropped because the export queue was full."""
    spans_queued: int
    """Spans waiting for export right now."""
    export_requests: int
    export_failures: int
    open_turns: int
    turns_timed_out: int
    internal_errors: int
    """Errors inside the SDK, logged once and swallowed."""


def _empty() -> Stats:
    return Stats(0, 0, 0, 0, 0, 0, 0, 0, guard.STATE.errors)


@guard.guarded(_empty)
def stats() -> Stats:
    """A snapshot of the SDK's counters since the last ``configure()``."""
    rt = runtime.STATE.runtime
    if rt is None:
        return _empty()
    c = rt.counters
    queue = getattr(getattr(rt.processor, "_batch_processor", None), "_queue", None)
    with c.lock:
        return Stats(
            spans_exported=c.spans_exported,
            spans_failed=c.spans_failed,
            spans_dropped=c.spans_dropped,
            spans_queued=len(queue) if queue is not None else 0,
            export_requests=c.export_requests,
            export_failures=c.export_failures,
            open_turns=len(rt.registry.open_turns),
            turns_timed_out=c.turns_timed_out,
            internal_errors=guard.STATE.errors,
        )
