"""Session lifecycle ("status" in docs/concepts.md). Pure.

Two halves:

- ``timeline`` runs when a session's traces change: walking its activity in time order, it counts the
  times the session came back after ending (a gap longer than the idle timeout, or activity after an
  explicit end: ``reopened_count``) and whether it currently stands explicitly ended.
- ``lifecycle`` runs at read time, with the clock: explicitly ended, ended by the idle timeout, or
  active. Timestamps, not arrival times, decide, so a bulk import of old sessions reads as ended.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from threadline.server.intelligence.rules import ENDED_BY

INACTIVE_TIMEOUT = "inactive_timeout"


@dataclass(frozen=True, slots=True)
class Activity:
    """One trace of a session, in time: a turn's trace or a session event."""

    start_ns: int
    end_ns: int
    end_reason: str | None = None
    """``session.end_reason`` carried by this activity (an explicit end)."""


@dataclass(frozen=True, slots=True)
class Timeline:
    reopened_count: int
    end_reason: str | None
    """The explicit end the session stands in, if no activity followed it."""
    ended_ns: int | None


def timeline(activities: Iterable[Activity], idle_timeout_ns: int) -> Timeline:
    reopened = 0
    end_reason: str | None = None
    ended_ns: int | None = None
    last_end: int | None = None
    for activity in sorted(activities, key=lambda a: (a.start_ns, a.end_ns)):
        if last_end is not None:
            after_explicit_end = ended_ns is not None and activity.start_ns > ended_ns
            after_idle_end = activity.start_ns - last_end > idle_timeout_ns
            if after_explicit_end or after_idle_end:
                reopened += 1
            if after_explicit_end:
                end_reason, ended_ns = None, None
        if activity.end_reason:
            end_reason, ended_ns = activity.end_reason, max(activity.end_ns, activity.start_ns)
        last_end = max(last_end or 0, activity.end_ns, activity.start_ns)
    return Timeline(reopened, end_reason, ended_ns)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    status: str
    """``active`` or ``ended``."""
    end_reason: str | None
    ended_ns: int | None
    idle_time_ms: float
    """Time since the last activity."""


def lifecycle(
    last_ns: int, now_ns: int, idle_timeout_ns: int, end_reason: str | None = None, ended_ns: int | None = None
) -> Lifecycle:
    """Ended by an explicit end, or by ``idle_timeout_ns`` without activity (``rules.ENDED``); else active."""
    idle_ns = max(now_ns - last_ns, 0)
    if end_reason:
        return Lifecycle("ended", end_reason, ended_ns if ended_ns is not None else last_ns, idle_ns / 1e6)
    if ENDED_BY(None, last_ns, False, None, None, now_ns - idle_timeout_ns):
        return Lifecycle("ended", INACTIVE_TIMEOUT, last_ns + idle_timeout_ns, idle_ns / 1e6)
    return Lifecycle("active", None, None, idle_ns / 1e6)
