"""Options shared by the data commands: time windows and the session list's filters.

Values go to the API as given (it validates them and says what is wrong), except times: ``--since 24h``
is turned into the ISO 8601 instant 24 hours ago, and what is neither is refused here (exit status 2).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click

from threadline.server.store.base import ORDERINGS

F = TypeVar("F", bound=Callable[..., Any])

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
TIME_HELP = "TIME is ISO 8601 (2026-11-21T10:00:00Z) or a time ago (90m, 24h, 7d)"
TIME_FORMS = "a time ago (90m, 24h, 7d, 2w) or ISO 8601 such as 2026-11-21T10:00:00Z"
SESSION_FILTERS = (
    "user_id",
    "since",
    "until",
    "status",
    "dropped_off",
    "has_error",
    "min_turns",
    "max_turns",
    "model",
    "q",
    "ordering",
)


class UsageLine(click.UsageError):
    """A mistake on the command line, shown as one line (no usage text above it); exit status 2."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=True)


def resolve_time(value: str | None, now: dt.datetime | None = None) -> str | None:
    """``24h`` → the ISO 8601 instant 24 hours before ``now``; ISO 8601 unchanged; else ``ValueError``."""
    if value is None:
        return None
    match = _RELATIVE.match(value)
    if not match:
        dt.datetime.fromisoformat(value.replace("z", "Z"))  # as the API reads it
        return value
    moment = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return resolve_time(value)
    except ValueError:
        raise UsageLine(f"{param.opts[0]} {value!r} is not a time: use {TIME_FORMS}.") from None


def since_until(since: str, until: str) -> Callable[[F], F]:
    """``--since`` and ``--until``, each with what it keeps (e.g. "sessions active at or after it")."""

    def decorate(command: F) -> F:
        command = click.option("--until", metavar="TIME", callback=_time, help=f"Only {until}. {TIME_HELP}.")(command)
        return click.option("--since", metavar="TIME", callback=_time, help=f"Only {since}. {TIME_HELP}.")(command)

    return decorate


SESSIONS_SINCE = "sessions active at or after TIME"
SESSIONS_UNTIL = "sessions that started at or before TIME"


def session_filters(default_ordering: str) -> Callable[[F], F]:
    """The session list's filters and ordering; the command receives them as ``filters`` (API names)."""
    return functools.partial(_session_filters, default_ordering=default_ordering)


def _session_filters(command: F, default_ordering: str) -> F:
    @click.option("--user", "--user-id", "user_id", metavar="USER_ID", help="Only this user's sessions.")
    @since_until(SESSIONS_SINCE, SESSIONS_UNTIL)
    @click.option("--status", type=click.Choice(["active", "ended"]), help="Only active or ended sessions.")
    @click.option("--dropped-off/--not-dropped-off", default=None, help="Only sessions that dropped off (or not).")
    @click.option("--has-error/--no-error", default=None, help="Only sessions with an errored span (or without).")
    @click.option("--min-turns", type=click.IntRange(min=0), help="At least this many turns.")
    @click.option("--max-turns", type=click.IntRange(min=0), help="At most this many turns.")
    @click.option("--model", help="Only sessions that called this model.")
    @click.option("--search", "q", metavar="TEXT", help="Text in the first input or last output.")
    @click.option(
        "--ordering",
        metavar="ORDER",
        help=f"{', '.join(ORDERINGS)}; ascending as named, descending with a leading '-' "
        f"(default: {default_ordering}).",
    )
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        filters = {name: kwargs.pop(name) for name in SESSION_FILTERS}
        return command(*args, filters=filters, **kwargs)

    return wrapper  # type: ignore[return-value]
