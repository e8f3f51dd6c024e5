"""Span content is attacker-controlled: ids, names, prompts, outputs, attribute keys and values, user ids.
On every page that shows them they stay inert text: no dialog, no script, no request elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from browser.conftest import HOSTILE_ID, HOSTILE_KEY, HOSTILE_OUTPUT, HOSTILE_PROMPT, HOSTILE_USER, Filled


@pytest.fixture
def guarded(page: Page, filled: Filled) -> Iterator[Page]:
    """The page, failing the test on any request that leaves this server (the page fixture fails on dialogs)."""
    elsewhere: list[str] = []

    def request(sent: Request) -> None:
        if not sent.url.startswith(filled.url):
            elsewhere.append(sent.url)

    page.on("request", request)
    yield page
    assert elsewhere == []


def hostile_trace(filled: Filled) -> str:
    detail = httpx.get(f"{filled.url}/api/v1/sessions/{quote(HOSTILE_ID, safe='')}").json()
    trace_id: str = detail["turns"][0]["trace_ids"][0]
    return trace_id


def test_the_list_shows_hostile_values_as_text(guarded: Page, filled: Filled) -> None:
    guarded.goto(filled.url + "/?q=" + quote("<script>"))
    row = guarded.locator("#session-rows tr").first
    assert row.get_attribute("data-session") == HOSTILE_ID
    expect(row).to_contain_text(HOSTILE_PROMPT[:40])
    assert guarded.locator("#session-rows img, #session-rows script, #session-rows svg").count() == 0
    row.hover()
    row.click()  # the drawer renders the same values
    expect(guarded.locator("#drawer h1")).to_have_text(HOSTILE_ID)
    assert guarded.locator("#drawer img, #drawer script, #drawer svg[onload]").count() == 0


def test_the_session_page_shows_hostile_values_as_text(guarded: Page, filled: Filled) -> None:
    guarded.goto(f"{filled.url}/sessions/{quote(HOSTILE_ID, safe='')}")
    expect(guarded.get_by_role("heading", level=1)).to_have_text(HOSTILE_ID)
    expect(guarded.locator(".bubble.user")).to_contain_text(HOSTILE_PROMPT)
    expect(guarded.locator(".bubble.assistant")).to_contain_text(HOSTILE_OUTPUT)
    guarded.get_by_text("Session attributes").click()
    expect(guarded.locator("dl.pairs")).to_contain_text(HOSTILE_OUTPUT)
    guarded.locator("summary", has_text="Spans").click()
    tree = guarded.locator("[data-trace-tree]")
    expect(tree).to_be_visible()
    tree.locator(".span-row").first.click()
    detail = tree.locator(".span-detail:visible")
    detail.get_by_text("Attributes").click()
    attributes = detail.locator("table.attributes").first
    expect(attributes).to_contain_text(HOSTILE_KEY)
    expect(attributes).to_contain_text("javascript:alert(7)")
    links = guarded.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert not [href for href in links if href and href.strip().lower().startswith("javascript:")]
    assert guarded.locator("main img, main script").count() == 0
    guarded.locator(".bubble").first.hover()


def test_the_trace_and_user_pages_show_hostile_values_as_text(guarded: Page, filled: Filled) -> None:
    guarded.goto(f"{filled.url}/traces/{hostile_trace(filled)}")
    expect(guarded.locator(".span-row").first).to_contain_text("turn")
    guarded.locator(".span-row", has_text="model").first.click()
    expect(guarded.locator(".span-detail:visible")).to_contain_text("<i>model</i>")
    guarded.goto(f"{filled.url}/users/{quote(HOSTILE_USER, safe='')}")
    expect(guarded.get_by_role("heading", level=1)).to_have_text(HOSTILE_USER)
    guarded.locator("h1").hover()
    guarded.goto(filled.url + "/users?ordering=-last_seen")
    expect(guarded.locator("table.users")).to_contain_text("mallory")
    assert guarded.locator("table.users b").count() == 0


def test_live_rows_carry_hostile_values_as_text(guarded: Page, filled: Filled) -> None:
    from browser import fill

    guarded.goto(filled.url + "/?live=1")
    expect(guarded.locator("#live-state")).to_contain_text("live")
    with httpx.Client(base_url=filled.url) as client:
        fill.send(client, fill.turn(HOSTILE_ID, fill.now_ns(), user_id=HOSTILE_USER, question=HOSTILE_PROMPT))
    row = guarded.locator("#session-rows tr").first
    expect(row).to_have_attribute("data-session", HOSTILE_ID, timeout=5000)
    expect(row).to_contain_text(HOSTILE_PROMPT[:30])
    assert row.locator("img, script, b").count() == 0
