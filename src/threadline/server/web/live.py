"""GET /ui/stream: the sessions page's live rows, as Server-Sent Events of rendered table rows.

The page connects with its filters and ordering. Whenever sessions change, those that still match the
filters arrive as ``event: row`` (the ``<tr>`` the page would render); the others, and erased sessions,
as ``event: gone`` with the session id. The page replaces rows in place, and inserts new sessions at the
top when it shows the newest first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from threadline.server import queries
from threadline.server.api.deps import runtime
from threadline.server.api.stream import KEEPALIVE_S
from threadline.server.auth.access import project_of
from threadline.server.errors import ApiError
from threadline.server.live import DELETED
from threadline.server.web import views
from threadline.server.web.templating import environment

router = APIRouter(include_in_schema=False)


def event(name: str, data: str) -> bytes:
    """One Server-Sent Event; a multi-line payload becomes several ``data:`` lines."""
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {name}\n{lines}\n".encode()


@router.get("/ui/stream")
async def live_rows(request: Request) -> StreamingResponse:
    rt = runtime(request)
    project = project_of(request)
    fields = (*views.SESSION_FILTERS, "ordering", "since", "until")
    raw = {name: request.query_params.get(name) for name in fields}
    subscription = rt.live.subscribe(project)
    row = environment().get_template("_macros.html").module.session_row  # type: ignore[attr-defined]

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n: connected\n\n"
            while not await request.is_disconnected():
                pending = await subscription.next(KEEPALIVE_S)
                if subscription.closed:
                    return
                if not pending:
                    yield b": keepalive\n\n"
                    continue
                changed = [k for k, kind in pending.items() if kind != DELETED]
                try:
                    rows = (
                        await run_in_threadpool(queries.matching_sessions, rt, project, raw, changed) if changed else []
                    )
                except ApiError as error:  # the page's filters are refused: say so once, and stop
                    yield event("refused", error.message)
                    return
                for summary in rows:
                    yield event("row", str(row(summary)))
                kept = {summary["session_id"] for summary in rows}
                for session_id in pending:
                    if session_id not in kept:
                        yield event("gone", session_id)
        finally:
            subscription.close()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
