"""The sessions page against the API: rows, every ordering, every filter, paging, and the URL as the state."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import Page, expect

from browser.conftest import Filled
from threadline.server import humanize
from threadline.server.store.base import ORDERINGS


def api_sessions(filled: Filled, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{filled.url}/api/v1/sessions", params=params, timeout=10)
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    return sessions


def shown(page: Page) -> list[str]:
    return page.locator("#session-rows tr").evaluate_all("rows => rows.map(r => r.dataset.session)")


def test_the_rows_are_the_apis_first_page_with_its_figures(page: Page, filled: Filled) -> None:
    page.goto(filled.url + "/")
    expected = api_sessions(filled)
    assert shown(page) == [s["session_id"] for s in expected]
    assert len(expected) == 50
    for index, s in enumerate(expected[:12]):
        row = page.locator("#session-rows tr").nth(index)
        cells = row.locator("td").all_inner_texts()
        assert cells[4] == humanize.count(s["turn_count"])
        assert cells[5] == humanize.count(s["total_tokens"])
        assert cells[6] == humanize.money(s["total_cost_usd"])
        assert cells[7] == humanize.duration(s["duration_ms"])
        assert s["status"] in cells[9]
        exact = row.locator("time").get_attribute("title")
        assert exact is not None
        assert exact.startswith(s["last_activity"].replace("T", " ")[:19])


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_each_ordering_sorts_as_the_api(page: Page, filled: Filled, ordering: str) -> None:
    for direction in ("-", ""):
        page.goto(f"{filled.url}/?ordering={direction}{ordering}")
        assert shown(page) == [s["session_id"] for s in api_sessions(filled, ordering=f"{direction}{ordering}")]


def test_a_column_header_sorts_and_sorts_back(page: Page, filled: Filled) -> None:
    page.goto(filled.url + "/")
    page.get_by_title("Sort by Cost").click()
    expect(page).to_have_url(f"{filled.url}/?ordering=-total_cost")
    assert shown(page) == [s["session_id"] for s in api_sessions(filled, ordering="-total_cost")]
    page.get_by_title("Sort by Cost").click()
    expect(page).to_have_url(f"{filled.url}/?ordering=total_cost")
    assert shown(page) == [s["session_id"] for s in api_sessions(filled, ordering="total_cost")]


FILTERS: list[tuple[str, dict[str, str]]] = [
    ("status", {"status": "ended"}),
    ("status", {"status": "active"}),
    ("dropped_off", {"dropped_off": "true"}),
    ("has_error", {"has_error": "true"}),
    ("has_error", {"has_error": "false"}),
    ("model", {"model": "gpt-4o"}),
    ("turns", {"min_turns": "3", "max_turns": "5"}),
    ("text", {"q": "Lisbon"}),
    ("user", {"user_id": "maria@example.com"}),
]


@pytest.mark.parametrize(("name", "values"), FILTERS, ids=[f"{n}-{'-'.join(v.values())}" for n, v in FILTERS])
def test_each_filter_keeps_the_rows_the_api_keeps(
    page: Page, filled: Filled, name: str, values: dict[str, str]
) -> None:
    page.goto(filled.url + "/")
    form = page.get_by_role("search", name="Filter sessions")
    for field, value in values.items():
        control = form.locator(f'[name="{field}"]')
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    form.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    query = parse_qs(urlparse(page.url).query)
    for field, value in values.items():
        assert query[field] == [value]
    expected = [s["session_id"] for s in api_sessions(filled, **values)]
    assert expected, f"the filter {values} should keep some sessions of the test data"
    assert shown(page) == expected
    page.reload()  # the URL holds the whole state
    assert shown(page) == expected
    for field, value in values.items():
        assert form.locator(f'[name="{field}"]').input_value() == value


def test_time_ranges_preset_and_custom(page: Page, filled: Filled) -> None:
    page.goto(filled.url + "/?range=1h")
    recent = shown(page)
    assert recent
    assert recent == [s["session_id"] for s in api_sessions(filled, since=_hour_ago(filled))]
    page.select_option("#range", "custom")
    expect(page.locator("#custom-range")).to_be_visible()
    since = api_sessions(filled, ordering="-last_activity", limit=500)[70]["last_activity"][:19]
    page.fill('input[name="since"]', since)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert parse_qs(urlparse(page.url).query)["range"] == ["custom"]
    expected = api_sessions(filled, since=since + "Z", limit=50)
    assert shown(page) == [s["session_id"] for s in expected]


def _hour_ago(filled: Filled) -> str:
    now = filled.server.runtime.clock() / 1e9
    return dt.datetime.fromtimestamp(now - 3600, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cursor_paging_follows_the_api(page: Page, filled: Filled) -> None:
    page.goto(filled.url + "/?ordering=first_activity")
    first = api_sessions(filled, ordering="first_activity")
    assert shown(page) == [s["session_id"] for s in first]
    page.get_by_role("link", name="Next page »").click()
    page.wait_for_load_state()
    cursor = parse_qs(urlparse(page.url).query)["cursor"][0]
    second = httpx.get(f"{filled.url}/api/v1/sessions", params={"ordering": "first_activity", "cursor": cursor}).json()
    assert shown(page) == [s["session_id"] for s in second["sessions"]]
    assert not set(shown(page)) & {s["session_id"] for s in first}
    page.get_by_role("link", name="« First page").click()
    assert shown(page) == [s["session_id"] for s in first]


def test_a_refused_value_is_shown_on_the_page(page: Page, filled: Filled) -> None:
    response = page.goto(filled.url + "/?range=custom&since=not-a-date")
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("Invalid value 'not-a-date' for 'since'")


def test_the_sort_menu_offers_every_ordering(page: Page, filled: Filled) -> None:
    page.goto(filled.url + "/")
    menu = page.get_by_label("Sort")
    values = menu.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert sorted(values) == sorted([f"-{o}" for o in ORDERINGS] + list(ORDERINGS))
    menu.select_option("first_activity")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert parse_qs(urlparse(page.url).query)["ordering"] == ["first_activity"]
    assert shown(page) == [s["session_id"] for s in api_sessions(filled, ordering="first_activity")]
