"""The session list: every filter, every ordering, cursor pagination, and errors that say what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.otlp import BASE_NS, PROTOBUF, SpanSpec, request, turn
from support.server import run_server

pytestmark = pytest.mark.both_engines

ORDERINGS = {
    "last_activity": "last_activity",
    "first_activity": "first_activity",
    "total_cost": "total_cost_usd",
    "total_tokens": "total_tokens",
    "duration": "duration_ms",
    "turn_count": "turn_count",
    "error_count": "error_count",
}


@dataclass
class Seeded:
    session_id: str
    user_id: str
    turns: int
    start_s: float
    model: str
    error: bool
    topic: str


SEEDED = [
    Seeded(f"s-{n:02d}", f"user-{n % 3}", 1 + n % 4, n * 100.0, model, n % 5 == 0, topic)
    for n, (model, topic) in enumerate(
        [
            ("gpt-4o-mini", "refund"),
            ("gpt-4o", "weather"),
            ("mystery-model-1", "invoice"),
            ("gpt-4o-mini", "weather"),
            ("gpt-4o", "password reset"),
            ("gpt-4o-mini", "refund"),
            ("mystery-model-1", "weather"),
            ("gpt-4o-mini", "shipping"),
            ("gpt-4o", "weather"),
            ("gpt-4o-mini", "refund"),
            ("gpt-4o-mini", "invoice"),
            ("gpt-4o", "weather"),
        ]
    )
]


def _spans(seed: Seeded) -> list[SpanSpec]:
    spans: list[SpanSpec] = []
    for t in range(seed.turns):
        spans += turn(
            seed.session_id,
            start_s=seed.start_s + t * 7,
            user_id=seed.user_id,
            question=f"Question about {seed.topic} #{t}",
            answer=f"Answer {t} for {seed.session_id}",
            input_tokens=100 * (t + 1) + len(seed.session_id),
            output_tokens=10 + t,
            model=seed.model,
        )
    if seed.error:
        spans[-1].error = "rate limited"
    return spans


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data = Path(tmp_path_factory.mktemp("api")) / "data"
    with run_server(data) as srv, srv.client() as http:
        for seed in SEEDED:
            assert http.post("/v1/traces", content=request(*_spans(seed)), headers=PROTOBUF).status_code == 200
        yield http


def all_sessions(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Walk every page; checks that pages neither overlap nor skip."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get("/api/v1/sessions", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        found += body["sessions"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def test_default_is_newest_activity_first(client: httpx.Client) -> None:
    sessions = client.get("/api/v1/sessions").json()["sessions"]
    assert [s["session_id"] for s in sessions] == [s.session_id for s in reversed(SEEDED)]


@pytest.mark.parametrize("ordering", list(ORDERINGS))
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_every_ordering_sorts_and_paginates(client: httpx.Client, ordering: str, descending: bool) -> None:
    field = ORDERINGS[ordering]
    sessions = all_sessions(client, ordering=("-" if descending else "") + ordering, limit=5)
    assert sorted(s["session_id"] for s in sessions) == sorted(s.session_id for s in SEEDED)

    def key(session: dict[str, Any]) -> Any:
        value = session[field]
        return -1.0 if value is None else value  # unpriced sessions sort as the cheapest

    values = [key(s) for s in sessions]
    assert values == sorted(values, reverse=descending)


def test_summary_fields(client: httpx.Client) -> None:
    session = client.get("/api/v1/sessions/s-03").json()
    assert session["user_id"] == "user-0"
    assert session["turn_count"] == 4
    assert session["first_input"] == "Question about weather #0"
    assert session["last_output"] == "Answer 3 for s-03"
    assert session["input_tokens"] == sum(100 * (t + 1) + 4 for t in range(4))
    assert session["output_tokens"] == sum(10 + t for t in range(4))
    assert session["total_tokens"] == session["input_tokens"] + session["output_tokens"]
    assert session["models"] == ["gpt-4o-mini"]
    assert session["first_activity"] == "2027-01-15T08:05:00.000000Z"
    assert session["duration_ms"] == (3 * 7 + 2) * 1000
    assert session["cost_source"] == "computed"


def test_unknown_models_have_no_cost_rather_than_zero(client: httpx.Client) -> None:
    session = client.get("/api/v1/sessions/s-02").json()
    assert session["total_cost_usd"] is None
    assert session["cost_source"] is None
    assert session["unpriced_calls"] == session["llm_call_count"] == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"user_id": "user-1"}, [s.session_id for s in SEEDED if s.user_id == "user-1"]),
        ({"has_error": "true"}, [s.session_id for s in SEEDED if s.error]),
        ({"has_error": "false"}, [s.session_id for s in SEEDED if not s.error]),
        ({"min_turns": "3"}, [s.session_id for s in SEEDED if s.turns >= 3]),
        ({"max_turns": "2"}, [s.session_id for s in SEEDED if s.turns <= 2]),
        ({"min_turns": "2", "max_turns": "3"}, [s.session_id for s in SEEDED if 2 <= s.turns <= 3]),
        ({"model": "gpt-4o"}, [s.session_id for s in SEEDED if s.model == "gpt-4o"]),
        ({"q": "WEATHER"}, [s.session_id for s in SEEDED if s.topic == "weather"]),
        ({"q": "Answer 3 for s-0"}, [s.session_id for s in SEEDED if s.turns == 4 and s.session_id < "s-10"]),
        ({"q": "100%_"}, []),
        # BASE_NS is 2027-01-15T08:00:00Z: the window is 600 s .. 1200 s after it.
        ({"since": "2027-01-15T08:10:00Z", "until": "2027-01-15T08:20:00Z"}, None),
        ({"since": "2027-01-15T08:08:29Z"}, None),
        ({"user_id": "user-2", "model": "gpt-4o", "has_error": "false"}, ["s-08", "s-11"]),
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_filters(client: httpx.Client, params: dict[str, str], expected: list[str] | None) -> None:
    if expected is None:
        expected = _active(params.get("since"), params.get("until"))
    got = [s["session_id"] for s in all_sessions(client, **params, limit=3)]
    assert sorted(got) == sorted(expected)


def _active(since: str | None, until: str | None) -> list[str]:
    """Sessions whose activity overlaps [since, until], computed from the seeded spans."""

    def seconds(stamp: str | None, default: float) -> float:
        if stamp is None:
            return default
        hours, minutes, secs = stamp.removesuffix("Z").split("T")[1].split(":")
        return (int(hours) - 8) * 3600 + int(minutes) * 60 + float(secs)

    low, high = seconds(since, float("-inf")), seconds(until, float("inf"))
    assert BASE_NS == 1_800_000_000 * 10**9
    return [s.session_id for s in SEEDED if s.start_s + (s.turns - 1) * 7 + 2 >= low and s.start_s <= high]


@pytest.mark.parametrize(
    ("params", "parameter", "hint"),
    [
        ({"ordering": "cost"}, "ordering", "total_cost"),
        ({"ordering": "--duration"}, "ordering", "prefix '-'"),
        ({"limit": "0"}, "limit", "from 1 to 500"),
        ({"limit": "501"}, "limit", "from 1 to 500"),
        ({"limit": "ten"}, "limit", "from 1 to 500"),
        ({"since": "yesterday"}, "since", "ISO 8601"),
        ({"until": "2026-13-45"}, "until", "ISO 8601"),
        ({"has_error": "maybe"}, "has_error", "true or false"),
        ({"min_turns": "-1"}, "min_turns", "integer"),
        ({"cursor": "not-a-cursor"}, "cursor", "next_cursor"),
    ],
)
def test_bad_parameters_are_400_naming_the_value(
    client: httpx.Client, params: dict[str, str], parameter: str, hint: str
) -> None:
    response = client.get("/api/v1/sessions", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_parameter"
    assert error["detail"]["parameter"] == parameter
    assert repr(params[parameter]) in error["message"]
    assert hint in error["message"]


def test_a_cursor_only_continues_its_own_ordering(client: httpx.Client) -> None:
    cursor = client.get("/api/v1/sessions", params={"limit": 2, "ordering": "-total_cost"}).json()["next_cursor"]
    assert cursor
    response = client.get("/api/v1/sessions", params={"cursor": cursor, "ordering": "duration"})
    assert response.status_code == 400
    assert "same ordering" in response.json()["error"]["message"]


def test_bad_ordering_lists_what_is_allowed(client: httpx.Client) -> None:
    error = client.get("/api/v1/sessions", params={"ordering": "nope"}).json()["error"]
    assert "-total_cost" in error["detail"]["allowed"]
    assert len(error["detail"]["allowed"]) == 14


def test_unknown_session_trace_and_route_are_404_in_the_error_shape(client: httpx.Client) -> None:
    session = client.get("/api/v1/sessions/nope")
    trace = client.get("/api/v1/traces/" + "ab" * 16)
    bad_trace = client.get("/api/v1/traces/xyz")
    route = client.get("/api/v1/nothing-here")
    method = client.delete("/api/v1/stats")
    assert session.status_code == trace.status_code == route.status_code == 404
    assert session.json()["error"]["code"] == "not_found"
    assert "GET /api/v1/sessions" in session.json()["error"]["message"]
    assert bad_trace.status_code == 400
    assert bad_trace.json()["error"]["detail"]["parameter"] == "trace_id"
    assert route.json()["error"]["code"] == "not_found"
    assert method.status_code == 405
    assert method.json()["error"]["code"] == "method_not_allowed"


def test_session_detail_has_turns_and_conversations(client: httpx.Client) -> None:
    detail = client.get("/api/v1/sessions/s-07").json()
    assert [t["turn_number"] for t in detail["turns"]] == [1, 2, 3, 4]
    first = detail["turns"][0]
    assert first["input"] == "Question about shipping #0"
    assert first["output"] == "Answer 0 for s-07"
    assert first["latency_ms"] == 2000.0
    assert first["llm_call_count"] == 1
    assert first["context_tokens"] == 104
    assert len(first["trace_ids"]) == 1
    assert detail["conversations"] == [
        {
            "conversation_id": "s-07",
            "turn_count": 4,
            "first_activity": detail["first_activity"],
            "last_activity": detail["last_activity"],
            "topic": None,
        }
    ]


def test_trace_tree(client: httpx.Client) -> None:
    detail = client.get("/api/v1/sessions/s-09").json()
    trace = client.get(f"/api/v1/traces/{detail['turns'][0]['trace_ids'][0]}").json()
    assert trace["session_id"] == "s-09"
    (root,) = trace["spans"]
    assert root["name"] == "turn"
    assert root["input"] == "Question about refund #0"
    (llm,) = root["children"]
    assert llm["category"] == "llm"
    assert llm["model"] == "gpt-4o-mini"
    assert (llm["input_tokens"], llm["output_tokens"]) == (104, 10)
    assert llm["cost_source"] == "computed"
    assert llm["cost_usd"] == pytest.approx(104 * 0.15e-6 + 10 * 0.6e-6)
    assert llm["duration_ms"] == 1000.0
    assert llm["resource"] == {"service.name": "test-app"}


def test_stats_health_metrics_and_openapi(client: httpx.Client) -> None:
    stats = client.get("/api/v1/stats").json()
    assert stats == {
        "span_count": 2 * sum(s.turns for s in SEEDED),
        "trace_count": sum(s.turns for s in SEEDED),
        "session_count": len(SEEDED),
        "orphan_trace_count": 0,
        "user_count": 3,
    }
    assert client.get("/healthz").json()["status"] == "ok"
    metrics = client.get("/metrics").text
    assert f'threadline_spans_stored{{project="default"}} {stats["span_count"]}' in metrics
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if not line.startswith("#"))
    assert float(values["threadline_writer_busy_seconds_total"]) > 0  # the seeded spans were written
    threads = {k.split('"')[1]: float(v) for k, v in values.items() if k.startswith("threadline_thread_cpu_seconds")}
    assert "MainThread" in threads
    assert any(name.endswith("writer") and seconds > 0 for name, seconds in threads.items()), threads
    spec = client.get("/openapi.json").json()
    for path in ("/v1/traces", "/api/v1/sessions", "/api/v1/sessions/{session_id}", "/api/v1/traces/{trace_id}"):
        assert path in spec["paths"]
