"""GET /api/v1/analytics/sessions and /api/v1/analytics/journeys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from threadline.server.api import params
from threadline.server.api.deps import DEFAULT_PROJECT, Runtime, runtime, stored_user_id
from threadline.server.api.schemas import ErrorBody, JourneyAnalytics, SessionAnalytics
from threadline.server.intelligence import analytics, journeys
from threadline.server.store.base import Window

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}}

Since = Annotated[str | None, Query(description="ISO 8601; sessions active at or after it")]
Until = Annotated[str | None, Query(description="ISO 8601; sessions that started at or before it")]


async def _window(rt: Runtime, since: str | None, until: str | None, user_id: str | None) -> Window:
    """The window; ``user_id`` as stored, or before hashing (see ``stored_user_id``)."""
    since_ns, until_ns = params.parse_timestamp("since", since), params.parse_timestamp("until", until)
    return Window(since_ns, until_ns, await run_in_threadpool(stored_user_id, rt, user_id) if user_id else None)


@router.get("/sessions", response_model=SessionAnalytics, responses=_ERRORS)
async def session_analytics(
    rt: Annotated[Runtime, Depends(runtime)], since: Since = None, until: Until = None, user_id: params.UserId = None
) -> dict[str, Any]:
    """Session counts, lengths, costs, durations, latencies, abandonment and drop-off over a window.

    Rates of how sessions end (abandonment, drop-off) are over ended sessions; percentiles interpolate
    between closest ranks; costs are over sessions whose cost is known.
    """
    window = await _window(rt, since, until, user_id)
    now = rt.clock()

    def compute() -> dict[str, Any]:
        rows = rt.store.session_rows(DEFAULT_PROJECT, window)
        return analytics.session_analytics(rows, now, rt.idle_timeout_ns)

    result = await run_in_threadpool(compute)
    for bucket in result["sessions_over_time"]:
        bucket["start"] = params.iso(bucket.pop("start_ns"))
    return result


@router.get("/journeys", response_model=JourneyAnalytics, responses=_ERRORS)
async def journey_analytics(
    rt: Annotated[Runtime, Depends(runtime)], since: Since = None, until: Until = None, user_id: params.UserId = None
) -> dict[str, Any]:
    """A funnel per journey: sessions that reached each stage, and conversions."""
    window = await _window(rt, since, until, user_id)
    rows = await run_in_threadpool(rt.store.session_journeys, DEFAULT_PROJECT, window)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)
    return {"journeys": [journeys.funnel(name, members) for name, members in sorted(by_name.items())]}
