"""Every route's access, from the app's own route list: a route added without a decision fails here.

Each route is asked with no key, a wrong key, a revoked key, and keys of every scope; a key of another
project finds nothing (404, never 403, so that ids cannot be probed across projects).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from access.conftest import Secured, make_key
from threadline.server.app import create_app
from threadline.server.auth.access import Access, access_of
from threadline.server.auth.authenticate import FailureLimiter
from threadline.server.settings import Settings

WRONG_KEY = "tl_0123456789abcdef_" + "A" * 32


def route_table() -> list[tuple[str, str, Access, bool]]:
    """(method, path, access level, is a page) of every route of the app."""
    table = []
    for route in _routes():
        if isinstance(route, Mount):
            assert route.path == "/static", f"a mount without an access decision: {route.path}"
            table.append(("GET", "/static/threadline.css", Access.OPEN, False))
            continue
        checks = [d.call for d in route.dependant.dependencies if access_of(d.call) is not None]
        assert checks, f"{sorted(route.methods)} {route.path} declares no access level (auth/access.py)"
        levels = {access_of(check) for check in checks}
        level = Access.WRITE if Access.WRITE in levels else levels.pop()
        page = any(getattr(check, "page", False) for check in checks)
        table.extend((method, route.path, level, page) for method in sorted(route.methods))  # type: ignore[misc]
    return table


def _routes() -> list[Any]:
    """Every route as FastAPI resolves it (routers included into the app are expanded)."""
    found: list[Any] = []
    for route in create_app(Settings(auth=True)).routes:
        if hasattr(route, "effective_route_contexts"):
            found.extend(route.effective_route_contexts())
        else:
            assert isinstance(route, APIRoute | Mount), route
            found.append(route)
    return found


ROUTES = route_table()


def url_of(path: str, secured: Secured, trace_id: str) -> str:
    values = {
        "session_id": "s-mine",
        "user_id": "ann",
        "trace_id": trace_id,
        "key_id": "tl_0000000000000000",
        "name": "default",
    }
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m[1]], path)


def ask(secured: Secured, method: str, path: str, key: str | None, trace_id: str, **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body: dict[str, Any] = {}
    if method == "POST":
        if path in ("/v1/traces", "/api/public/otel/v1/traces", "/v1/logs", "/v1/metrics"):
            body = {"content": b"{}", "headers": {**headers, "Content-Type": "application/json"}}
        elif path == "/api/v1/keys":
            body = {"json": {"name": "throwaway", "scope": "read"}, "headers": headers}
        elif path == "/api/v1/projects":
            body = {"json": {"name": "p-throwaway"}, "headers": headers}
        else:
            body = {"headers": {**headers, "Origin": secured.url}}
    elif method == "PATCH":
        body = {"json": {"redact_secrets": True}, "headers": headers}
    target = url_of(path, secured, trace_id)
    if target.startswith("/api/v1/sessions/s-mine") and method == "DELETE":
        target = "/api/v1/sessions/not-there"  # a full key must not erase the data the other checks read
    if target.startswith("/api/v1/users/ann") and method == "DELETE":
        target = "/api/v1/users/not-there"
    with httpx.Client(base_url=secured.url, timeout=30, follow_redirects=False) as client:
        if method == "GET" and path.endswith("/stream"):
            with client.stream("GET", target, headers=headers) as streamed:
                return streamed  # the status is enough; closing ends the stream
        return client.request(method, target, **({"headers": headers} | body | extra))


@pytest.fixture(scope="module")
def trace_id(secured: Secured) -> str:
    headers = {"Authorization": f"Bearer {secured.keys['full']}"}
    detail = httpx.get(f"{secured.url}/api/v1/sessions/s-mine", headers=headers).json()
    return str(detail["turns"][0]["trace_ids"][0])


def test_every_route_has_an_access_level() -> None:
    levels = {(method, path): level for method, path, level, _ in ROUTES}
    assert levels[("GET", "/healthz")] is Access.OPEN
    assert levels[("POST", "/v1/traces")] is Access.INGEST
    assert levels[("GET", "/api/v1/sessions")] is Access.READ
    assert levels[("DELETE", "/api/v1/sessions/{session_id:text}")] is Access.WRITE
    assert levels[("GET", "/")] is Access.READ
    assert levels[("GET", "/openapi.json")] is Access.READ


@pytest.mark.parametrize(("method", "path", "level", "page"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_without_a_key(secured: Secured, trace_id: str, method: str, path: str, level: Access, page: bool) -> None:
    answer = ask(secured, method, path, None, trace_id)
    if (method, path) == ("POST", "/login"):
        assert answer.status_code == 401  # a sign-in form without a key is refused, as a page
    elif level is Access.OPEN:
        assert answer.status_code not in (401, 403), answer.text
    elif page:
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")
    else:
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"].startswith("Bearer")
        if not path.endswith("/stream"):
            assert answer.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(("method", "path", "level", "page"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
@pytest.mark.parametrize("role", ["wrong", "revoked", "full", "read", "ingest"])
def test_with_each_kind_of_key(
    secured: Secured, trace_id: str, method: str, path: str, level: Access, page: bool, role: str
) -> None:
    key = WRONG_KEY if role == "wrong" else secured.keys[role]
    secured.server.runtime.failures = FailureLimiter()  # each check starts with a clean record
    answer = ask(secured, method, path, key, trace_id)
    allowed = {
        "wrong": set(),
        "revoked": set(),
        "full": {Access.OPEN, Access.INGEST, Access.READ, Access.WRITE},
        "read": {Access.OPEN, Access.READ},
        "ingest": {Access.OPEN, Access.INGEST},
    }[role]
    if path.startswith(("/healthz", "/static/", "/favicon")):
        assert answer.status_code < 400  # open to all, whatever the credentials
    elif (method, path) == ("POST", "/login"):
        assert answer.status_code == 401  # the form carries no key: a header does not sign a browser in
    elif role in ("wrong", "revoked"):
        assert answer.status_code == 401, answer.text
    elif level in allowed:
        if path == "/api/v1/projects" and method == "POST":
            assert answer.status_code == 403  # projects are made on the server's machine when --auth is on
        else:
            assert answer.status_code not in (401, 403), answer.text
    else:
        assert answer.status_code == 403, answer.text


@pytest.mark.parametrize(
    "path",
    ["/api/v1/sessions/s-mine", "/api/v1/users/ann", "/sessions/s-mine", "/users/ann", "TRACE_API", "TRACE_PAGE"],
)
def test_another_projects_key_finds_nothing(secured: Secured, trace_id: str, path: str) -> None:
    path = {"TRACE_API": f"/api/v1/traces/{trace_id}", "TRACE_PAGE": f"/traces/{trace_id}"}.get(path, path)
    answer = httpx.get(secured.url + path, headers={"Authorization": f"Bearer {secured.keys['other']}"})
    assert answer.status_code == 404
    mine = httpx.get(secured.url + path, headers={"Authorization": f"Bearer {secured.keys['full']}"})
    assert mine.status_code == 200


def test_lists_and_counts_are_the_projects_own(secured: Secured) -> None:
    for role, own, foreign in (("full", "s-mine", "s-theirs"), ("other", "s-theirs", "s-mine")):
        headers = {"Authorization": f"Bearer {secured.keys[role]}"}
        listed = [
            s["session_id"] for s in httpx.get(f"{secured.url}/api/v1/sessions", headers=headers).json()["sessions"]
        ]
        assert own in listed
        assert foreign not in listed
        assert httpx.get(f"{secured.url}/api/v1/stats", headers=headers).json()["session_count"] == 1
        users = httpx.get(f"{secured.url}/api/v1/users", headers=headers).json()["users"]
        assert len(users) == 1
        erased = httpx.delete(f"{secured.url}/api/v1/sessions/{foreign}", headers=headers)
        assert erased.status_code == 404  # erasure stays within the project too


def test_the_langfuse_basic_pair_and_the_exporter_header(secured: Secured) -> None:
    key = secured.keys["ingest"]
    pair = base64.b64encode(f"{key[:19]}:{key}".encode()).decode()
    ok = httpx.post(f"{secured.url}/api/public/otel/v1/traces", content=b"{}",
                    headers={"Authorization": f"Basic {pair}", "Content-Type": "application/json"})  # fmt: skip
    assert ok.status_code == 200
    bad = base64.b64encode(f"tl_ffffffffffffffff:{key}".encode()).decode()
    refused = httpx.post(f"{secured.url}/api/public/otel/v1/traces", content=b"{}",
                         headers={"Authorization": f"Basic {bad}", "Content-Type": "application/json"})  # fmt: skip
    assert refused.status_code == 401
    assert "Basic" in refused.headers["www-authenticate"]


def test_a_protobuf_exporter_gets_a_status_message(secured: Secured) -> None:
    from google.rpc import status_pb2

    answer = httpx.post(f"{secured.url}/v1/traces", content=b"", headers={"Content-Type": "application/x-protobuf"})
    assert answer.status_code == 401
    status = status_pb2.Status.FromString(answer.content)
    assert status.code == 16  # UNAUTHENTICATED
    assert "key" in status.message


def test_a_revoked_key_stops_working_at_once(secured: Secured) -> None:
    key = make_key(secured.server, "default", "read", "to-revoke")
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{secured.url}/api/v1/stats", headers=headers).status_code == 200
    full = {"Authorization": f"Bearer {secured.keys['full']}"}
    assert httpx.delete(f"{secured.url}/api/v1/keys/{key[:19]}", headers=full).status_code == 200
    assert httpx.get(f"{secured.url}/api/v1/stats", headers=headers).status_code == 401


def test_failed_attempts_are_limited(tmp_path: Any) -> None:
    from support.server import run_server

    with run_server(tmp_path / "data", auth=True, secret_key="s") as server, server.client() as client:
        statuses = [client.get("/api/v1/stats", headers={"Authorization": f"Bearer {WRONG_KEY}"}).status_code
                    for _ in range(25)]  # fmt: skip
    assert statuses[:20] == [401] * 20
    assert statuses[20:] == [429] * 5
