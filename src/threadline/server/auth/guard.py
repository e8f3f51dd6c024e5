"""The ASGI middleware every request passes first: the Host check, then who is asking.

1. ``Host`` must be one this server answers to (``--allowed-hosts``; loopback names by default without
   ``--auth``), or the answer is 421: a page on another site that rebinds its DNS name to 127.0.0.1 cannot
   read the API through the visitor's browser.
2. With ``--auth``: credentials (``Authorization: Bearer``, ``Basic`` as Langfuse's SDK sends them, or the
   web-session cookie) are checked and the principal set on the request; wrong credentials are 401 at
   once, and an address that keeps failing is refused with 429 for a while. Routes then check their own
   access level (``access.requires``). A request signed in by cookie that changes data must come from the
   server's own origin (the cookie is SameSite=Strict too). Without ``--auth`` every request acts as the
   default project with full rights.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from threadline.server.api.errors import error_response
from threadline.server.auth import sessions
from threadline.server.auth.access import Principal
from threadline.server.auth.authenticate import Authenticator, FailureLimiter

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
UNCHECKED_PATHS = ("/healthz", "/favicon.ico", "/static/")
"""Answered to anyone, credentials or not; every other route checks its own access level."""
PROJECT_HEADER = "x-threadline-project"
"""Without --auth, the project a request acts in, by name (the command line's --project); default: default."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Guard:
    def __init__(self, app: ASGIApp, *, auth: bool, allowed_hosts: Sequence[str], default: Principal) -> None:
        self.app = app
        self.auth = auth
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        refusal = self._host_refusal(connection.headers)
        if refusal is None:
            refusal = await self._identify(connection, scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _host_refusal(self, headers: Headers) -> Response | None:
        if not self.allowed_hosts:
            return None
        name = _host_name(headers.get("host", ""))
        if name in self.allowed_hosts:
            return None
        return error_response(
            421,
            "misdirected_request",
            f"This server does not answer to the host name {name!r}. Use one it answers to "
            f"({', '.join(sorted(self.allowed_hosts))}), or start it with --allowed-hosts.",
            {"host": name, "allowed": sorted(self.allowed_hosts)},
        )

    async def _identify(self, connection: HTTPConnection, scope: Scope) -> Response | None:
        state = scope.setdefault("state", {})
        if not self.auth:
            return await self._without_auth(connection, state)
        if connection.url.path.startswith(UNCHECKED_PATHS):
            return None
        runtime = connection.app.state.runtime
        authenticator: Authenticator = runtime.authenticator
        failures: FailureLimiter = runtime.failures
        credentials = _credentials(connection)
        if credentials is None:
            return None
        address = connection.client.host if connection.client else ""
        wait = failures.blocked_for(address)
        if wait > 0:
            return error_response(
                429,
                "too_many_failures",
                "Too many failed sign-ins from this address. Wait and check the key.",
                {"retry_after_s": round(wait)},
                {"Retry-After": str(max(int(wait), 1))},
            )
        kind, value = credentials
        check = {"bearer": authenticator.bearer, "basic": authenticator.basic, "cookie": authenticator.session}[kind]
        principal = await run_in_threadpool(check, value)
        if principal is None:
            if kind == "cookie":  # an expired or revoked session: treated as none (pages ask to sign in)
                return None
            failures.failed(address)
            return _unauthenticated(connection.url.path)
        if principal.by_cookie and scope["method"] in UNSAFE_METHODS and not _same_origin(connection):
            return error_response(
                403,
                "cross_origin",
                "A signed-in browser may change data only from Threadline's own pages.",
            )
        state["principal"] = principal
        return None

    async def _without_auth(self, connection: HTTPConnection, state: dict[str, object]) -> Response | None:
        name = connection.headers.get(PROJECT_HEADER)
        if not name or name == self.default.project_name:
            state["principal"] = self.default
            return None
        project = await run_in_threadpool(connection.app.state.runtime.store.project, name)
        if project is None:
            return error_response(404, "not_found", f"No project named {name!r}.", {"project": name})
        state["principal"] = Principal(project.id, project.name, "full")
        return None


def _credentials(connection: HTTPConnection) -> tuple[str, str] | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return "bearer", value.strip()
    if scheme.lower() == "basic" and value.strip():
        return "basic", value.strip()
    cookie = connection.cookies.get(sessions.COOKIE)
    return ("cookie", cookie) if cookie else None


def _unauthenticated(path: str) -> Response:
    schemes = 'Bearer realm="threadline"'
    if path.startswith("/api/public/otel/"):
        schemes += ', Basic realm="threadline"'
    return error_response(
        401,
        "unauthenticated",
        "The API key was not accepted (unknown, revoked or mistyped). Send Authorization: Bearer <key>.",
        headers={"WWW-Authenticate": schemes},
    )


def is_loopback(host: str) -> bool:
    """Whether a listening address is a loopback one (only this machine can connect)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def _host_name(host: str) -> str:
    """The name in a Host header, without its port (IPv6 literals without brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(connection: HTTPConnection) -> bool:
    source = connection.headers.get("origin") or connection.headers.get("referer")
    if not source:
        return False
    origin = urlsplit(source)
    return f"{origin.scheme}://{origin.netloc}" == f"{connection.url.scheme}://{connection.url.netloc}"
