"""Store records to API shapes: ISO times, hex ids, derived fields (lifecycle, drop-off, context percentage)."""

from __future__ import annotations

import dataclasses
from typing import Any

from threadline import semconv as sc
from threadline.server.api.params import iso
from threadline.server.ingest.normalize import normalize
from threadline.server.ingest.port import Erased
from threadline.server.ingest.trace_agg import collided
from threadline.server.intelligence.context import WindowLookup, context_window
from threadline.server.intelligence.dropoff import Dropoff, dropoff
from threadline.server.intelligence.lifecycle import INACTIVE_TIMEOUT, Lifecycle, lifecycle
from threadline.server.store.records import (
    SessionAnalytics,
    SessionDetail,
    SessionSummary,
    SpanRecord,
    TurnRecord,
    UserSummary,
)

_STATUS = {0: "unset", 1: "ok", 2: "error"}
USD_DIGITS = 12
"""Costs are shown to a trillionth of a dollar: a sum of prices carries noise in its last bits that depends
on the order it was added in, which differs between engines; every real price is kept exactly."""


def usd(value: float | None) -> float | None:
    return None if value is None else round(value, USD_DIGITS)


def session_summary(row: SessionSummary, now_ns: int, idle_timeout_ns: int) -> dict[str, Any]:
    life = lifecycle(row.last_ns, now_ns, idle_timeout_ns, row.end_reason, row.ended_ns)
    return _summary(row, life, session_dropoff(row, life, now_ns))


def _summary(row: SessionSummary, life: Lifecycle, drop: Dropoff) -> dict[str, Any]:
    return {
        "session_id": row.session_id,
        "user_id": row.user_id,
        "status": life.status,
        "end_reason": life.end_reason,
        "ended_at": iso(life.ended_ns) if life.ended_ns is not None else None,
        "idle_time_ms": life.idle_time_ms,
        "reopened_count": row.reopened_count,
        "turn_count": row.turn_count,
        "trace_count": row.trace_count,
        "span_count": row.span_count,
        "llm_call_count": row.llm_call_count,
        "tool_call_count": row.tool_call_count,
        "error_count": row.error_count,
        "errored_turn_count": row.errored_turn_count,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_tokens": row.total_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "total_cost_usd": usd(row.total_cost_usd),
        "cost_source": row.cost_source,
        "unpriced_calls": row.unpriced_calls,
        "first_activity": iso(row.first_ns),
        "last_activity": iso(row.last_ns),
        "duration_ms": row.duration_ns / 1e6,
        "first_input": row.first_input,
        "last_output": row.last_output,
        "last_agent_action": row.last_action,
        "dropped_off": drop.detected,
        "abandoned": life.status == "ended" and row.turn_count == 1,
        "converted": row.converted,
        "max_context_window_pct": row.max_context_pct,
        "models": list(row.models),
        "attributes": dict(row.attributes),
    }


def session_dropoff(row: SessionSummary, life: Lifecycle, now_ns: int) -> Dropoff:
    return dropoff(
        ended_by_inactivity=life.end_reason == INACTIVE_TIMEOUT,
        converted=row.converted,
        last_turn=row.last_turn_number,
        last_intent=row.last_intent,
        agent_last_action=row.last_action,
        last_turn_end_ns=row.last_turn_end_ns,
        now_ns=now_ns,
        client=dict(row.client_dropoff) if row.client_dropoff is not None else None,
    )


def session_detail(found: SessionDetail, now_ns: int, idle_timeout_ns: int, windows: WindowLookup) -> dict[str, Any]:
    row = found.summary
    life = lifecycle(row.last_ns, now_ns, idle_timeout_ns, row.end_reason, row.ended_ns)
    drop = session_dropoff(row, life, now_ns)
    detail = _summary(row, life, drop)
    turns = [turn(t, windows) for t in found.turns]
    detail["turns"] = turns
    detail["conversations"] = conversations(turns)
    detail["turn_numbers_rederived"] = any(collided(t.turn_key) for t in found.turns)
    detail["journeys"] = [
        {
            **j,
            "stages": [
                {**{k: v for k, v in s.items() if k != "time_ns"}, "time": iso(s["time_ns"])} for s in j["stages"]
            ],
        }
        for j in row.journeys
    ]
    detail["dropoff"] = drop.as_dict()
    return detail


