"""What a request may do: its principal (project and key scope) and each route's access level.

Every route declares its level with a dependency (``requires``); a test walks the app's routes and fails
on one that declares none. The guard middleware (``guard.py``) has already found the principal, or None
when the request carries no valid credentials; here the route's level is checked against it:

    OPEN     anyone (health, sign-in, static assets)
    INGEST   ingest-only or full keys (the OTLP routes)
    READ     read-only or full keys (API reads, the stream, the pages, the API reference)
    WRITE    full keys (erasure, key management)

A missing or wrong key is 401 (``WWW-Authenticate``); a page asks to sign in instead. A key without the
scope a route needs is 403.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from threadline.server.errors import ApiError
from threadline.server.store.base import KeyScope


class Access(enum.Enum):
    OPEN = "open"
    INGEST = "ingest"
    READ = "read"
    WRITE = "write"


_GRANTS: dict[KeyScope, frozenset[Access]] = {
    "full": frozenset(Access),
    "read": frozenset({Access.OPEN, Access.READ}),
    "ingest": frozenset({Access.OPEN, Access.INGEST}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a project, and what its key may do there."""

    project_id: int
    project_name: str
    scope: KeyScope
    key_id: str | None = None
    """None when authentication is off."""
    by_cookie: bool = False
    """Signed in to the web UI (its mutations must come from the same origin)."""

    def may(self, access: Access) -> bool:
        return access in _GRANTS[self.scope]


class Unauthenticated(ApiError):
    status_code = 401
    code = "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="threadline"'}


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class SignInRequired(Exception):
    """A page was asked for without a session: the answer is the sign-in page."""


def principal_of(connection: HTTPConnection) -> Principal | None:
    found: Principal | None = getattr(connection.state, "principal", None)
    return found


def project_of(connection: HTTPConnection) -> int:
    """The project a request acts in (its route has checked the principal already)."""
    principal = principal_of(connection)
    if principal is None:
        raise Unauthenticated("This route needs an API key.")
    return principal.project_id


def requires(access: Access, *, page: bool = False) -> Callable[[HTTPConnection], None]:
    """The dependency that lets a request through at ``access`` (``page``: ask to sign in, not 401)."""

    def check(connection: HTTPConnection) -> None:
        if access is Access.OPEN:
            return
        principal = principal_of(connection)
        if principal is None:
            if page:
                raise SignInRequired()
            raise Unauthenticated(
                "Send an API key: Authorization: Bearer <key> (create one with `threadline keys create`).",
                detail={"scheme": "Bearer"},
            )
        if not principal.may(access):
            raise Forbidden(
                f"This key is {principal.scope}-only: {connection.url.path} needs a key that may "
                f"{'ingest' if access is Access.INGEST else 'read' if access is Access.READ else 'change data'}.",
                detail={"key_scope": principal.scope, "needs": access.value},
            )

    check.access = access  # type: ignore[attr-defined]  # read by access_of()
    check.page = page  # type: ignore[attr-defined]
    return check


def access_of(dependency: Any) -> Access | None:
    """The level a ``requires`` dependency enforces, for the route table test."""
    found: Access | None = getattr(dependency, "access", None)
    return found
