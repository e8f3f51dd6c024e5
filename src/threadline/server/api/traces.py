"""GET /api/v1/traces/{trace_id} (the span tree) and GET /api/v1/traces?orphan=true."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from threadline.server import queries
from threadline.server.api import params
from threadline.server.api.deps import ProjectId, Runtime, runtime
from threadline.server.api.schemas import ErrorBody, OrphanTracePage, Trace

router = APIRouter(prefix="/api/v1", tags=["traces"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}}


@router.get("/traces", response_model=OrphanTracePage, responses=_ERRORS)
async def list_orphan_traces(
    rt: Annotated[Runtime, Depends(runtime)],
    project: ProjectId,
    orphan: Annotated[str | None, Query(description="must be true: traces that name no session")] = None,
    limit: Annotated[str | None, Query(description="1..500, default 50")] = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    return await run_in_threadpool(
        queries.orphan_traces, rt, project, {"orphan": orphan, "limit": limit, "cursor": cursor}
    )


@router.get("/traces/{trace_id}", response_model=Trace, responses=_ERRORS)
async def get_trace(trace_id: str, rt: Annotated[Runtime, Depends(runtime)], project: ProjectId) -> dict[str, Any]:
    return await run_in_threadpool(queries.trace, rt, project, trace_id)
