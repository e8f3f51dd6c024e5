"""GET /api/v1/stream: Server-Sent Events, one ``session`` event whenever a session changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from threadline.server.api import params, present
from threadline.server.api.deps import ProjectId, Runtime, runtime, user_forms
from threadline.server.live import DELETED

router = APIRouter(prefix="/api/v1", tags=["live"], dependencies=[Depends(params.known_parameters)])
KEEPALIVE_S = 15.0


@router.get("/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    project: ProjectId,
    session_id: Annotated[str | None, Query(description="only this session")] = None,
    user_id: Annotated[
        str | None, Query(description="only this user's sessions (as stored, or before hashing)")
    ] = None,
) -> StreamingResponse:
    """``event: session`` with the session's summary (as in the list) whenever it changes, including
    when it ends by inactivity; ``event: deleted`` when it is erased. Comments keep the connection alive."""
    users = set(user_forms(rt, user_id)) if user_id is not None else None
    subscription = rt.live.subscribe(project)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n: connected\n\n"
            while not await request.is_disconnected():
                pending = await subscription.next(KEEPALIVE_S)
                if subscription.closed:
                    return
                if session_id is not None:
                    pending = {k: v for k, v in pending.items() if k == session_id}
                if not pending:
                    yield b": keepalive\n\n"
                    continue
                changed = [k for k, kind in pending.items() if kind != DELETED]
                rows = await run_in_threadpool(rt.store.get_sessions, project, changed) if changed else []
                now = rt.clock()
                for row in rows:
                    if users is None or row.user_id in users:
                        summary = present.session_summary(row, now, rt.idle_timeout_ns)
                        yield b"event: session\ndata: " + orjson.dumps(summary) + b"\n\n"
                for deleted in (k for k, kind in pending.items() if kind == DELETED):
                    yield b"event: deleted\ndata: " + orjson.dumps({"session_id": deleted}) + b"\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
