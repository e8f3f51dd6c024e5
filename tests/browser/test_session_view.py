"""A session, from the list to a span: the drawer, the full page, the conversation, the span tree."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Page, expect

from browser import fill
from browser.conftest import Filled
from support.server import run_server
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


def test_an_ended_sessions_page_shows_what_the_api_says(page: Page, filled: Filled) -> None:
    """End reason, user, models, journeys and conversations, and the timeline's start, gap and duration of
    every turn, each as the API gives it."""
    listed = api(filled, "/api/v1/sessions?status=ended&dropped_off=false&limit=500")["sessions"]
    details = [api(filled, f"/api/v1/sessions/{quote(s['session_id'], safe='')}") for s in listed]
    detail = next(d for d in details if d["journeys"] and d["user_id"] and d["end_reason"] and d["turn_count"] > 2)
    page.goto(f"{filled.url}/sessions/{quote(detail['session_id'], safe='')}")
    expect(page.get_by_role("note").filter(has_text="Ended")).to_contain_text(detail["end_reason"].replace("_", " "))
    facts = page.locator(".facts")
    user = facts.get_by_title(detail["user_id"], exact=True)
    expect(user).to_have_attribute("title", detail["user_id"])
    expect(user).to_have_attribute("href", f"/users/{quote(detail['user_id'], safe='')}")
    expect(facts).to_contain_text(", ".join(detail["models"]))
    journeys = page.locator("table", has=page.get_by_role("columnheader", name="Journey")).locator("tbody tr")
    expect(journeys).to_have_count(len(detail["journeys"]))
    for row, journey in zip(journeys.all(), detail["journeys"], strict=True):
        expect(row.locator("td").first).to_have_text(journey["name"])
        expect(row.locator("td").nth(2)).to_have_text(f"{journey['highest_stage']}/{journey['total_stages']}")

    rows = page.locator("table.timeline-table tbody tr")
    expect(rows).to_have_count(detail["turn_count"])
    turns = sorted(detail["turns"], key=lambda t: t["started_at"])
    first = ms(turns[0]["started_at"])
    previous_end = None
    for row, turn in zip(rows.all(), turns, strict=True):
        start, end = ms(turn["started_at"]), ms(turn["ended_at"])
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == str(turn["turn_number"])
        assert cells[1] == f"+{humanize.duration(start - first)}"
        assert cells[2] == ("—" if previous_end is None else humanize.duration(max(start - previous_end, 0.0)))
        assert cells[3] == humanize.duration(end - start)
        previous_end = end if previous_end is None else max(previous_end, end)


def test_a_session_with_several_conversations_lists_them(page: Page, tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as server, server.client() as client:
        now = time.time_ns()
        for i, conversation in enumerate(("billing", "billing", "shipping")):
            fill.send(
                client,
                fill.turn(
                    "two-threads", now - (900 - i * 60) * 10**9, root_attributes={"conversation.id": conversation}
                ),
            )
        detail = client.get("/api/v1/sessions/two-threads").json()
        assert [(c["conversation_id"], c["turn_count"]) for c in detail["conversations"]] == [
            ("billing", 2),
            ("shipping", 1),
        ]
        page.goto(f"{server.url}/sessions/two-threads")
        items = page.locator("h2:text-is('Conversations') + ul li")
        expect(items).to_have_count(2)
        expect(items.nth(0)).to_contain_text("billing")
        expect(items.nth(0)).to_contain_text("2 turns")
        expect(items.nth(1)).to_contain_text("shipping")
        expect(items.nth(1)).to_contain_text("1 turn")


def test_task_job_and_non_conversational_sessions_are_lists_of_runs(page: Page, tmp_path: Path) -> None:
    kinds = {
        "a-task": {"session.type": "task"},
        "a-job": {"session.type": "JOB"},
        "not-a-chat": {"session.conversational": False},
        "said-in-words": {"session.conversational": "false"},
        "a-chat": {"session.type": "chat"},
    }
    with run_server(tmp_path / "data") as server, server.client() as client:
        now = time.time_ns()
        for session_id, attributes in kinds.items():
            for i in range(2):
                fill.send(client, fill.turn(session_id, now - (900 - i * 60) * 10**9, root_attributes=attributes))
        for session_id in kinds:
            page.goto(f"{server.url}/sessions/{session_id}")
            runs = session_id != "a-chat"
            expect(page.get_by_role("heading", name="Runs" if runs else "Conversation", exact=True)).to_be_visible()
            expect(page.locator("table.runs tbody tr")).to_have_count(2 if runs else 0)
            expect(page.locator("article.turn")).to_have_count(0 if runs else 2)


def test_a_turn_whose_context_was_pruned_is_marked(page: Page, tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as server, server.client() as client:
        now = time.time_ns()
        fill.send(client, fill.turn("pruning", now - 900 * 10**9))
        pruned = {"context.pruned": True, "context.messages_pruned": 3}
        fill.send(client, fill.turn("pruning", now - 840 * 10**9, root_attributes=pruned))
        turns = client.get("/api/v1/sessions/pruning").json()["turns"]
        assert [(t["context_pruned"], t["messages_pruned"]) for t in turns] == [(False, None), (True, 3)]
        page.goto(f"{server.url}/sessions/pruning")
        articles = page.locator("article.turn")
        expect(articles).to_have_count(2)
        expect(articles.nth(0).locator(".pruned")).to_have_count(0)
        expect(articles.nth(1).locator(".pruned")).to_have_text("✂ pruned 3")
        expect(articles.nth(1).locator(".pruned")).to_have_attribute(
            "title", "the client pruned the context: 3 message(s)"
        )


def ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000
