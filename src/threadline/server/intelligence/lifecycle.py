"""Session lifecycle at a given moment: active or ended, and why. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadline import semconv as sc

INACTIVE_TIMEOUT = "inactive_timeout"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    status: str
    end_reason: str | None
    idle_time_ms: float


def lifecycle(last_ns: int, now_ns: int, idle_timeout_ns: int, attributes: dict[str, Any]) -> Lifecycle:
    """Ended by an explicit ``session.end_reason``, or by ``idle_timeout_ns`` without activity."""
    idle_ns = max(now_ns - last_ns, 0)
    explicit = attributes.get(sc.SESSION_END_REASON)
    if isinstance(explicit, str) and explicit:
        return Lifecycle("ended", explicit, idle_ns / 1e6)
    if idle_ns >= idle_timeout_ns:
        return Lifecycle("ended", INACTIVE_TIMEOUT, idle_ns / 1e6)
    return Lifecycle("active", None, idle_ns / 1e6)
