"""Query parameters: parsed by hand so that a bad value gets a message naming it and what is allowed."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import difflib
import re
from typing import Annotated, Any

import orjson
from fastapi import Query
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from threadline.server.errors import BadRequest
from threadline.server.store.base import ORDERINGS

UserId = Annotated[
    str | None,
    Query(description="A user id as stored, or as the application knows it (hashed with the server's user_id_salt)"),
]


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""What the store keeps an integer in (times in nanoseconds included)."""
EARLIEST_S, LATEST_S = -(-INT64_MIN // 10**9), INT64_MAX // 10**9
"""The first and last whole seconds whose nanoseconds since the epoch fit in 64 bits (1677 to 2262)."""
MAX_TEXT = 1000
"""Characters a text filter (``q``) may have."""
SHOWN = 120
"""Characters of a refused value repeated in an error (longer values are cut, with their length)."""


class AnyText(Convertor[str]):
    """A path parameter holding anything that follows, slashes and line breaks included (``{id:text}``).

    Starlette's ``path`` stops at a line break, so a session stored with one in its id could be neither
    read nor erased.
    """

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("text", AnyText())


def bad_parameter(name: str, value: object, expected: str, **detail: Any) -> BadRequest:
    shown = shorten(value)
    return BadRequest(
        f"Invalid value {shown!r} for '{name}': expected {expected}.",
        code="bad_parameter",
        detail={"parameter": name, "value": shown, **detail},
    )


def shorten(value: object) -> object:
    """A long text value cut to its first ``SHOWN`` characters, with how long it was."""
    if isinstance(value, str) and len(value) > SHOWN:
        return f"{value[:SHOWN]}… ({len(value)} characters)"
    return value


def known_parameters(request: Request) -> None:
    """Refuse query parameters the route does not declare: a misspelt filter is an error, not ignored.

    A router dependency (``APIRouter(dependencies=[Depends(known_parameters)])``).
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = declared_query_parameters(route.dependant)
    for name in request.query_params:
        if name not in allowed:
            raise unknown_parameter(name, allowed, f"{request.method} {route.path_format}")


def declared_query_parameters(dependant: Dependant) -> list[str]:
    """The query parameters a route takes, its dependencies' included, by the name used in URLs."""
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names += [name for name in declared_query_parameters(sub) if name not in names]
    return names


def unknown_parameter(name: str, allowed: list[str], endpoint: str) -> BadRequest:
    takes = f"takes {', '.join(allowed)}" if allowed else "takes no query parameters"
    close = difflib.get_close_matches(name, allowed, n=1)
    guess = f" Did you mean '{close[0]}'?" if close else ""
    shown = shorten(name)
    return BadRequest(
        f"Unknown query parameter {shown!r}: {endpoint} {takes}.{guess}",
        code="unknown_parameter",
        detail={"parameter": shown, "allowed": allowed},
    )


def parse_limit(raw: str | None, *, default: int = 50, maximum: int = 500) -> int:
    if raw is None or raw == "":
        return default
    value = parse_int("limit", raw, minimum=1, maximum=maximum)
    return default if value is None else value


_INTEGER = re.compile(r"[+-]?[0-9]{1,20}")


def parse_int(name: str, raw: str | None, *, minimum: int = 0, maximum: int = INT64_MAX) -> int | None:
    """An integer in ASCII digits (optionally signed) from ``minimum`` to ``maximum``; None when not given."""
    if raw is None or raw == "":
        return None
    value = int(raw) if _INTEGER.fullmatch(raw) else None
    if value is None or not minimum <= value <= maximum:
        raise bad_parameter(name, raw, f"an integer from {minimum} to {maximum}", minimum=minimum, maximum=maximum)
    return value


def parse_text(name: str, raw: str | None, *, maximum: int = MAX_TEXT) -> str | None:
    """Free text of at most ``maximum`` characters, without NUL (SQLite's LIKE ends a pattern there); None
    when not given."""
    if raw is None or raw == "":
        return None
    if len(raw) > maximum or "\x00" in raw:
        expected = f"text of at most {maximum} characters, without NUL characters"
        raise bad_parameter(name, raw, expected, maximum_length=maximum)
    return raw


def parse_bool(name: str, raw: str | None) -> bool | None:
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad_parameter(name, raw, "true or false")


def parse_choice(name: str, raw: str | None, allowed: tuple[str, ...]) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise bad_parameter(name, raw, "one of " + ", ".join(allowed), allowed=list(allowed))
    return raw


def parse_ordering(
    raw: str | None, orderings: tuple[str, ...] = ORDERINGS, default: str = "last_activity"
) -> tuple[str, bool]:
    """(ordering, descending). Default: ``default``, newest first; a leading '-' means descending."""
    if raw is None or raw == "":
        return default, True
    descending = raw.startswith("-")
    name = raw[1:] if descending else raw
    if name not in orderings:
        allowed = [*orderings, *(f"-{o}" for o in orderings)]
        raise bad_parameter("ordering", raw, "one of " + ", ".join(orderings) + " (prefix '-' for descending)",
                            allowed=allowed)  # fmt: skip
    return name, descending


def parse_timestamp(name: str, raw: str | None) -> int | None:
    """ISO 8601 (``2026-11-21T10:00:00Z``; no zone means UTC) as nanoseconds since the epoch, from
    ``EARLIEST_S`` to ``LATEST_S`` (what 64-bit nanoseconds hold)."""
    if raw is None or raw == "":
        return None
    earliest, latest = iso_second(EARLIEST_S), iso_second(LATEST_S)
    expected = f"an ISO 8601 timestamp from {earliest} to {latest}, such as 2026-11-21T10:00:00Z"
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise bad_parameter(name, raw, expected, earliest=earliest, latest=latest) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    if not EARLIEST_S * 10**9 <= ns <= LATEST_S * 10**9:
        raise bad_parameter(name, raw, expected, earliest=earliest, latest=latest)
    return ns


def iso_second(seconds: int) -> str:
    """Seconds since the epoch as ISO 8601 UTC (``...T10:00:00Z``)."""
    stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso(ns: int) -> str:
    """Nanoseconds since the epoch as ISO 8601 UTC with microseconds (``...T10:00:00.123456Z``)."""
    seconds, rest = divmod(ns, 10**9)
    stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds, microseconds=rest // 1000)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_cursor(kind: str, position: str) -> str:
    """A page cursor: the engine's opaque ``position``, marked with the listing it belongs to (``kind``: the
    ordering), so that a cursor is never read with another ordering."""
    raw = orjson.dumps([kind, position])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str | None, kind: str) -> str | None:
    """The engine's position in a cursor made by ``encode_cursor`` for the same ``kind``; None when not given."""
    if raw is None or raw == "":
        return None
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        doc = None
    if not isinstance(doc, list) or len(doc) != 2 or not isinstance(doc[1], str):
        raise bad_cursor(raw)
    if doc[0] != kind:
        raise bad_parameter(
            "cursor",
            raw,
            f"a cursor from a page listed with the same ordering ({kind}); restart without cursor",
        )
    return doc[1]


def bad_cursor(raw: str) -> BadRequest:
    return bad_parameter("cursor", raw, "the next_cursor value of a previous page, unchanged")


def parse_hex_id(name: str, raw: str, size: int) -> bytes:
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        value = b""
    if len(value) != size:
        raise bad_parameter(name, raw, f"{size * 2} hexadecimal characters")
    return value
