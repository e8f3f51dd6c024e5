"""Live rows over Server-Sent Events, keyboard navigation, erasure, and the newcomer's empty page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from browser import fill
from support.server import RunningServer, run_server


@pytest.fixture
def small(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own, with 30 sessions: tests here add and erase data."""
    with run_server(tmp_path / "data") as server, server.client() as client:
        now = time.time_ns()
        for i in range(30):
            fill.send(client, fill.turn(f"s-{i:02d}", now - (600 + i * 60) * 10**9, question=f"question {i}"))
        yield server


def test_live_mode_inserts_and_updates_rows_without_a_reload(page: Page, small: RunningServer) -> None:
    page.set_viewport_size({"width": 1400, "height": 500})
    page.goto(small.url + "/?open=s-05")
    expect(page.locator("#drawer")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    page.get_by_label("Live").check()
    expect(page.locator("#live-state")).to_contain_text("live")
    assert "live=1" in page.url
    page.mouse.wheel(0, 400)
    page.wait_for_timeout(200)
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    with small.client() as client:
        fill.send(client, fill.turn("s-new", time.time_ns(), question="sent after the page loaded"))
        fill.send(client, fill.turn("s-03", time.time_ns(), question="a second turn"))
    new_row = page.locator('#session-rows tr[data-session="s-new"]')
    expect(new_row).to_be_visible(timeout=5000)
    expect(page.locator("#session-rows tr").first).to_have_attribute("data-session", "s-new")
    expect(page.locator('#session-rows tr[data-session="s-03"] td').nth(4)).to_have_text("2", timeout=5000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    expect(page.locator("#drawer")).to_be_visible()  # the open session stays open
    assert abs(page.evaluate("window.scrollY") - scrolled) < 120  # the reader stays where they were


def test_live_mode_respects_the_filters(page: Page, small: RunningServer) -> None:
    page.goto(small.url + "/?q=needle&live=1")
    expect(page.locator("#live-state")).to_contain_text("live")
    with small.client() as client:
        fill.send(client, fill.turn("s-hay", time.time_ns(), question="only hay"))
        fill.send(client, fill.turn("s-needle", time.time_ns(), question="a needle here"))
    expect(page.locator('#session-rows tr[data-session="s-needle"]')).to_be_visible(timeout=5000)
    expect(page.locator('#session-rows tr[data-session="s-hay"]')).to_have_count(0)


def test_the_keyboard_moves_opens_and_closes(page: Page, small: RunningServer) -> None:
    page.goto(small.url + "/")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    selected = page.locator('#session-rows tr[aria-selected="true"]')
    expect(selected).to_have_attribute("data-session", "s-01")
    page.keyboard.press("k")
    expect(selected).to_have_attribute("data-session", "s-00")
    page.keyboard.press("Enter")
    expect(page.locator("#drawer")).to_be_visible()
    expect(page.locator("#drawer h1")).to_have_text("s-00")
    page.keyboard.press("Escape")
    expect(page.locator("#drawer")).to_be_hidden()
    assert "open=" not in page.url
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()


def test_back_and_forward_follow_the_drawer(page: Page, small: RunningServer) -> None:
    page.goto(small.url + "/")
    page.locator("#session-rows tr").nth(2).click()
    expect(page.locator("#drawer h1")).to_have_text("s-02")
    page.go_back()
    expect(page.locator("#drawer")).to_be_hidden()
    page.go_forward()
    expect(page.locator("#drawer h1")).to_have_text("s-02")


def test_erase_asks_first_then_removes_the_session(page: Page, small: RunningServer) -> None:
    page.goto(small.url + "/sessions/s-07")
    page.get_by_role("button", name="Erase…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    dialog.get_by_role("button", name="Cancel").click()
    assert httpx.get(f"{small.url}/api/v1/sessions/s-07").status_code == 200
    page.get_by_role("button", name="Erase…").click()
    page.get_by_role("dialog").get_by_role("button", name="Erase").click()
    expect(page).to_have_url(small.url + "/")
    assert httpx.get(f"{small.url}/api/v1/sessions/s-07").status_code == 404
    expect(page.locator('#session-rows tr[data-session="s-07"]')).to_have_count(0)


def test_an_empty_server_teaches_how_to_send_data(page: Page, tmp_path: Path) -> None:
    with run_server(tmp_path / "empty") as server:
        page.goto(server.url + "/")
        empty = page.locator("section.empty")
        expect(empty).to_contain_text(f"{server.url}/v1/traces")
        expect(empty).to_contain_text(f"OTEL_EXPORTER_OTLP_ENDPOINT={server.url}")
        expect(empty).to_contain_text(f'threadline.configure(endpoint="{server.url}")')
        snippet = empty.locator("pre").last.inner_text().strip().splitlines()
        assert len(snippet) == 3