def turn(row: TurnRecord, windows: WindowLookup) -> dict[str, Any]:
    attributes = dict(row.attributes)
    context = context_window(row.context_tokens, attributes, row.model, windows)
    return {
        "turn_number": row.turn_number,
        "conversation_id": row.conversation_id,
        "trace_ids": list(row.trace_ids),
        "started_at": iso(row.start_ns),
        "ended_at": iso(row.end_ns),
        "latency_ms": max(row.end_ns - row.start_ns, 0) / 1e6,
        "input": row.input,
        "output": row.output,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_cost_usd": usd(row.total_cost_usd),
        "cost_source": row.cost_source,
        "llm_call_count": row.llm_call_count,
        "tool_call_count": row.tool_call_count,
        "agent_run_count": row.agent_run_count,
        "span_count": row.span_count,
        "error": row.error,
        "error_message": row.error_message,
        "tool_error": row.tool_error,
        "tool_error_message": row.tool_error_message,
        "agent_last_action": row.last_action,
        "model": row.model,
        "context_tokens": context.tokens,
        "context_limit": context.limit,
        "context_limit_source": context.limit_source,
        "context_window_pct": context.pct,
        "context_pruned": context.pruned,
        "messages_pruned": context.messages_pruned,
        "attributes": attributes,
    }


def conversations(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for t in turns:
        entry = found.get(t["conversation_id"])
        if entry is None:
            entry = found[t["conversation_id"]] = {
                "conversation_id": t["conversation_id"],
                "turn_count": 0,
                "first_activity": t["started_at"],
                "last_activity": t["ended_at"],
                "topic": None,
            }
        entry["turn_count"] += 1
        entry["first_activity"] = min(entry["first_activity"], t["started_at"])
        entry["last_activity"] = max(entry["last_activity"], t["ended_at"])
        topic = t["attributes"].get(sc.CONVERSATION_TOPIC)
        if isinstance(topic, str) and topic:
            entry["topic"] = topic
    return list(found.values())


def span_tree(rows: list[SpanRecord]) -> list[dict[str, Any]]:
    """Spans nested under their parents; spans whose parent is missing are roots too."""
    nodes: dict[bytes, dict[str, Any]] = {}
    for row in rows:
        nodes[row.span.span_id] = span(row)
    roots = []
    for row in rows:
        node = nodes[row.span.span_id]
        parent = nodes.get(row.span.parent_span_id) if row.span.parent_span_id else None
        if parent is None:
            roots.append(node)
        else:
            parent["children"].append(node)
    return roots


def span(row: SpanRecord) -> dict[str, Any]:
    raw = row.span
    events = [{"name": e.name, "time": iso(e.time_ns), "attributes": e.attributes} for e in raw.events]
    facts = normalize(raw)
    return {
        "span_id": raw.span_id.hex(),
        "parent_span_id": raw.parent_span_id.hex() if raw.parent_span_id else None,
        "name": raw.name,
        "kind": raw.kind,
        "category": row.category,
        "start_time": iso(raw.start_ns),
        "end_time": iso(raw.end_ns),
        "duration_ms": max(raw.end_ns - raw.start_ns, 0) / 1e6,
        "status": _STATUS.get(raw.status_code, "unset"),
        "status_message": raw.status_message or None,
        "model": facts.model,
        "provider": facts.provider,
        "input_tokens": facts.input_tokens,
        "output_tokens": facts.output_tokens,
        "cache_read_tokens": facts.cache_read_tokens,
        "cache_write_tokens": facts.cache_write_tokens,
        "reasoning_tokens": facts.reasoning_tokens,
        "cost_usd": usd(row.cost_usd),
        "cost_source": row.cost_source,
        "input": facts.input_text,
        "output": facts.output_text,
        "error_type": facts.error_type,
        "tool_name": facts.tool_name,
        "attributes": raw.attributes,
        "resource": raw.resource.attributes,
        "scope": {"name": raw.scope.name, "version": raw.scope.version},
        "events": events,
        "children": [],
    }


def user(row: UserSummary) -> dict[str, Any]:
    sessions = row.session_count
    return {
        "user_id": row.user_id,
        "session_count": sessions,
        "turn_count": row.turn_count,
        "avg_turns_per_session": row.turn_count / sessions if sessions else None,
        "trace_count": row.trace_count,
        "error_count": row.error_count,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_cost_usd": usd(row.total_cost_usd),
        "first_seen": iso(row.first_ns),
        "last_seen": iso(row.last_ns),
        "retention_days": max(row.last_ns - row.first_ns, 0) / 86_400e9,
        "returning": sessions > 1,
    }


def erasure(erased: Erased) -> dict[str, Any]:
    return {
        "erased": {
            "sessions": sorted(erased.sessions),
            "traces": len(erased.trace_ids),
            "spans": erased.spans,
        }
    }


def session_analytics(result: SessionAnalytics) -> dict[str, Any]:
    body = dataclasses.asdict(result)
    body["sessions_over_time"] = [
        {"start": iso(b.start_ns), "sessions": b.sessions, "dropped_off": b.dropped_off, "errored": b.errored}
        for b in result.sessions_over_time
    ]
    return body
