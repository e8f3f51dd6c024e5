"""Geometry for the pages' time axes: the turns of a session and the spans of a trace. Pure.

Positions are percentages of the axis (0..100), so templates draw them as SVG attributes: the pages'
policy forbids inline styles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


def ms(iso: str) -> float:
    """An API timestamp (ISO 8601, UTC) as milliseconds since the epoch."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


@dataclass(frozen=True, slots=True)
class TurnBar:
    number: int
    offset_ms: float
    """Since the session's first turn started."""
    gap_ms: float | None
    """Since the previous turn ended (None for the first; 0 when they overlap)."""
    latency_ms: float
    x: float
    width: float
    error: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    rows: tuple[TurnBar, ...]
    total_ms: float


def timeline(turns: Sequence[dict[str, Any]]) -> Timeline:
    """Each turn (the session detail's ``turns``) placed on the session's time axis."""
    if not turns:
        return Timeline((), 0.0)
    starts = [ms(t["started_at"]) for t in turns]
    ends = [max(ms(t["ended_at"]), s) for t, s in zip(turns, starts, strict=True)]
    first, last = min(starts), max(ends)
    total = max(last - first, 1e-9)
    rows = []
    previous_end: float | None = None
    for turn, start, end in sorted(zip(turns, starts, ends, strict=True), key=lambda r: r[1]):
        rows.append(
            TurnBar(
                number=turn["turn_number"],
                offset_ms=start - first,
                gap_ms=None if previous_end is None else max(start - previous_end, 0.0),
                latency_ms=end - start,
                x=100 * (start - first) / total,
                width=100 * (end - start) / total,
                error=bool(turn["error"]),
            )
        )
        previous_end = end if previous_end is None else max(previous_end, end)
    return Timeline(tuple(rows), last - first)


@dataclass(frozen=True, slots=True)
class SpanBar:
    span: dict[str, Any]
    depth: int
    x: float
    width: float


@dataclass(frozen=True, slots=True)
class Waterfall:
    trace_id: str
    rows: tuple[SpanBar, ...]
    total_ms: float

    @property
    def selected(self) -> int:
        """The row whose details show first: the first span that failed, else the root."""
        return next((i for i, row in enumerate(self.rows) if row.span["status"] == "error"), 0)


def waterfall(trace_id: str, roots: Sequence[dict[str, Any]]) -> Waterfall:
    """The span tree (the trace API's ``spans``) flattened depth first, children by start time, each
    span placed on the trace's time axis."""
    flat = list(_walk(roots, 0))
    if not flat:
        return Waterfall(trace_id, (), 0.0)
    starts = [ms(span["start_time"]) for span, _ in flat]
    ends = [max(ms(span["end_time"]), s) for (span, _), s in zip(flat, starts, strict=True)]
    first, last = min(starts), max(ends)
    total = max(last - first, 1e-9)
    rows = tuple(
        SpanBar(span, depth, 100 * (start - first) / total, 100 * (end - start) / total)
        for (span, depth), start, end in zip(flat, starts, ends, strict=True)
    )
    return Waterfall(trace_id, rows, last - first)


def _walk(spans: Sequence[dict[str, Any]], depth: int) -> Iterator[tuple[dict[str, Any], int]]:
    for span in sorted(spans, key=lambda s: s["start_time"]):
        yield span, depth
        yield from _walk(span["children"], depth + 1)
