"""Query parameters: parsed by hand so that a bad value gets a message naming it and what is allowed."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import difflib
from typing import Annotated, Any

import orjson
from fastapi import Query
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request

from threadline.server.errors import BadRequest
from threadline.server.store.base import ORDERINGS

UserId = Annotated[
    str | None,
    Query(description="A user id as stored, or as the application knows it (hashed with the server's user_id_salt)"),
]


def bad_parameter(name: str, value: object, expected: str, **detail: Any) -> BadRequest:
    return BadRequest(
        f"Invalid value {value!r} for '{name}': expected {expected}.",
        code="bad_parameter",
        detail={"parameter": name, "value": value, **detail},
    )


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
    return BadRequest(
        f"Unknown query parameter {name!r}: {endpoint} {takes}.{guess}",
        code="unknown_parameter",
        detail={"parameter": name, "allowed": allowed},
    )


def parse_limit(raw: str | None, *, default: int = 50, maximum: int = 500) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_parameter("limit", raw, f"an integer from 1 to {maximum}", minimum=1, maximum=maximum) from None
    if not 1 <= value <= maximum:
        raise bad_parameter("limit", raw, f"an integer from 1 to {maximum}", minimum=1, maximum=maximum)
    return value


def parse_int(name: str, raw: str | None, *, minimum: int = 0) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_parameter(name, raw, f"an integer ≥ {minimum}") from None
    if value < minimum:
        raise bad_parameter(name, raw, f"an integer ≥ {minimum}")
    return value


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
    """ISO 8601 (``2026-11-21T10:00:00Z``; no zone means UTC) as nanoseconds since the epoch."""
    if raw is None or raw == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise bad_parameter(name, raw, "an ISO 8601 timestamp such as 2026-11-21T10:00:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def iso(ns: int) -> str:
    """Nanoseconds since the epoch as ISO 8601 UTC with microseconds (``...T10:00:00.123456Z``)."""
    seconds, rest = divmod(ns, 10**9)
    stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds, microseconds=rest // 1000)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_cursor(kind: str, position: tuple[Any, ...]) -> str:
    raw = orjson.dumps([kind, *[p.hex() if isinstance(p, bytes) else p for p in position]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str | None, kind: str, size: int) -> list[Any] | None:
    """The position in a cursor made by ``encode_cursor`` for the same ``kind`` (ordering)."""
    if raw is None or raw == "":
        return None
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        doc = None
    if not isinstance(doc, list) or len(doc) != size + 1:
        raise bad_parameter("cursor", raw, "the next_cursor value of a previous page, unchanged")
    if doc[0] != kind:
        raise bad_parameter(
            "cursor",
            raw,
            f"a cursor from a page listed with the same ordering ({kind}); restart without cursor",
        )
    return list(doc[1:])


def parse_hex_id(name: str, raw: str, size: int) -> bytes:
    try:
        value = bytes.fromhex(raw)
    except ValueError:
        value = b""
    if len(value) != size:
        raise bad_parameter(name, raw, f"{size * 2} hexadecimal characters")
    return value
