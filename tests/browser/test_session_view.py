"""A session, from the list to a span: the drawer, the full page, the conversation, the span tree."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, expect

from browser.conftest import Filled
from threadline.server import humanize


def api(filled: Filled, path: str) -> Any:
    response = httpx.get(filled.url + path, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def longest_session(filled: Filled) -> dict[str, Any]:
    found = api(filled, "/api/v1/sessions?ordering=-turn_count&limit=1")["sessions"][0]
    detail: dict[str, Any] = api(filled, f"/api/v1/sessions/{quote(found['session_id'], safe='')}")
    return detail


def test_list_drawer_full_page_turn_and_span_tree(page: Page, filled: Filled) -> None:
    session = longest_session(filled)
    session_id = session["session_id"]
    page.goto(filled.url + "/?ordering=-turn_count")
    page.locator("#session-rows tr").first.click()
    drawer = page.get_by_role("complementary", name="Session")
    expect(drawer).to_be_visible()
    expect(drawer.get_by_role("heading", level=1)).to_have_text(session_id)
    assert f"open={session_id}" in page.url  # the open session is in the URL
    page.reload()
    expect(drawer).to_be_visible()  # and survives a reload
    drawer.get_by_role("link", name="Open full page").click()
    expect(page).to_have_url(f"{filled.url}/sessions/{session_id}")

    turns = page.locator("article.turn")
    expect(turns).to_have_count(len(session["turns"]))
    first = session["turns"][0]
    article = turns.first
    expect(article.locator(".turn-number")).to_have_text(f"Turn {first['turn_number']}")
    expect(article.locator(".bubble.user")).to_contain_text(first["input"])
    if first["output"]:
        expect(article.locator(".bubble.assistant")).to_contain_text(first["output"][:40])
    meta = article.locator(".turn-meta").inner_text()
    assert humanize.duration(first["latency_ms"]) in meta
    assert humanize.money(first["total_cost_usd"]) in meta
    assert f"{humanize.count(first['input_tokens'])} → {humanize.count(first['output_tokens'])}" in meta
    if first["context_window_pct"] is not None:
        expect(article.locator("meter.context")).to_have_attribute("value", str(first["context_window_pct"]))

    article.locator("summary", has_text="Spans").click()
    tree = article.locator("[data-trace-tree]").first
    expect(tree).to_be_visible()
    trace = api(filled, f"/api/v1/traces/{first['trace_ids'][0]}")
    flat = _flatten(trace["spans"])
    expect(tree.locator(".span-row")).to_have_count(len(flat))
    llm = next(s for s in flat if s["category"] == "llm")
    tree.locator(".span-row", has_text=llm["name"]).first.click()
    detail = tree.locator(".span-detail:visible")
    expect(detail).to_have_count(1)
    expect(detail).to_contain_text(llm["model"])
    expect(detail).to_contain_text(
        f"{humanize.count(llm['input_tokens'])} in → {humanize.count(llm['output_tokens'])} out"
    )
    expect(detail.locator(".message").first).to_be_visible()  # input messages rendered as messages


def _flatten(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for span in spans for item in [span, *_flatten(span["children"])]]


def test_the_session_facts_status_and_dropoff(page: Page, filled: Filled) -> None:
    dropped = api(filled, "/api/v1/sessions?dropped_off=true&limit=1")["sessions"][0]
    detail = api(filled, f"/api/v1/sessions/{quote(dropped['session_id'], safe='')}")
    page.goto(f"{filled.url}/sessions/{quote(dropped['session_id'], safe='')}")
    note = page.get_by_role("note").filter(has_text="Dropped off")
    expect(note).to_contain_text(f"after turn {detail['dropoff']['last_turn']}")
    expect(note).to_contain_text(detail["dropoff"]["agent_last_action"].replace("_", " "))
    facts = page.locator(".facts").inner_text()
    assert humanize.money(detail["total_cost_usd"]) in facts
    assert humanize.count(detail["turn_count"]) in facts
    assert f"{detail['reopened_count']}×" in facts
    expect(page.locator("table.timeline-table tbody tr")).to_have_count(detail["turn_count"])


def test_errors_and_tool_failures_are_shown_where_they_happened(page: Page, filled: Filled) -> None:
    page.goto(f"{filled.url}/sessions/{filled.erratic}")
    turns = page.locator("article.turn")
    expect(turns.nth(0).get_by_role("note")).to_contain_text("HTTP 500 upstream")
    expect(turns.nth(1).get_by_role("note")).to_contain_text("A tool call failed")
    expect(turns.nth(1).get_by_role("note")).to_contain_text("card_declined: insufficient funds")
    turns.nth(1).locator("summary", has_text="Spans").click()
    tree = turns.nth(1).locator("[data-trace-tree]")
    tree.locator(".span-row", has_text="charge_card").click()
    detail = tree.locator(".span-detail:visible")
    expect(detail).to_contain_text("card_declined: insufficient funds")
    expect(detail).to_contain_text('{"amount": 120}')  # the tool's arguments


def test_a_batch_session_is_a_list_of_runs(page: Page, filled: Filled) -> None:
    page.goto(f"{filled.url}/sessions/{filled.batch}")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    expect(page.locator("article.turn")).to_have_count(0)
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Summarise ticket #1")


def test_an_orphan_trace_is_reachable_from_the_list(page: Page, filled: Filled) -> None:
    page.goto(filled.url + "/")
    page.get_by_role("link", name="1 orphan trace").click()
    expect(page).to_have_url(f"{filled.url}/traces?orphan=true")
    page.get_by_role("link", name=filled.orphan_trace).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Trace {filled.orphan_trace}")
    expect(page.get_by_role("note")).to_contain_text("orphan trace")
    expect(page.locator(".span-row")).to_have_count(2)


def test_an_unknown_session_is_a_404_page(page: Page, filled: Filled) -> None:
    response = page.goto(f"{filled.url}/sessions/nope")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading")).to_contain_text("No session 'nope'")
