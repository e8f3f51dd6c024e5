"""The read model: what the API answers and the pages show, computed once for both.

Each function takes the running server and the request's raw values (named as in the API), validates
them (``BadRequest`` names the bad value), reads the store and returns the API's JSON shape. They block
on the store: call them from a worker thread. ``api/`` serializes their results, ``web/`` renders them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from threadline.server.api import params, present
from threadline.server.api.deps import Runtime, stored_user_id, user_forms
from threadline.server.errors import BadRequest, NotFound
from threadline.server.intelligence import journeys
from threadline.server.store.base import USER_ORDERINGS, Rules, SessionQuery, UserQuery, Window
from threadline.server.store.records import BadCursor, JourneyProgress, Page

T = TypeVar("T")
Raw = Mapping[str, str | None]
"""Request values by their API names; missing and empty mean "not given"."""

SESSION_LIST_PARAMETERS = (
    "user_id", "since", "until", "has_error", "status", "dropped_off", "min_turns", "max_turns", "model", "q",
    "ordering", "limit", "cursor",
)  # fmt: skip


def session_query(rt: Runtime, project: int, raw: Raw) -> tuple[SessionQuery, str]:
    """The session list's filters, ordering and position from raw values; and the ordering's cursor kind."""
    name, descending = params.parse_ordering(raw.get("ordering"))
    query = SessionQuery(
        since_ns=params.parse_timestamp("since", raw.get("since")),
        until_ns=params.parse_timestamp("until", raw.get("until")),
        has_error=params.parse_bool("has_error", raw.get("has_error")),
        status=params.parse_choice("status", raw.get("status"), ("active", "ended")),
        dropped_off=params.parse_bool("dropped_off", raw.get("dropped_off")),
        now_ns=rt.clock(),
        idle_timeout_ns=rt.idle_timeout_ns,
        min_turns=params.parse_int("min_turns", raw.get("min_turns")),
        max_turns=params.parse_int("max_turns", raw.get("max_turns")),
        model=raw.get("model") or None,
        q=params.parse_text("q", raw.get("q")),
        ordering=name,
        descending=descending,
        limit=params.parse_limit(raw.get("limit")),
    )
    kind = ("-" if descending else "") + name
    query.after = params.decode_cursor(raw.get("cursor"), kind)
    query.user_id = stored_user_id(rt, project, raw.get("user_id"))
    return query, kind


def _paged(read: Callable[[], Page[T]], raw: Raw) -> Page[T]:
    """``read()``, with a cursor the engine refuses answered as the request's mistake."""
    try:
        return read()
    except BadCursor:
        raise params.bad_cursor(str(raw.get("cursor"))) from None


def _next(kind: str, page: Page[Any]) -> str | None:
    return params.encode_cursor(kind, page.next_cursor) if page.next_cursor else None


def session_page(rt: Runtime, project: int, raw: Raw) -> dict[str, Any]:
    """``GET /api/v1/sessions``: one page of session summaries and the cursor of the next."""
    query, kind = session_query(rt, project, raw)
    page = _paged(lambda: rt.store.list_sessions(project, query), raw)
    return {
        "sessions": [present.session_summary(row, query.now_ns, rt.idle_timeout_ns) for row in page.items],
        "next_cursor": _next(kind, page),
    }


