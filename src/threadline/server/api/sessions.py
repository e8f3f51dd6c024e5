"""GET /api/v1/sessions and /api/v1/sessions/{session_id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from threadline.server import queries
from threadline.server.api import params, present
from threadline.server.api.deps import ProjectId, Runtime, runtime
from threadline.server.api.schemas import ErasureResult, ErrorBody, SessionDetail, SessionPage
from threadline.server.auth.access import Access, requires
from threadline.server.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["sessions"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}}

Text = Annotated[str | None, Query()]


@router.get("/sessions", response_model=SessionPage, responses=_ERRORS)
async def list_sessions(
    rt: Annotated[Runtime, Depends(runtime)],
    project: ProjectId,
    user_id: params.UserId = None,
    since: Annotated[str | None, Query(description="ISO 8601; sessions active at or after it")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; sessions that started at or before it")] = None,
    has_error: Annotated[str | None, Query(description="true / false")] = None,
    status: Annotated[str | None, Query(description="active / ended")] = None,
    dropped_off: Annotated[str | None, Query(description="true / false")] = None,
    min_turns: Annotated[str | None, Query(description="An integer, 0 or more")] = None,
    max_turns: Annotated[str | None, Query(description="An integer, 0 or more")] = None,
    model: Text = None,
    q: Annotated[
        str | None, Query(description="Text in the first input or last output; at most 1000 characters")
    ] = None,
    ordering: Annotated[
        str | None,
        Query(
            description="last_activity (default, newest first), first_activity, total_cost, total_tokens, "
            "duration, turn_count, error_count; ascending as named, descending with a leading '-'"
        ),
    ] = None,
    limit: Annotated[str | None, Query(description="1..500, default 50")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    raw = {
        "user_id": user_id, "since": since, "until": until, "has_error": has_error, "status": status,
        "dropped_off": dropped_off, "min_turns": min_turns, "max_turns": max_turns, "model": model, "q": q,
        "ordering": ordering, "limit": limit, "cursor": cursor,
    }  # fmt: skip
    return await run_in_threadpool(queries.session_page, rt, project, raw)


@router.get("/sessions/{session_id:text}", response_model=SessionDetail, responses=_ERRORS)
async def get_session(session_id: str, rt: Annotated[Runtime, Depends(runtime)], project: ProjectId) -> dict[str, Any]:
    return await run_in_threadpool(queries.session_detail, rt, project, session_id)


@router.delete(
    "/sessions/{session_id:text}",
    response_model=ErasureResult,
    responses=_ERRORS,
    dependencies=[Depends(requires(Access.WRITE))],
)
async def delete_session(
    session_id: str, rt: Annotated[Runtime, Depends(runtime)], project: ProjectId
) -> dict[str, Any]:
    """Erase a session: its spans, traces, turns and log events; its user's rollup is corrected."""
    erased = await rt.writer.erase_session(project, session_id)
    if erased is None:
        raise NotFound(
            f"No session {params.shorten(session_id)!r}: nothing to erase.", detail={"session_id": session_id}
        )
    rt.live.deleted(project, erased.sessions)
    return present.erasure(erased)
