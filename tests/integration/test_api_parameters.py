"""Query parameters a read route does not take are refused with a 400 naming them and the allowed ones."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from support.scenario import Session
from support.server import RunningServer, run_server
from threadline.server.app import create_app
from threadline.server.settings import Settings

pytestmark = pytest.mark.both_engines

TAKES = {
    "/api/v1/sessions": ["user_id", "since", "until", "has_error", "status", "dropped_off", "min_turns", "max_turns",
                         "model", "q", "ordering", "limit", "cursor"],
    "/api/v1/sessions/{session_id}": [],
    "/api/v1/traces": ["orphan", "limit", "cursor"],
    "/api/v1/traces/{trace_id}": [],
    "/api/v1/users": ["since", "until", "returning", "ordering", "limit", "cursor"],
    "/api/v1/users/{user_id}": [],
    "/api/v1/analytics/sessions": ["since", "until", "user_id"],
    "/api/v1/analytics/journeys": ["since", "until", "user_id"],
    "/api/v1/stats": [],
    "/api/v1/stream": ["session_id", "user_id"],
    "/api/v1/projects": [],
    "/api/v1/keys": [],
}  # fmt: skip


def _read_routes() -> list[str]:
    paths = create_app(Settings()).openapi()["paths"]
    return sorted(path for path, methods in paths.items() if "get" in methods and path.startswith("/api/v1/"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_server(tmp_path_factory.mktemp("params") / "data") as running, running.client() as http:
        Session("s-1", user_id="ann").turn(0).send(http)
        yield running


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "ab" * 16 if m[1] == "trace_id" else "x", path)


def test_every_read_route_is_listed_here() -> None:
    assert _read_routes() == sorted(TAKES)


@pytest.mark.parametrize("path", sorted(TAKES))
def test_an_unknown_parameter_is_a_400_naming_it_and_the_allowed_ones(server: RunningServer, path: str) -> None:
    with server.client() as http:
        response = http.get(_url(path), params={"orderby": "-total_cost"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "unknown_parameter"
    assert error["detail"] == {"parameter": "orderby", "allowed": TAKES[path]}
    assert error["message"].startswith(f"Unknown query parameter 'orderby': GET {path} takes ")
    assert (
        ", ".join(TAKES[path]) in error["message"] if TAKES[path] else "takes no query parameters" in error["message"]
    )


def test_the_likely_parameter_is_suggested(server: RunningServer) -> None:
    with server.client() as http:
        error = http.get("/api/v1/sessions", params={"orderby": "-total_cost"}).json()["error"]
    assert error["message"].endswith("Did you mean 'ordering'?")


def test_declared_parameters_still_work(server: RunningServer) -> None:
    with server.client() as http:
        listed = http.get("/api/v1/sessions", params={"ordering": "-total_cost", "limit": "5", "user_id": "ann"})
        analytics = http.get("/api/v1/analytics/sessions", params={"user_id": "ann", "since": "2000-01-01"})
        orphans = http.get("/api/v1/traces", params={"orphan": "true", "limit": "5"})
        health = http.get("/healthz", params={"anything": "1"})  # not under /api/v1: probes add what they like
    assert [s["session_id"] for s in listed.json()["sessions"]] == ["s-1"]
    assert analytics.json()["session_count"] == 1
    assert orphans.status_code == health.status_code == 200


def test_erasure_takes_no_parameters_either(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        response = http.delete("/api/v1/sessions/s-1", params={"dry_run": "true"})
        still_there = http.get("/api/v1/sessions/s-1")
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["parameter"] == "dry_run"
    assert still_there.status_code == 200
