"""GET /api/v1/users, GET and DELETE /api/v1/users/{user_id}.

A user id is matched as given and hashed with the server's ``user_id_salt`` (as the SDK stores it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from threadline.server import queries
from threadline.server.api import params, present
from threadline.server.api.deps import ProjectId, Runtime, runtime, user_forms
from threadline.server.api.schemas import ErasureResult, ErrorBody, UserDetail, UserPage
from threadline.server.auth.access import Access, requires
from threadline.server.errors import NotFound

router = APIRouter(prefix="/api/v1/users", tags=["users"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}}


@router.get("", response_model=UserPage, responses=_ERRORS)
async def list_users(
    rt: Annotated[Runtime, Depends(runtime)],
    project: ProjectId,
    since: Annotated[str | None, Query(description="ISO 8601; users seen at or after it")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; users first seen at or before it")] = None,
    returning: Annotated[str | None, Query(description="true: more than one session")] = None,
    ordering: Annotated[
        str | None,
        Query(
            description="last_seen (default, newest first), first_seen, session_count, turn_count, total_cost; "
            "ascending as named, descending with a leading '-'"
        ),
    ] = None,
    limit: Annotated[str | None, Query(description="1..500, default 50")] = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    raw = {
        "since": since,
        "until": until,
        "returning": returning,
        "ordering": ordering,
        "limit": limit,
        "cursor": cursor,
    }
    return await run_in_threadpool(queries.user_page, rt, project, raw)


@router.get("/{user_id:text}", response_model=UserDetail, responses=_ERRORS)
async def get_user(user_id: str, rt: Annotated[Runtime, Depends(runtime)], project: ProjectId) -> dict[str, Any]:
    """The user's rollup and their 50 most recent sessions. ``user_id`` as stored, or before hashing."""
    return await run_in_threadpool(queries.user_detail, rt, project, user_id)


@router.delete(
    "/{user_id:text}",
    response_model=ErasureResult,
    responses=_ERRORS,
    dependencies=[Depends(requires(Access.WRITE))],
)
async def delete_user(user_id: str, rt: Annotated[Runtime, Depends(runtime)], project: ProjectId) -> dict[str, Any]:
    """Erase a user: their sessions, turns, spans and the orphan traces that name them.

    Both forms of ``user_id`` are erased: as given, and hashed with the server's ``user_id_salt``.
    """
    erased = await rt.writer.erase_user(project, user_forms(rt, user_id))
    if not erased.sessions and not erased.trace_ids:
        raise NotFound(f"No user {params.shorten(user_id)!r}: nothing to erase.", detail={"user_id": user_id})
    rt.live.deleted(project, erased.sessions)
    return present.erasure(erased)
