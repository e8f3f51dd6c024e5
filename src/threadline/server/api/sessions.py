"""GET /api/v1/sessions and /api/v1/sessions/{session_id}."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from threadline.server.api import params, present
from threadline.server.api.deps import DEFAULT_PROJECT, Runtime, runtime, stored_user_id
from threadline.server.api.schemas import ErasureResult, ErrorBody, SessionDetail, SessionPage
from threadline.server.errors import NotFound
from threadline.server.store.base import Page, SessionQuery

router = APIRouter(prefix="/api/v1", tags=["sessions"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorBody}, 404: {"model": ErrorBody}}

Text = Annotated[str | None, Query()]


@router.get("/sessions", response_model=SessionPage, responses=_ERRORS)
async def list_sessions(
    rt: Annotated[Runtime, Depends(runtime)],
    user_id: params.UserId = None,
    since: Annotated[str | None, Query(description="ISO 8601; sessions active at or after it")] = None,
    until: Annotated[str | None, Query(description="ISO 8601; sessions that started at or before it")] = None,
    has_error: Annotated[str | None, Query(description="true / false")] = None,
    status: Annotated[str | None, Query(description="active / ended")] = None,
    dropped_off: Annotated[str | None, Query(description="true / false")] = None,
    min_turns: Text = None,
    max_turns: Text = None,
    model: Text = None,
    q: Annotated[str | None, Query(description="Text in the first input or last output")] = None,
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
    name, descending = params.parse_ordering(ordering)
    query = SessionQuery(
        since_ns=params.parse_timestamp("since", since),
        until_ns=params.parse_timestamp("until", until),
        has_error=params.parse_bool("has_error", has_error),
        status=params.parse_choice("status", status, ("active", "ended")),
        dropped_off=params.parse_bool("dropped_off", dropped_off),
        now_ns=rt.clock(),
        idle_timeout_ns=rt.idle_timeout_ns,
        min_turns=params.parse_int("min_turns", min_turns),
        max_turns=params.parse_int("max_turns", max_turns),
        model=model or None,
        q=q or None,
        ordering=name,
        descending=descending,
        limit=params.parse_limit(limit),
    )
    kind = ("-" if descending else "") + name
    after = params.decode_cursor(cursor, kind, 2)
    if after is not None:
        query.after = (after[0], after[1])

    def load() -> Page:
        query.user_id = stored_user_id(rt, user_id)
        return rt.store.list_sessions(DEFAULT_PROJECT, query)

    page = await run_in_threadpool(load)
    now = query.now_ns
    return {
        "sessions": [present.session_summary(row, now, rt.idle_timeout_ns) for row in page.rows],
        "next_cursor": params.encode_cursor(kind, page.next_after) if page.next_after else None,
    }


@router.get("/sessions/{session_id:path}", response_model=SessionDetail, responses=_ERRORS)
async def get_session(session_id: str, rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    def load() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        row = rt.store.get_session(DEFAULT_PROJECT, session_id)
        return row, (rt.store.get_turns(DEFAULT_PROJECT, row["pk"]) if row else [])

    row, turn_rows = await run_in_threadpool(load)
    if row is None:
        raise NotFound(
            f"No session {session_id!r}. List sessions with GET /api/v1/sessions.",
            detail={"session_id": session_id},
        )
    return present.session_detail(row, turn_rows, rt.clock(), rt.idle_timeout_ns, rt.preparer.prices.context_window)


@router.delete("/sessions/{session_id:path}", response_model=ErasureResult, responses=_ERRORS)
async def delete_session(session_id: str, rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    """Erase a session: its spans, traces, turns and log events; its user's rollup is corrected."""
    erased = await asyncio.wrap_future(
        rt.writer.call(lambda txn, stitcher: stitcher.erase_session(txn, DEFAULT_PROJECT, session_id))
    )
    if erased is None:
        raise NotFound(f"No session {session_id!r}: nothing to erase.", detail={"session_id": session_id})
    rt.live.deleted(erased.sessions)
    return present.erasure(erased)
