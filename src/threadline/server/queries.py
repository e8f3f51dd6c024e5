"""The read model: what the API answers and the pages show, computed once for both.

Each function takes the running server and the request's raw values (named as in the API), validates
them (``BadRequest`` names the bad value), reads the store and returns the API's JSON shape. They block
on the store: call them from a worker thread. ``api/`` serializes their results, ``web/`` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from threadline.server.api import params, present
from threadline.server.api.deps import Runtime, stored_user_id, user_forms
from threadline.server.errors import BadRequest, NotFound
from threadline.server.intelligence import analytics, journeys
from threadline.server.store.base import USER_ORDERINGS, SessionQuery, UserQuery, Window

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
    after = params.decode_cursor(raw.get("cursor"), kind, params.SESSION_POSITIONS[name])
    if after is not None:
        query.after = (after[0], after[1])
    query.user_id = stored_user_id(rt, project, raw.get("user_id"))
    return query, kind


def session_page(rt: Runtime, project: int, raw: Raw) -> dict[str, Any]:
    """``GET /api/v1/sessions``: one page of session summaries and the cursor of the next."""
    query, kind = session_query(rt, project, raw)
    page = rt.store.list_sessions(project, query)
    return {
        "sessions": [present.session_summary(row, query.now_ns, rt.idle_timeout_ns) for row in page.rows],
        "next_cursor": params.encode_cursor(kind, page.next_after) if page.next_after else None,
    }


def matching_sessions(rt: Runtime, project: int, raw: Raw, session_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The summaries of those of ``session_ids`` that the list's filters (``raw``) keep."""
    query, _ = session_query(rt, project, {**raw, "cursor": None, "limit": None})
    query.session_ids = list(session_ids)
    query.limit = max(len(session_ids), 1)
    rows = rt.store.list_sessions(project, query).rows
    return [present.session_summary(row, query.now_ns, rt.idle_timeout_ns) for row in rows]


def session_detail(rt: Runtime, project: int, session_id: str) -> dict[str, Any]:
    """``GET /api/v1/sessions/{id}``: the session with its turns, conversations, journeys and drop-off."""
    row = rt.store.get_session(project, session_id)
    if row is None:
        raise NotFound(
            f"No session {params.shorten(session_id)!r}. List sessions with GET /api/v1/sessions.",
            detail={"session_id": session_id},
        )
    turns = rt.store.get_turns(project, row["pk"])
    return present.session_detail(row, turns, rt.clock(), rt.idle_timeout_ns, rt.preparer.prices.context_window)


def trace(rt: Runtime, project: int, trace_id: str) -> dict[str, Any]:
    """``GET /api/v1/traces/{id}``: the span tree of a stored trace, and its session (None: an orphan)."""
    raw_id = params.parse_hex_id("trace_id", trace_id.lower(), 16)
    found, session_id = rt.store.trace_session(project, raw_id)
    if not found:
        raise NotFound(f"No trace {trace_id!r}.", detail={"trace_id": trace_id})
    rows = rt.store.get_trace_spans(project, raw_id)
    return {
        "trace_id": raw_id.hex(),
        "session_id": session_id,
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
    position = params.decode_cursor(raw.get("cursor"), "orphans", params.ORPHAN_POSITION)
    after = None if position is None else (position[0], position[1])
    rows = rt.store.list_orphan_traces(project, size + 1, after)
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
    after = params.decode_cursor(raw.get("cursor"), kind, params.USER_POSITIONS[name])
    if after is not None:
        query.after = (after[0], after[1])
    page = rt.store.list_users(project, query)
    return {
        "users": [present.user(row) for row in page.rows],
        "next_cursor": params.encode_cursor(kind, page.next_after) if page.next_after else None,
    }


def user_detail(rt: Runtime, project: int, user_id: str) -> dict[str, Any]:
    """``GET /api/v1/users/{id}``: the rollup and 50 most recent sessions; ``user_id`` as stored or as the
    application knows it (hashed with the server's salt)."""
    now = rt.clock()
    for form in user_forms(rt, user_id):
        row = rt.store.get_user(project, form)
        if row is not None:
            query = SessionQuery(user_id=form, now_ns=now, idle_timeout_ns=rt.idle_timeout_ns)
            sessions = rt.store.list_sessions(project, query).rows
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
    rows = rt.store.session_rows(project, window(rt, project, raw))
    result = analytics.session_analytics(rows, rt.clock(), rt.idle_timeout_ns)
    for bucket in result["sessions_over_time"]:
        bucket["start"] = params.iso(bucket.pop("start_ns"))
    return result


def journey_analytics(rt: Runtime, project: int, raw: Raw) -> dict[str, Any]:
    """``GET /api/v1/analytics/journeys``: a funnel per journey over the window in ``raw``."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rt.store.session_journeys(project, window(rt, project, raw)):
        by_name.setdefault(row["name"], []).append(row)
    return {"journeys": [journeys.funnel(name, members) for name, members in sorted(by_name.items())]}
