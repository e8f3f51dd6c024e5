"""GET /api/v1/traces/{trace_id} (the span tree) and GET /api/v1/traces?orphan=true."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from threadline.server.api import params, present
from threadline.server.api.deps import DEFAULT_PROJECT, Runtime, runtime
from threadline.server.api.schemas import ErrorBody, OrphanTracePage, Trace
from threadline.server.errors import BadRequest, NotFound

router = APIRouter(prefix="/api/v1", tags=["traces"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}}


@router.get("/traces", response_model=OrphanTracePage, responses=_ERRORS)
async def list_orphan_traces(
    rt: Annotated[Runtime, Depends(runtime)],
    orphan: Annotated[str | None, Query(description="must be true: traces that name no session")] = None,
    limit: Annotated[str | None, Query(description="1..500, default 50")] = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    if params.parse_bool("orphan", orphan) is not True:
        raise BadRequest(
            "Only orphan traces are listed here: add orphan=true. Session traces are listed per session "
            "(GET /api/v1/sessions/{session_id}).",
            code="bad_parameter",
            detail={"parameter": "orphan"},
        )
    size = params.parse_limit(limit)
    position = params.decode_cursor(cursor, "orphans", 2)
    after = None
    if position is not None:
        if not all(isinstance(p, int) for p in position):
            raise params.bad_parameter("cursor", cursor, "the next_cursor value of a previous page, unchanged")
        after = (position[0], position[1])
    rows = await run_in_threadpool(rt.store.list_orphan_traces, DEFAULT_PROJECT, size + 1, after)
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = params.encode_cursor("orphans", (rows[-1]["start_ns"], rows[-1]["pk"]))
    return {
        "traces": [
            {
                "trace_id": r["trace_id"].hex(),
                "root_name": r["root_name"],
                "start_time": params.iso(r["start_ns"]),
                "end_time": params.iso(r["end_ns"]),
                "span_count": r["span_count"],
            }
            for r in rows
        ],
        "next_cursor": next_cursor,
    }


@router.get("/traces/{trace_id}", response_model=Trace, responses=_ERRORS)
async def get_trace(trace_id: str, rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    raw_id = params.parse_hex_id("trace_id", trace_id.lower(), 16)

    def load() -> tuple[tuple[bool, str | None], list[Any]]:
        return rt.store.trace_session(DEFAULT_PROJECT, raw_id), rt.store.get_trace_spans(DEFAULT_PROJECT, raw_id)

    (found, session_id), rows = await run_in_threadpool(load)
    if not found:
        raise NotFound(f"No trace {trace_id!r}.", detail={"trace_id": trace_id})
    return {
        "trace_id": raw_id.hex(),
        "session_id": session_id,
        "span_count": len(rows),
        "spans": present.span_tree(rows),
    }
