"""The pages: sessions (with the drawer), a session, a trace, analytics, users, a user, orphan traces.

Each page reads through ``queries`` (the API's own read model) in one worker-thread call, then renders.
A value the API would refuse (a bad date, a forged cursor) shows on the page as the API's message, with
status 400; an unknown session, trace or user is a 404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from threadline.server import queries
from threadline.server.api.deps import Runtime, runtime
from threadline.server.auth.access import project_of
from threadline.server.errors import ApiError, NotFound
from threadline.server.web import layout, views
from threadline.server.web.templating import page, truncate_middle

router = APIRouter(include_in_schema=False)
RANKED = 5
"""Sessions in each of the analytics page's "slowest / costliest / longest" lists."""


def _refused(call: Callable[[], dict[str, Any]], empty: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``call()``, or ``empty`` and the API's message when it refuses a value."""
    try:
        return call(), None
    except ApiError as error:
        if isinstance(error, NotFound):
            raise
        return empty, error.message


def _shown(value: str) -> str:
    """An id as a message shows it: quoted, and cut in the middle past 80 characters."""
    return repr(truncate_middle(value, 80))


def _not_found(request: Request, message: str, back_href: str, back_label: str) -> HTMLResponse:
    return page("not_found.html", 404, message=message, back_href=back_href, back_label=back_label, request=request)


@router.get("/", response_class=HTMLResponse)
async def sessions(request: Request) -> HTMLResponse:
    rt = runtime(request)
    project = project_of(request)
    view = views.View.of("/", request.query_params.multi_items(), views.SESSION_FIELDS, {"ordering": "-last_activity"})
    now = rt.clock()

    def load() -> dict[str, Any]:
        stats = rt.store.stats(project)
        raw = view.api_params((*views.SESSION_FILTERS, "ordering", "cursor"), now)
        listing, error = _refused(lambda: queries.session_page(rt, project, raw), {"sessions": [], "next_cursor": None})
        drawer = None
        if view.open:
            try:
                drawer = views.session_page(queries.session_detail(rt, project, view.open))
            except NotFound:
                drawer = None
        return {
            "has_any_session": stats.session_count > 0,
            "total_sessions": stats.session_count,
            "orphan_trace_count": stats.orphan_trace_count,
            "models": rt.store.models(project),
            "sessions": listing["sessions"],
            "next_cursor": listing["next_cursor"],
            "error": error,
            "drawer": drawer,
        }

    context = await run_in_threadpool(load)
    return page(
        "sessions.html",
        400 if context["error"] else 200,
        view=view,
        ranges=views.RANGES,
        orderings=views.SESSION_ORDERINGS,
        base_url=str(request.base_url).rstrip("/"),
        stream_url=view.stream_url(now),
        **context,
        request=request,
    )


@router.get("/sessions/{session_id:text}", response_class=HTMLResponse)
async def session(request: Request, session_id: str) -> HTMLResponse:
    """The session's full page; with ``?fragment=1`` only its detail (for the drawer)."""
    rt = runtime(request)
    project = project_of(request)
    try:
        detail = await run_in_threadpool(lambda: views.session_page(queries.session_detail(rt, project, session_id)))
    except NotFound:
        return _not_found(request, f"No session {_shown(session_id)} here.", "/", "Back to the sessions")
    template = "_session_detail.html" if request.query_params.get("fragment") else "session.html"
    return page(template, detail=detail, request=request)


@router.get("/traces/{trace_id}", response_class=HTMLResponse)
async def trace(request: Request, trace_id: str) -> HTMLResponse:
    """The trace's span tree and waterfall; with ``?fragment=1`` only the tree (for a turn, expanded)."""
    rt = runtime(request)
    project = project_of(request)
    try:
        found = await run_in_threadpool(queries.trace, rt, project, trace_id)
    except (NotFound, ApiError):
        return _not_found(request, f"No trace {_shown(trace_id)} here.", "/", "Back to the sessions")
    tree = views.trace_page(found)
    template = "_span_tree.html" if request.query_params.get("fragment") else "trace.html"
    return page(template, tree=tree, session_id=found["session_id"], request=request)


@router.get("/traces", response_class=HTMLResponse)
async def orphan_traces(request: Request) -> HTMLResponse:
    rt = runtime(request)
    project = project_of(request)
    cursor = request.query_params.get("cursor") or None
    raw = {"orphan": "true", "cursor": cursor}
    listing, error = await run_in_threadpool(
        lambda: _refused(lambda: queries.orphan_traces(rt, project, raw), {"traces": [], "next_cursor": None})
    )
    return page("orphans.html", 400 if error else 200, error=error, cursor=cursor, **listing, request=request)


@router.get("/analytics", response_class=HTMLResponse)
async def analytics(request: Request) -> HTMLResponse:
    rt = runtime(request)
    project = project_of(request)
    view = views.View.of("/analytics", request.query_params.multi_items(), views.ANALYTICS_FIELDS)
    now = rt.clock()
    raw = view.api_params(("user_id",), now)

    def load() -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            ranked = {}
            for name, ordering in (("slowest", "-duration"), ("costliest", "-total_cost"), ("longest", "-turn_count")):
                listing = queries.session_page(rt, project, {**raw, "ordering": ordering, "limit": str(RANKED)})
                ranked[name] = listing["sessions"]
            return {
                "sessions": queries.session_analytics(rt, project, raw),
                "journeys": queries.journey_analytics(rt, project, raw)["journeys"],
                **ranked,
            }

        empty: dict[str, Any] = {"sessions": None, "journeys": [], "slowest": [], "costliest": [], "longest": []}
        result, error = _refused(compute, empty)
        return {**result, "error": error}

    context = await run_in_threadpool(load)
    if context["sessions"] is None:
        context["sessions"] = await run_in_threadpool(queries.session_analytics, rt, project, {})
    return page(
        "analytics.html",
        400 if context["error"] else 200,
        view=view,
        ranges=views.RANGES,
        charts=charts(context["sessions"]),
        **context,
        request=request,
    )


def charts(result: dict[str, Any]) -> dict[str, Any]:
    """The analytics charts' series, for the page's script (x values, y values, labels)."""
    over_time = result["sessions_over_time"]
    histogram = list(result["turn_count_histogram"].items())
    return {
        "over_time": {
            "time": True,
            "x": [layout.ms(b["start"]) / 1000 for b in over_time],
            "y": [b["sessions"] for b in over_time],
            "x_label": "from",
            "y_label": "sessions",
        },
        "turns": {
            "time": False,
            "x": list(range(len(histogram))),
            "y": [count for _, count in histogram],
            "labels": [label for label, _ in histogram],
            "x_label": "turns",
            "y_label": "sessions",
        },
    }


@router.get("/users", response_class=HTMLResponse)
async def users(request: Request) -> HTMLResponse:
    rt = runtime(request)
    project = project_of(request)
    view = views.View.of("/users", request.query_params.multi_items(), views.USER_FIELDS, {"ordering": "-last_seen"})
    raw = view.api_params(("returning", "ordering", "cursor"), rt.clock())
    listing, error = await run_in_threadpool(
        lambda: _refused(lambda: queries.user_page(rt, project, raw), {"users": [], "next_cursor": None})
    )
    return page(
        "users.html", 400 if error else 200, view=view, ranges=views.RANGES, error=error, **listing, request=request
    )


@router.get("/users/{user_id:text}", response_class=HTMLResponse)
async def user(request: Request, user_id: str) -> HTMLResponse:
    """A user's rollup, retention and sessions (paged)."""
    rt: Runtime = runtime(request)
    project = project_of(request)
    cursor = request.query_params.get("cursor") or None

    def load() -> tuple[dict[str, Any], dict[str, Any], str | None]:
        detail = queries.user_detail(rt, project, user_id)
        listing, error = _refused(
            lambda: queries.session_page(rt, project, {"user_id": detail["user_id"], "cursor": cursor}),
            {"sessions": [], "next_cursor": None},
        )
        return detail, listing, error

    try:
        detail, listing, error = await run_in_threadpool(load)
    except NotFound:
        return _not_found(request, f"No user {_shown(user_id)} here.", "/users", "Back to the users")
    return page("user.html", 400 if error else 200, user=detail, cursor=cursor, error=error, **listing, request=request)
