"""Analytics, users and the API reference against the API; every page checked by axe-core in both themes,
and a screenshot of each page in each theme left under tests/browser/screenshots/."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from browser.conftest import SCREENSHOTS, Filled
from support.server import RunningServer
from threadline.server import humanize


def api_at(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(base + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def api(filled: Filled, path: str, **params: Any) -> Any:
    return api_at(filled.url, path, **params)


def test_analytics_shows_the_apis_figures(page: Page, filled: Filled) -> None:
    figures = api(filled, "/api/v1/analytics/sessions")
    journeys = api(filled, "/api/v1/analytics/journeys")["journeys"]
    page.goto(filled.url + "/analytics")
    cards = page.locator(".cards").inner_text()
    assert humanize.count(figures["session_count"]) in cards
    assert humanize.rate(figures["dropoff_rate"]) in cards
    assert humanize.rate(figures["abandonment_rate"]) in cards
    assert humanize.money(figures["cost_p95_usd"]) in cards
    assert humanize.duration(figures["turn_latency_p50_ms"]) in cards
    expect(page.locator("#chart-over-time canvas")).to_have_count(1)  # drawn by uPlot
    expect(page.locator("#chart-turns canvas")).to_have_count(1)
    for action, count in figures["dropoff_by_last_action"].items():
        expect(page.locator("section", has_text="agent's last action")).to_contain_text(f"{action}")
        expect(page.locator("section", has_text="agent's last action")).to_contain_text(humanize.count(count))
    for journey in journeys:
        expect(page.locator("section", has_text="Journeys")).to_contain_text(journey["name"])
    costliest = api(filled, "/api/v1/sessions", ordering="-total_cost", limit=5)["sessions"]
    ranked = page.locator("section", has_text="Costliest sessions").locator("li a")
    assert ranked.all_inner_texts() == [s["session_id"] for s in costliest]
    ranked.first.click()
    expect(page).to_have_url(f"{filled.url}/sessions/{quote(costliest[0]['session_id'], safe='')}")


def test_analytics_durations_and_the_slowest_and_longest_sessions(page: Page, filled: Filled) -> None:
    figures = api(filled, "/api/v1/analytics/sessions")
    page.goto(filled.url + "/analytics")
    duration_card = page.locator(".cards .card", has_text="Session duration p50").inner_text()
    assert humanize.duration(figures["duration_p50_ms"]) in duration_card
    assert f"p95 {humanize.duration(figures['duration_p95_ms'])}" in duration_card
    latency_card = page.locator(".cards .card", has_text="Turn latency p50").inner_text()
    assert f"p95 {humanize.duration(figures['turn_latency_p95_ms'])}" in latency_card
    for title, ordering, figure in (
        ("Longest-running sessions", "-duration", lambda s: humanize.duration(s["duration_ms"])),
        ("Longest sessions (turns)", "-turn_count", lambda s: f"{humanize.count(s['turn_count'])} turns"),
    ):
        expected = api(filled, "/api/v1/sessions", ordering=ordering, limit=5)["sessions"]
        assert len(expected) == 5
        ranked = page.locator("section", has=page.get_by_role("heading", name=title, exact=True)).locator("li")
        assert ranked.locator("a").all_inner_texts() == [s["session_id"] for s in expected], title
        assert [item.locator(".num").inner_text() for item in ranked.all()] == [figure(s) for s in expected], title


def test_analytics_for_one_user_and_window(page: Page, filled: Filled) -> None:
    sessions = api(filled, "/api/v1/sessions", user_id="maria@example.com", ordering="first_activity", limit=500)[
        "sessions"
    ]
    since = sessions[len(sessions) // 2]["last_activity"][:19]
    expected = api(filled, "/api/v1/analytics/sessions", user_id="maria@example.com", since=since + "Z")
    everything = api(filled, "/api/v1/analytics/sessions")
    assert 0 < expected["session_count"] < everything["session_count"]
    page.goto(f"{filled.url}/analytics?range=custom&since={since}&user_id=maria@example.com")
    expect(page.locator("#range")).to_have_value("custom")
    expect(page.locator('input[name="user_id"]')).to_have_value("maria@example.com")
    first_card = page.locator(".cards .card").first.inner_text()
    assert first_card.splitlines()[1] == humanize.count(expected["session_count"])


def test_users_sort_and_link_to_their_sessions(page: Page, filled: Filled) -> None:
    page.goto(filled.url + "/users")
    users = api(filled, "/api/v1/users")["users"]
    shown = page.locator("table.users tbody tr td:first-child a").evaluate_all("a => a.map(x => x.title)")
    assert shown == [u["user_id"] for u in users]
    page.get_by_title("Sort by Sessions").click()
    by_sessions = api(filled, "/api/v1/users", ordering="-session_count")["users"]
    shown = page.locator("table.users tbody tr td:first-child a").evaluate_all("a => a.map(x => x.title)")
    assert shown == [u["user_id"] for u in by_sessions]
    top = by_sessions[0]
    page.locator("table.users tbody tr").first.locator("a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(top["user_id"])
    expect(page.locator(".facts")).to_contain_text(f"{humanize.number(top['retention_days'])} days")
    expect(page.locator("#session-rows tr")).to_have_count(min(top["session_count"], 50))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_and_is_photographed(browser: Browser, demo: RunningServer, scheme: str) -> None:
    """No serious or critical accessibility violation on any page, in either theme (the demo's data)."""
    get = functools.partial(api_at, demo.url)
    longest = get("/api/v1/sessions", ordering="-turn_count", limit=1)["sessions"][0]["session_id"]
    failed = get("/api/v1/sessions", dropped_off="true", has_error="true", limit=1)["sessions"][0]["session_id"]
    trace = get(f"/api/v1/sessions/{failed}")["turns"][-1]["trace_ids"][0]
    user = get("/api/v1/users", ordering="-session_count")["users"][0]["user_id"]
    pages = [
        ("sessions", "/"),
        ("drawer", f"/?open={longest}"),
        ("session", f"/sessions/{failed}"),
        ("trace", f"/traces/{trace}"),
        ("analytics", "/analytics"),
        ("users", "/users"),
        ("user", f"/users/{user}"),
        ("api-reference", "/docs"),
        ("orphan-traces", "/traces?orphan=true"),
    ]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    axe = Axe()
    SCREENSHOTS.mkdir(exist_ok=True)
    problems = []
    for index, (name, path) in enumerate(pages):
        page.goto(demo.url + path)
        page.wait_for_load_state("networkidle")
        if name == "session":  # show a turn's span tree, as someone debugging would
            page.locator("article.turn").last.locator("summary", has_text="Spans").click()
            page.locator("[data-trace-tree]").last.wait_for()
        result = axe.run(page)
        serious = [v for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
        problems += [f"{path}: {v['id']} ({v['impact']}): {v['help']}" for v in serious]
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=SCREENSHOTS / f"{index:02d}-{name}-{scheme}.png", full_page=name == "session")
    context.close()
    assert problems == []