def matching_sessions(rt: Runtime, project: int, raw: Raw, session_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The summaries of those of ``session_ids`` that the list's filters (``raw``) keep."""
    query, _ = session_query(rt, project, {**raw, "cursor": None, "limit": None})
    query.session_ids = list(session_ids)
    query.limit = max(len(session_ids), 1)
    rows = rt.store.list_sessions(project, query).items
    return [present.session_summary(row, query.now_ns, rt.idle_timeout_ns) for row in rows]


def session_detail(rt: Runtime, project: int, session_id: str) -> dict[str, Any]:
    """``GET /api/v1/sessions/{id}``: the session with its turns, conversations, journeys and drop-off."""
    found = rt.store.get_session(project, session_id)
    if found is None:
        raise NotFound(
            f"No session {params.shorten(session_id)!r}. List sessions with GET /api/v1/sessions.",
            detail={"session_id": session_id},
        )
    return present.session_detail(found, rt.clock(), rt.idle_timeout_ns, rt.preparer.prices.context_window)


def trace(rt: Runtime, project: int, trace_id: str) -> dict[str, Any]:
    """``GET /api/v1/traces/{id}``: the span tree of a stored trace, and its session (None: an orphan)."""
    raw_id = params.parse_hex_id("trace_id", trace_id.lower(), 16)
    found = rt.store.trace(project, raw_id)
    if found is None:
        raise NotFound(f"No trace {trace_id!r}.", detail={"trace_id": trace_id})
    rows = rt.store.trace_spans(project, raw_id)
    return {
        "trace_id": raw_id.hex(),
        "session_id": found.session_id,
        "span_count": len(rows),
        "spans": present.span_tree(rows),
    }


def orphan_traces(rt: Runtime, project: int, raw: Raw) -> dict[str, Any]:
    """``GET /api/v1/traces?orphan=true``: traces that name no session, newest first."""
    if params.parse_bool("orphan", raw.get("orphan")) is not True:
        raise BadRequest(
            "Only orphan traces are listed here: add orphan=true. Session traces are listed per session "
            "(GET /api/v1/sessions/{session_id}).",
            code="bad_parameter",
            detail={"parameter": "orphan"},
        )
    size = params.parse_limit(raw.get("limit"))
    after = params.decode_cursor(raw.get("cursor"), "orphans")
    page = _paged(lambda: rt.store.list_orphan_traces(project, size, after), raw)
    return {
        "traces": [
            {
                "trace_id": r.trace_id.hex(),
                "root_name": r.root_name,
                "start_time": params.iso(r.start_ns),
                "end_time": params.iso(r.end_ns),
                "span_count": r.span_count,
            }
            for r in page.items
        ],
        "next_cursor": _next("orphans", page),
    }


def user_page(rt: Runtime, project: int, raw: Raw) -> dict[str, Any]:
    """``GET /api/v1/users``: one page of user rollups."""
    name, descending = params.parse_ordering(raw.get("ordering"), USER_ORDERINGS, default="last_seen")
    kind = ("-" if descending else "") + name
    query = UserQuery(
        ordering=name,
        descending=descending,
        limit=params.parse_limit(raw.get("limit")),
        since_ns=params.parse_timestamp("since", raw.get("since")),
        until_ns=params.parse_timestamp("until", raw.get("until")),
        returning=params.parse_bool("returning", raw.get("returning")),
    )
    query.after = params.decode_cursor(raw.get("cursor"), kind)
    page = _paged(lambda: rt.store.list_users(project, query), raw)
    return {"users": [present.user(row) for row in page.items], "next_cursor": _next(kind, page)}


def user_detail(rt: Runtime, project: int, user_id: str) -> dict[str, Any]:
    """``GET /api/v1/users/{id}``: the rollup and 50 most recent sessions; ``user_id`` as stored or as the
    application knows it (hashed with the server's salt)."""
    now = rt.clock()
    for form in user_forms(rt, user_id):
        row = rt.store.get_user(project, form)
        if row is not None:
            query = SessionQuery(user_id=form, now_ns=now, idle_timeout_ns=rt.idle_timeout_ns)
            sessions = rt.store.list_sessions(project, query).items
            detail = present.user(row)
            detail["recent_sessions"] = [present.session_summary(s, now, rt.idle_timeout_ns) for s in sessions]
            return detail
    raise NotFound(
        f"No user {params.shorten(user_id)!r}, as given or hashed with the server's user_id_salt. "
        "List users with GET /api/v1/users.",
        detail={"user_id": user_id},
    )


def window(rt: Runtime, project: int, raw: Raw) -> Window:
    """An analytics window; ``user_id`` as stored, or before hashing."""
    since_ns = params.parse_timestamp("since", raw.get("since"))
    until_ns = params.parse_timestamp("until", raw.get("until"))
    return Window(since_ns, until_ns, stored_user_id(rt, project, raw.get("user_id")))


def session_analytics(rt: Runtime, project: int, raw: Raw) -> dict[str, Any]:
    """``GET /api/v1/analytics/sessions`` over the window in ``raw``."""
    result = rt.store.session_analytics(project, window(rt, project, raw), Rules(rt.clock(), rt.idle_timeout_ns))
    return present.session_analytics(result)


def journey_analytics(rt: Runtime, project: int, raw: Raw) -> dict[str, Any]:
    """``GET /api/v1/analytics/journeys``: a funnel per journey over the window in ``raw``."""
    by_name: dict[str, list[JourneyProgress]] = {}
    for row in rt.store.journey_progress(project, window(rt, project, raw)):
        by_name.setdefault(row.name, []).append(row)
    return {"journeys": [journeys.funnel(name, members) for name, members in sorted(by_name.items())]}
