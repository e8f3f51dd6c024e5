"""Session analytics over a window (``/api/v1/analytics/sessions``, defined in docs/concepts.md). Pure.

Definitions, stated once here and in the API docs:

- percentiles interpolate linearly between the closest ranks (numpy's default, ``statistics.quantiles``
  with ``method="inclusive"``);
- rates of how sessions end (``abandonment_rate``, ``dropoff_rate``) are over *ended* sessions: an active
  session has not abandoned or dropped off yet; ``error_session_rate`` is over all sessions;
- a session is abandoned when it ended with exactly one turn;
- cost figures are over sessions whose cost is known (an unpriced session is not a free one).

It runs over tens of thousands of sessions per request, so it makes one pass over plain row tuples
(``SessionRow``) instead of building an object per session. Whether a session ended or dropped off is
decided by ``intelligence.rules``, the same rules the engines' SQL filters use.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadline.server.intelligence.rules import DROPPED_OFF_BY, ENDED_BY

HISTOGRAM_TOP = 10
"""Turn counts from this one up share the last histogram bucket (``10+``)."""
DAY_NS = 86_400 * 10**9
HOUR_NS = 3_600 * 10**9

SessionRow = tuple[
    int,
    int,
    int,
    int,
    float | None,
    int,
    str | None,
    str | None,
    bool,
    Mapping[str, Any] | None,
    int | None,
    Sequence[int],
]
"""(first_ns, last_ns, duration_ns, turn_count, cost_usd, error_count, end_reason, last_action, converted,
client_dropoff, last_turn_number, turn latencies in ns): what analytics needs of a session, in this order."""


@dataclass(frozen=True, slots=True)
class TimeBucket:
    start_ns: int
    sessions: int
    dropped_off: int
    errored: int


@dataclass(frozen=True, slots=True)
class SessionAnalytics:
    """``/api/v1/analytics/sessions``: the definitions above."""

    session_count: int
    ended_session_count: int
    turn_count_avg: float | None
    turn_count_histogram: Mapping[str, int]
    abandonment_rate: float | None
    dropoff_rate: float | None
    dropoff_count: int
    dropoff_by_turn: Mapping[str, int]
    dropoff_by_last_action: Mapping[str, int]
    cost_avg_usd: float | None
    cost_p50_usd: float | None
    cost_p95_usd: float | None
    duration_p50_ms: float | None
    duration_p95_ms: float | None
    turn_latency_p50_ms: float | None
    turn_latency_p95_ms: float | None
    error_session_rate: float | None
    sessions_over_time: tuple[TimeBucket, ...] = field(default=())


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) of sorted values, interpolated between closest ranks; None if empty."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def session_analytics(
    rows: Sequence[SessionRow], now_ns: int, idle_timeout_ns: int, bucket_ns: int | None = None
) -> SessionAnalytics:
    cutoff = now_ns - idle_timeout_ns
    count = len(rows)
    ended = abandoned = dropped = dropped_ended = errored = turns_total = 0
    costs: list[float] = []
    durations: list[int] = []
    turn_counts: list[int] = []
    latencies: list[int] = []
    drop_turns: list[str] = []
    drop_actions: list[str] = []
    flags: list[tuple[int, bool, bool]] = []
    for first, last, duration, turns, cost, errors, end_reason, action, converted, client, last_turn, packed in rows:
        turns_total += turns
        turn_counts.append(turns)
        durations.append(duration)
        if cost is not None:
            costs.append(cost)
        latencies.extend(packed)
        is_ended = ENDED_BY(end_reason, last, converted, action, client, cutoff)
        if is_ended:
            ended += 1
            abandoned += turns == 1
        is_dropped = DROPPED_OFF_BY(end_reason, last, converted, action, client, cutoff)
        if is_dropped:
            dropped += 1
            dropped_ended += is_ended
            if client is not None:  # the client's drop-off values take precedence
                last_turn = client["last_turn"] if client.get("last_turn") is not None else last_turn
                action = client.get("agent_last_action") or action
            if last_turn is not None:
                drop_turns.append(str(last_turn))
            if action is not None:
                drop_actions.append(action)
        errored += errors > 0
        flags.append((first, is_dropped, errors > 0))
    costs.sort()
    durations.sort()
    ordered_latencies = sorted(latencies)
    histogram = Counter(min(n, HISTOGRAM_TOP) for n in turn_counts)
    return SessionAnalytics(
        session_count=count,
        ended_session_count=ended,
        turn_count_avg=turns_total / count if count else None,
        turn_count_histogram={_bucket(n): histogram[n] for n in sorted(histogram)},
        abandonment_rate=abandoned / ended if ended else None,
        dropoff_rate=dropped_ended / ended if ended else None,
        dropoff_count=dropped,
        dropoff_by_turn=dict(sorted(Counter(drop_turns).items(), key=lambda kv: int(kv[0]))),
        dropoff_by_last_action=dict(sorted(Counter(drop_actions).items())),
        cost_avg_usd=sum(costs) / len(costs) if costs else None,
        cost_p50_usd=percentile(costs, 50),
        cost_p95_usd=percentile(costs, 95),
        duration_p50_ms=_ms(percentile(durations, 50)),
        duration_p95_ms=_ms(percentile(durations, 95)),
        turn_latency_p50_ms=_ms(percentile(ordered_latencies, 50)),
        turn_latency_p95_ms=_ms(percentile(ordered_latencies, 95)),
        error_session_rate=errored / count if count else None,
        sessions_over_time=over_time(flags, bucket_ns),
    )


def _bucket(turns: int) -> str:
    return f"{HISTOGRAM_TOP}+" if turns >= HISTOGRAM_TOP else str(turns)


def _ms(ns: float | None) -> float | None:
    return ns / 1e6 if ns is not None else None


def over_time(starts: Sequence[tuple[int, bool, bool]], bucket_ns: int | None = None) -> tuple[TimeBucket, ...]:
    """Sessions started per bucket (an hour for windows up to two days, else a day), with how many
    dropped off and errored. ``starts``: (first_ns, dropped_off, errored) per session."""
    if not starts:
        return ()
    first = min(s[0] for s in starts)
    last = max(s[0] for s in starts)
    size = bucket_ns or (HOUR_NS if last - first <= 2 * DAY_NS else DAY_NS)
    buckets: dict[int, list[int]] = {}
    for start, dropped, errored in starts:
        counts = buckets.setdefault(start - start % size, [0, 0, 0])
        counts[0] += 1
        counts[1] += dropped
        counts[2] += errored
    return tuple(TimeBucket(start, c[0], c[1], c[2]) for start, c in sorted(buckets.items()))
