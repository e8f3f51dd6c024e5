"""``threadline sessions list`` and ``threadline sessions show``."""

from __future__ import annotations

from typing import Any

import click
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from threadline.server.cli import render as r
from threadline.server.cli.client import Api, segment, source_options
from threadline.server.cli.options import session_filters


@click.group()
def sessions() -> None:
    """Sessions: list them with filters, or show one turn by turn."""


@sessions.command("list")
@session_filters("-last_activity, newest first")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="Sessions per page.")
@click.option("--cursor", help="Start from this next_cursor of an earlier listing.")
@click.option("--all", "all_pages", is_flag=True, help="Follow next_cursor through every page.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of a table.")
@source_options
def list_sessions(
    api: Api, filters: dict[str, Any], limit: int, cursor: str | None, all_pages: bool, as_json: bool
) -> None:
    """List sessions, with filters and ordering."""
    params = {**filters, "limit": limit, "cursor": cursor}
    hint = r.hashed_user_hint(filters["user_id"]) if filters["user_id"] else None
    r.show_listing(
        api, "/api/v1/sessions", "sessions", params, all_pages=all_pages, as_json=as_json, render=sessions_table,
        empty_hint=hint,
    )  # fmt: skip


def sessions_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """The session list's key columns."""
    grid = r.table(
        "session", "user", "status", ">turns", ">tokens", ">cost", ">duration", "last activity (UTC)", "dropped off",
        title=title,
    )  # fmt: skip
    for s in rows:
        grid.add_row(
            s["session_id"],
            s["user_id"] or r.NONE,
            s["status"],
            r.count(s["turn_count"]),
            r.count(s["total_tokens"]),
            r.money(s["total_cost_usd"]),
            r.duration(s["duration_ms"]),
            r.when(s["last_activity"]),
            r.yes(s["dropped_off"]),
        )
    return grid


@sessions.command("show")
@click.argument("session_id")
@click.option("--full", is_flag=True, help="Show each turn's whole input and output, not one shortened line.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@source_options
def show_session(api: Api, session_id: str, full: bool, as_json: bool) -> None:
    """Show one session turn by turn.

    Its summary, then each turn (latency, tokens, cost, error, input → output), its journeys and
    whether it dropped off.
    """
    missing = f"No session {session_id!r}. List sessions with `threadline sessions list`."
    detail = api.get_json(f"/api/v1/sessions/{segment(session_id)}", missing=missing)
    if as_json:
        r.print_json(detail)
        return
    parts: list[RenderableType] = [r.heading(f"Session {detail['session_id']}"), summary(detail), ""]
    parts += [turns_table(detail["turns"], full, len(detail["conversations"]) > 1), ""]
    if detail["journeys"]:
        parts += [journeys_table(detail["journeys"]), ""]
    parts.append(dropoff_line(detail["dropoff"]))
    r.show(*parts)


def summary(s: dict[str, Any]) -> Table:
    status = s["status"] + (f" ({s['end_reason']})" if s["end_reason"] else "")
    cost = r.money(s["total_cost_usd"]) + (f" ({s['cost_source']})" if s["cost_source"] else "")
    if s["unpriced_calls"]:
        cost += f", {s['unpriced_calls']} call(s) unpriced"
    return r.fields(
        [
            ("user", s["user_id"] or r.NONE),
            ("status", status + (f", reopened {s['reopened_count']}×" if s["reopened_count"] else "")),
            ("turns", turn_counts(s)),
            ("calls", f"{s['llm_call_count']} LLM, {s['tool_call_count']} tool, {s['error_count']} errored span(s)"),
            ("tokens", f"{r.tokens(s['input_tokens'], s['output_tokens'])} ({r.count(s['total_tokens'])} in all)"),
            ("cost", cost),
            ("activity", f"{r.when(s['first_activity'])} → {r.when(s['last_activity'])} UTC"),
            ("duration", r.duration(s["duration_ms"])),
            ("models", ", ".join(s["models"]) or r.NONE),
            ("last action", s["last_agent_action"] or r.NONE),
            ("context", f"{r.percent(s['max_context_window_pct'])} of the window at most"),
            ("outcome", f"converted {r.yes(s['converted'])}, abandoned {r.yes(s['abandoned'])}"),
        ]
    )


def turn_counts(s: dict[str, Any]) -> str:
    """The number of turns and of those the rows mark: errored, and (not errored) with a failed tool."""
    errored = sum(1 for t in s["turns"] if t["error"])
    tool_failed = sum(1 for t in s["turns"] if t["tool_error"] and not t["error"])
    return f"{s['turn_count']} ({errored} errored" + (f", {tool_failed} with a failed tool)" if tool_failed else ")")


def _problem(t: dict[str, Any]) -> str:
    """What went wrong in a turn: its error, else a failed tool."""
    if t["error"]:
        return str(t["error_message"] or "error")
    return "tool failed" if t["tool_error"] else r.NONE


def turns_table(turns: list[dict[str, Any]], full: bool, show_conversation: bool) -> Table:
    columns = ["conversation"] if show_conversation else []
    grid = r.table(
        ">#", *columns, ">latency", ">tokens", ">cost", "~error" if full else "error",
        "~input → output" if full else "…input → output", title="Turns",
    )  # fmt: skip
    for t in turns:
        error = _problem(t)
        exchange = f"{r.shorten(t['input'], 60)} → {r.shorten(t['output'], 60)}"
        if full:
            exchange = f"{t['input'] or r.NONE}\n→ {t['output'] or r.NONE}"
        grid.add_row(
            str(t["turn_number"]),
            *([t["conversation_id"]] if show_conversation else []),
            r.duration(t["latency_ms"]),
            r.tokens(t["input_tokens"], t["output_tokens"]),
            r.money(t["total_cost_usd"]),
            error if full else r.shorten(error, 24),
            exchange,
        )
    return grid


def journeys_table(journeys: list[dict[str, Any]]) -> Table:
    grid = r.table("journey", "stages reached", ">highest", "converted", title="Journeys")
    for j in journeys:
        stages = " → ".join(
            f"{st['stage_number'] or '?'} {st['stage'] or ''}".strip() + (f" (turn {st['turn']})" if st["turn"] else "")
            for st in j["stages"]
        )
        highest = f"{j['highest_stage'] or r.NONE}/{j['total_stages'] or '?'}"
        converted = "no"
        if j["converted"]:
            converted = f"at turn {j['conversion_turn'] or '?'}, after {r.duration(j['conversion_time_ms'])}"
        grid.add_row(j["name"], stages or r.NONE, highest, converted)
    return grid


def dropoff_line(d: dict[str, Any]) -> Text:
    if not d["detected"]:
        return Text("Drop-off: none")
    facts = [
        f"after turn {d['last_turn']}" if d["last_turn"] is not None else None,
        f"last intent {d['last_intent']}" if d["last_intent"] else None,
        f"agent's last action {d['agent_last_action']}" if d["agent_last_action"] else None,
        f"{r.duration(d['time_since_last_turn_ms'])} since the last turn"
        if d["time_since_last_turn_ms"] is not None
        else None,
    ]
    told = "the client said so" if d["source"] == "client" else "derived"
    return Text(r.clean(f"Drop-off: yes ({told}): " + ", ".join(f for f in facts if f)), style="bold red")
