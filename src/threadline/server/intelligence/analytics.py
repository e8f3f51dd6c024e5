"""Session analytics over a window (SPEC §3 ``/api/v1/analytics/sessions``). Pure.

Definitions, stated once here and in the API docs:

- percentiles interpolate linearly between the closest ranks (numpy's default, ``statistics.quantiles``
  with ``method="inclusive"``);
- rates of how sessions end (``abandonment_rate``, ``dropoff_rate``) are over *ended* sessions: an active
  session has not abandoned or dropped off yet; ``error_session_rate`` is over all sessions;
- a session is abandoned when it ended with exactly one turn;
- cost figures are over sessions whose cost is known (an unpriced session is not a free one).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HISTOGRAM_TOP = 10
"""Turn counts above this share the last histogram bucket (``10+``)."""
DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9


@dataclass(frozen=True, slots=True)
class SessionPoint:
    """What analytics needs of one session (lifecycle and drop-off already derived for ``now``)."""

    first_ns: int
    turn_count: int
    cost_usd: float | None
    duration_ms: float
    has_error: bool
    ended: bool
    dropped_off: bool
    last_turn: int | None
    last_action: str | None


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) of sorted values, interpolated between closest ranks; None if empty."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def session_analytics(
    sessions: Sequence[SessionPoint], turn_latencies_ms: Sequence[float], bucket_ns: int | None = None
) -> dict[str, Any]:
    count = len(sessions)
    ended = [s for s in sessions if s.ended]
    dropped = [s for s in sessions if s.dropped_off]
    costs = sorted(s.cost_usd for s in sessions if s.cost_usd is not None)
    durations = sorted(s.duration_ms for s in sessions)
    latencies = sorted(turn_latencies_ms)
    histogram: Counter[str] = Counter(
        str(s.turn_count) if s.turn_count < HISTOGRAM_TOP else f"{HISTOGRAM_TOP}+" for s in sessions
    )
    return {
        "session_count": count,
        "ended_session_count": len(ended),
        "turn_count_avg": sum(s.turn_count for s in sessions) / count if count else None,
        "turn_count_histogram": {key: histogram[key] for key in _histogram_keys() if histogram[key]},
        "abandonment_rate": _rate(sum(1 for s in ended if s.turn_count == 1), len(ended)),
        "dropoff_rate": _rate(sum(1 for s in dropped if s.ended), len(ended)),
        "dropoff_count": len(dropped),
        "dropoff_by_turn": _counts(s.last_turn for s in dropped),
        "dropoff_by_last_action": _counts(s.last_action for s in dropped),
        "cost_avg_usd": sum(costs) / len(costs) if costs else None,
        "cost_p50_usd": percentile(costs, 50),
        "cost_p95_usd": percentile(costs, 95),
        "duration_p50_ms": percentile(durations, 50),
        "duration_p95_ms": percentile(durations, 95),
        "turn_latency_p50_ms": percentile(latencies, 50),
        "turn_latency_p95_ms": percentile(latencies, 95),
        "error_session_rate": _rate(sum(1 for s in sessions if s.has_error), count),
        "sessions_over_time": over_time(sessions, bucket_ns),
    }


def _histogram_keys() -> list[str]:
    return [str(n) for n in range(1, HISTOGRAM_TOP)] + [f"{HISTOGRAM_TOP}+"]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _counts(values: Any) -> dict[str, int]:
    found: Counter[str] = Counter(str(v) for v in values if v is not None)
    return dict(sorted(found.items(), key=lambda kv: (len(kv[0]), kv[0])))


def over_time(sessions: Sequence[SessionPoint], bucket_ns: int | None = None) -> list[dict[str, Any]]:
    """Sessions started per bucket (an hour for windows up to two days, else a day)."""
    if not sessions:
        return []
    first = min(s.first_ns for s in sessions)
    last = max(s.first_ns for s in sessions)
    size = bucket_ns or (HOUR_NS if last - first <= 2 * DAY_NS else DAY_NS)
    buckets: dict[int, list[SessionPoint]] = {}
    for s in sessions:
        buckets.setdefault(s.first_ns - s.first_ns % size, []).append(s)
    return [
        {
            "start_ns": start,
            "sessions": len(members),
            "dropped_off": sum(1 for s in members if s.dropped_off),
            "errored": sum(1 for s in members if s.has_error),
        }
        for start, members in sorted(buckets.items())
    ]
