"""``threadline analytics``: session analytics and journey funnels over a window."""

from __future__ import annotations

from typing import Any

import click
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from threadline.server.cli import render as r
from threadline.server.cli.client import Api, source_options
from threadline.server.cli.options import SESSIONS_SINCE, SESSIONS_UNTIL, since_until

BAR = 30


@click.command()
@since_until(SESSIONS_SINCE, SESSIONS_UNTIL)
@click.option("--user", "--user-id", "user_id", metavar="USER_ID", help="Only this user's sessions.")
@click.option("--json", "as_json", is_flag=True, help='Print the API\'s JSON: {"sessions": ..., "journeys": ...}.')
@source_options
def analytics(api: Api, since: str | None, until: str | None, user_id: str | None, as_json: bool) -> None:
    """Session analytics and journey funnels.

    Lengths, abandonment, drop-off (by last turn and the agent's last action), errors, cost, duration,
    turn latency, sessions over time, and a funnel per journey.
    """
    window = {"since": since, "until": until, "user_id": user_id}
    stats = api.get_json("/api/v1/analytics/sessions", window)
    journeys = api.get_json("/api/v1/analytics/journeys", window)["journeys"]
    if as_json:
        r.print_json({"sessions": stats, "journeys": journeys})
        return
    heading = "Sessions " + _window_text(since, until, user_id)
    parts: list[RenderableType] = [r.heading(heading), overview(stats), ""]
    parts += [histogram("Turns per session", "turns", stats["turn_count_histogram"]), ""]
    if stats["dropoff_count"]:
        parts += [histogram("Drop-off by last turn", "last turn", stats["dropoff_by_turn"]), ""]
        by_action = sorted(stats["dropoff_by_last_action"].items(), key=lambda item: (-item[1], item[0]))
        parts += [histogram("Drop-off by the agent's last action", "last action", dict(by_action)), ""]
    if stats["sessions_over_time"]:
        parts += [over_time(stats["sessions_over_time"]), ""]
    for journey in journeys:
        parts += [*funnel(journey), ""]
    if not journeys:
        parts.append(Text("No journeys recorded in this window."))
    r.show(*parts)
    if user_id and not stats["session_count"]:
        click.echo(r.hashed_user_hint(user_id), err=True)


def _window_text(since: str | None, until: str | None, user_id: str | None) -> str:
    span = f"from {since or 'the start'} to {until or 'now'}" if since or until else "(all time)"
    return span + (f", user {user_id}" if user_id else "")


def overview(s: dict[str, Any]) -> Table:
    return r.fields(
        [
            ("sessions", f"{r.count(s['session_count'])} ({r.count(s['ended_session_count'])} ended)"),
            ("turns per session", f"{r.number(s['turn_count_avg'])} on average"),
            ("abandoned", f"{r.rate(s['abandonment_rate'])} of ended sessions (one turn only)"),
            ("dropped off", f"{r.rate(s['dropoff_rate'])} of ended sessions ({r.count(s['dropoff_count'])})"),
            ("with an error", f"{r.rate(s['error_session_rate'])} of sessions"),
            (
                "cost per session",
                f"avg {r.money(s['cost_avg_usd'])}, p50 {r.money(s['cost_p50_usd'])}, p95 {r.money(s['cost_p95_usd'])}",
            ),
            ("session duration", f"p50 {r.duration(s['duration_p50_ms'])}, p95 {r.duration(s['duration_p95_ms'])}"),
            (
                "turn latency",
                f"p50 {r.duration(s['turn_latency_p50_ms'])}, p95 {r.duration(s['turn_latency_p95_ms'])}",
            ),
        ]
    )


def _bar(value: int | float, top: int | float) -> str:
    return "█" * max(round(BAR * value / top), 1 if value else 0) if top else ""


def histogram(title: str, key: str, counts: dict[str, int]) -> Table:
    grid = r.table(f">{key}", ">sessions", "", title=title)
    top = max(counts.values(), default=0)
    for key, value in counts.items():
        grid.add_row(key, r.count(value), _bar(value, top))
    return grid


def over_time(buckets: list[dict[str, Any]]) -> Table:
    grid = r.table("from (UTC)", ">sessions", ">dropped off", ">errored", "", title="Sessions started over time")
    top = max(b["sessions"] for b in buckets)
    for b in buckets:
        grid.add_row(
            r.when(b["start"]), r.count(b["sessions"]), r.count(b["dropped_off"]), r.count(b["errored"]),
            _bar(b["sessions"], top),
        )  # fmt: skip
    return grid


def funnel(j: dict[str, Any]) -> list[RenderableType]:
    title = (
        f"Journey {j['name']}: {r.count(j['session_count'])} sessions, {r.count(j['converted_count'])} converted "
        f"({r.rate(j['conversion_rate'])})"
    )
    if j["conversion_turn_p50"] is not None:
        title += f", median at turn {r.number(j['conversion_turn_p50'], 0)}"
    if j["conversion_time_p50_ms"] is not None:
        title += f" after {r.duration(j['conversion_time_p50_ms'])}"
    grid = r.table(">#", "stage", ">sessions", ">reached", "")
    for st in j["stages"]:
        grid.add_row(
            str(st["stage_number"]), st["stage"] or r.NONE, r.count(st["sessions"]), r.rate(st["rate"]),
            _bar(st["sessions"], j["session_count"]),
        )  # fmt: skip
    return [r.heading(title), grid]
