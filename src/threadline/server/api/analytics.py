"""GET /api/v1/analytics/sessions and /api/v1/analytics/journeys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from threadline.server import queries
from threadline.server.api import params
from threadline.server.api.deps import ProjectId, Runtime, runtime
from threadline.server.api.schemas import ErrorBody, JourneyAnalytics, SessionAnalytics

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}}

Since = Annotated[str | None, Query(description="ISO 8601; sessions active at or after it")]
Until = Annotated[str | None, Query(description="ISO 8601; sessions that started at or before it")]


@router.get("/sessions", response_model=SessionAnalytics, responses=_ERRORS)
async def session_analytics(
    rt: Annotated[Runtime, Depends(runtime)],
    project: ProjectId,
    since: Since = None,
    until: Until = None,
    user_id: params.UserId = None,
) -> dict[str, Any]:
    """Session counts, lengths, costs, durations, latencies, abandonment and drop-off over a window.

    Rates of how sessions end (abandonment, drop-off) are over ended sessions; percentiles interpolate
    between closest ranks; costs are over sessions whose cost is known.
    """
    raw = {"since": since, "until": until, "user_id": user_id}
    return await run_in_threadpool(queries.session_analytics, rt, project, raw)


@router.get("/journeys", response_model=JourneyAnalytics, responses=_ERRORS)
async def journey_analytics(
    rt: Annotated[Runtime, Depends(runtime)],
    project: ProjectId,
    since: Since = None,
    until: Until = None,
    user_id: params.UserId = None,
) -> dict[str, Any]:
    """A funnel per journey: sessions that reached each stage, and conversions."""
    raw = {"since": since, "until": until, "user_id": user_id}
    return await run_in_threadpool(queries.journey_analytics, rt, project, raw)
