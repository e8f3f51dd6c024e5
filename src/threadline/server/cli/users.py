"""``threadline users`` (the user rollups, sortable) and ``threadline users show USER_ID``."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from threadline.server.cli import render as r
from threadline.server.cli.client import Api, segment, source_options
from threadline.server.cli.options import since_until
from threadline.server.cli.sessions import sessions_table
from threadline.server.store.base import USER_ORDERINGS


@click.command("list")
@since_until("users seen at or after TIME", "users first seen at or before TIME")
@click.option("--returning/--one-time", default=None, help="Only users with more than one session (or just one).")
@click.option(
    "--ordering",
    metavar="ORDER",
    help=f"{', '.join(USER_ORDERINGS)}; ascending as named, descending with a leading '-' "
    "(default: -last_seen, most recent first).",
)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="Users per page.")
@click.option("--cursor", help="Start from this next_cursor of an earlier listing.")
@click.option("--all", "all_pages", is_flag=True, help="Follow next_cursor through every page.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of a table.")
@source_options
def list_users(api: Api, all_pages: bool, as_json: bool, **params: Any) -> None:
    """List users and their rollups (the default).

    Sessions, turns, tokens, cost, first and last seen, retention and whether they returned.
    """
    r.show_listing(api, "/api/v1/users", "users", params, all_pages=all_pages, as_json=as_json, render=users_table)


def users_table(rows: list[dict[str, Any]]) -> Table:
    grid = r.table(
        "user", ">sessions", ">turns", ">avg turns", ">tokens", ">cost", "first seen (UTC)", "last seen (UTC)",
        ">retention", "returning",
    )  # fmt: skip
    for u in rows:
        grid.add_row(
            u["user_id"],
            r.count(u["session_count"]),
            r.count(u["turn_count"]),
            r.number(u["avg_turns_per_session"]),
            r.count(u["input_tokens"] + u["output_tokens"]),
            r.money(u["total_cost_usd"]),
            r.when(u["first_seen"]),
            r.when(u["last_seen"]),
            f"{r.number(u['retention_days'])}d",
            r.yes(u["returning"]),
        )
    return grid


@click.command("show")
@click.argument("user_id")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@source_options
def show_user(api: Api, user_id: str, as_json: bool) -> None:
    """Show one user and their recent sessions."""
    missing = f"No user {user_id!r}. List users with `threadline users`. " + r.hashed_user_hint(user_id)
    u = api.get_json(f"/api/v1/users/{segment(user_id)}", missing=missing)
    if as_json:
        r.print_json(u)
        return
    summary = r.fields(
        [
            ("sessions", f"{r.count(u['session_count'])} ({'returning' if u['returning'] else 'one-time'})"),
            ("turns", f"{r.count(u['turn_count'])} ({r.number(u['avg_turns_per_session'])} per session)"),
            ("errors", f"{r.count(u['error_count'])} errored span(s) in {r.count(u['trace_count'])} traces"),
            ("tokens", r.tokens(u["input_tokens"], u["output_tokens"])),
            ("cost", r.money(u["total_cost_usd"])),
            ("seen", f"{r.when(u['first_seen'])} → {r.when(u['last_seen'])} UTC"),
            ("retention", f"{r.number(u['retention_days'])} days"),
        ]
    )
    recent = sessions_table(u["recent_sessions"], title="Recent sessions")
    r.show(r.heading(f"User {u['user_id']}"), summary, "", recent)


class UsersGroup(click.Group):
    """``threadline users`` lists (like ``users list``); ``threadline users show USER_ID`` shows one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(cls=UsersGroup)
def users() -> None:
    """Users: list them (the default), or show one.

    `threadline users [OPTIONS]` runs `threadline users list [OPTIONS]`.
    """


users.add_command(list_users)
users.add_command(show_user)
