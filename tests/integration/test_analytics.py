"""Session analytics over a seeded scenario, checked against figures computed here from the raw scenario."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.scenario import Session, at, iso_at
from support.server import ManualClock, run_server

pytestmark = pytest.mark.both_engines

IDLE_S = 1800
ENDINGS = ("answered", "asked_question", "error", "tool_failure", "explicit", "converted", "active")


@dataclass
class Planned:
    session_id: str
    user_id: str
    start_s: float
    latencies_s: list[float]
    costs: list[float | None]
    ending: str

    @property
    def turns(self) -> int:
        return len(self.latencies_s)

    def starts(self) -> list[float]:
        return [self.start_s + 100 * i for i in range(self.turns)]

    @property
    def last_end_s(self) -> float:
        end = self.starts()[-1] + self.latencies_s[-1]
        return max(end, self.starts()[-1] + 50) if self.ending == "explicit" else end


def plan(seed: int = 11, count: int = 60) -> list[Planned]:
    rng = random.Random(seed)
    planned = []
    for n in range(count):
        turns = rng.choice([1, 1, 2, 3, 4, 5, 8, 12])
        ending = ENDINGS[n % len(ENDINGS)]
        start = 20_000.0 if ending == "active" else rng.uniform(0, 6 * 3600)
        planned.append(
            Planned(
                session_id=f"s-{n:03d}",
                user_id=f"u-{n % 7}",
                start_s=round(start, 3),
                latencies_s=[round(rng.uniform(0.5, 9.0), 3) for _ in range(turns)],
                costs=[None if rng.random() < 0.15 else round(rng.uniform(0.0001, 0.02), 6) for _ in range(turns)],
                ending=ending,
            )
        )
    return planned


def send(client: httpx.Client, p: Planned) -> None:
    session = Session(p.session_id, user_id=p.user_id)
    for i, (start, latency, cost) in enumerate(zip(p.starts(), p.latencies_s, p.costs, strict=True)):
        last = i == p.turns - 1
        kwargs: dict[str, Any] = {"latency_s": latency, "cost_usd": cost}
        if cost is None:
            kwargs["model"] = "unknown-model-x"  # unpriced
        if last and p.ending == "asked_question":
            kwargs["answer"] = "Which one do you mean?"
        if last and p.ending == "error":
            kwargs["llm_error"] = "InternalServerError"
        if last and p.ending == "tool_failure":
            kwargs["tool_error"] = "Timeout"
        if last and p.ending == "converted":
            kwargs["answer"] = "Shall I book it?"
            kwargs["attributes"] = {"journey.name": "booking", "journey.stage_number": 2, "journey.converted": True}
        session.turn(start, **kwargs)
    if p.ending == "explicit":
        session.event(p.starts()[-1] + 50, {"session.end_reason": "user_closed"})
    session.send(client)


NOW_S = 20_000.0 + 600


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, list[Planned]]]:
    planned = plan()
    clock = ManualClock(at(NOW_S))
    with run_server(Path(tmp_path_factory.mktemp("analytics")) / "data", clock=clock) as srv, srv.client() as client:
        for p in planned:
            send(client, p)
        yield client, planned


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def expected(planned: list[Planned]) -> dict[str, Any]:
    def ended(p: Planned) -> bool:
        return p.ending == "explicit" or NOW_S - p.last_end_s >= IDLE_S

    def dropped(p: Planned) -> bool:
        return ended(p) and p.ending in ("asked_question", "error", "tool_failure")

    ended_sessions = [p for p in planned if ended(p)]
    drops = [p for p in planned if dropped(p)]
    session_costs = [sum(c for c in p.costs if c is not None) for p in planned if any(c is not None for c in p.costs)]
    durations = [(p.last_end_s - p.start_s) * 1000 for p in planned]
    latencies = [latency * 1000 for p in planned for latency in p.latencies_s]
    histogram = Counter(str(p.turns) if p.turns < 10 else "10+" for p in planned)
    return {
        "session_count": len(planned),
        "ended_session_count": len(ended_sessions),
        "turn_count_avg": statistics.mean(p.turns for p in planned),
        "turn_count_histogram": dict(histogram),
        "abandonment_rate": sum(1 for p in ended_sessions if p.turns == 1) / len(ended_sessions),
        "dropoff_rate": len(drops) / len(ended_sessions),
        "dropoff_count": len(drops),
        "dropoff_by_turn": dict(Counter(str(p.turns) for p in drops)),
        "dropoff_by_last_action": dict(Counter(p.ending for p in drops)),
        "cost_avg_usd": statistics.mean(session_costs),
        "cost_p50_usd": pct(session_costs, 50),
        "cost_p95_usd": pct(session_costs, 95),
        "duration_p50_ms": pct(durations, 50),
        "duration_p95_ms": pct(durations, 95),
        "turn_latency_p50_ms": pct(latencies, 50),
        "turn_latency_p95_ms": pct(latencies, 95),
        "error_session_rate": sum(1 for p in planned if p.ending in ("error", "tool_failure")) / len(planned),
    }


def test_session_analytics_match_the_scenario(scenario: tuple[httpx.Client, list[Planned]]) -> None:
    client, planned = scenario
    got = client.get("/api/v1/analytics/sessions").json()
    for key, value in expected(planned).items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        else:
            assert got[key] == value, key


def test_sessions_over_time_counts_starts_per_hour(scenario: tuple[httpx.Client, list[Planned]]) -> None:
    client, planned = scenario
    got = client.get("/api/v1/analytics/sessions").json()["sessions_over_time"]
    assert sum(b["sessions"] for b in got) == len(planned)
    assert got[0]["start"] == iso_at(0)
    assert got[0]["sessions"] == sum(1 for p in planned if p.start_s < 3600)
    assert all(b["start"].endswith(":00:00.000000Z") for b in got)


def test_a_window_and_a_user_narrow_the_figures(scenario: tuple[httpx.Client, list[Planned]]) -> None:
    client, planned = scenario
    window = [p for p in planned if p.last_end_s >= 3600 and p.start_s <= 3 * 3600]
    got = client.get("/api/v1/analytics/sessions", params={"since": iso_at(3600), "until": iso_at(3 * 3600)}).json()
    assert got["session_count"] == len(window)
    assert got["turn_count_avg"] == pytest.approx(statistics.mean(p.turns for p in window))
    mine = [p for p in planned if p.user_id == "u-3"]
    by_user = client.get("/api/v1/analytics/sessions", params={"user_id": "u-3"}).json()
    assert by_user["session_count"] == len(mine)
    assert by_user["turn_latency_p50_ms"] == pytest.approx(pct([x * 1000 for p in mine for x in p.latencies_s], 50))


def test_an_empty_window_has_no_figures(scenario: tuple[httpx.Client, list[Planned]]) -> None:
    client, _ = scenario
    got = client.get("/api/v1/analytics/sessions", params={"since": "2031-01-01T00:00:00Z"}).json()
    assert got["session_count"] == 0
    assert got["dropoff_rate"] is None
    assert got["cost_p50_usd"] is None
    assert got["sessions_over_time"] == []


def test_bad_window_is_400(scenario: tuple[httpx.Client, list[Planned]]) -> None:
    client, _ = scenario
    response = client.get("/api/v1/analytics/sessions", params={"until": "last tuesday"})
    assert response.status_code == 400
    assert response.json()["error"]["detail"]["parameter"] == "until"
