"""Browser tests: Playwright drives Debian's Chromium against a real server filled with the corpus, the demo
and content chosen to exercise the pages (paging, a batch session, hostile text, an orphan trace)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Response, sync_playwright

from browser import fill
from support.corpus import FOLDERS, replay
from support.server import RunningServer, run_server
from threadline.server.demo import Demo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
"""Where the tests leave a screenshot of each page in each theme (git-ignored)."""

HOSTILE_ID = '"><img src=x onerror=alert(1)>sess'
HOSTILE_PROMPT = "<script>alert('prompt')</script> and [click](javascript:alert(2))"
HOSTILE_OUTPUT = '<a href="javascript:alert(3)">javascript:alert(3)</a><img src=x onerror=alert(4)>'
HOSTILE_KEY = '"><svg onload=alert(5)>'
HOSTILE_USER = "<b onmouseover=alert(6)>mallory</b>"


@dataclass
class Filled:
    server: RunningServer
    bulk: list[str]
    batch: str
    erratic: str
    orphan_trace: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module: Playwright's sync API keeps an event loop running while it is open, which would break
    the tests after these that start loops of their own."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: run `make test`, which installs it")
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    """One server for the suite: read-only tests share it; tests that change data make their own."""
    with run_server(tmp_path_factory.mktemp("browser") / "data") as server, server.client() as client:
        # The demo first: it sends its day of history only to a server that holds no session yet.
        Demo(server.url, seed=7, live=False, start_ns=time.time_ns() - 2 * 86_400 * 10**9, user_id_salt="").run()
        for folder in FOLDERS:
            replay(client, folder)
        now = time.time_ns()
        bulk = [f"bulk-{i:02d}" for i in range(60)]
        for i, session_id in enumerate(bulk):
            fill.send(client, fill.turn(session_id, now - (3 * 3600 + i * 60) * 10**9, tokens=(100 + i, 10 + i)))
        batch = "batch-nightly"
        fill.send(
            client,
            [
                span
                for i in range(3)
                for span in fill.turn(
                    batch,
                    now - (5 * 3600 - i * 120) * 10**9,
                    question=f"Summarise ticket #{i + 1}",
                    answer=f"Summary {i + 1}",
                    root_attributes={"session.type": "batch"},
                )
            ],
        )
        erratic = "erratic-session"
        fill.send(
            client,
            fill.turn(erratic, now - 7200 * 10**9, question="Book it", answer=None, llm_error="HTTP 500 upstream"),
        )
        fill.send(
            client,
            fill.turn(
                erratic,
                now - 7100 * 10**9,
                question="Pay with my card",
                answer="Your card was declined. Would you like to try another one?",
                tool=("charge_card", '{"amount": 120}', "card_declined: insufficient funds"),
            ),
        )
        fill.send(
            client,
            fill.turn(
                HOSTILE_ID,
                now - 600 * 10**9,
                user_id=HOSTILE_USER,
                question=HOSTILE_PROMPT,
                answer=HOSTILE_OUTPUT,
                model="<i>model</i>",
                root_attributes={HOSTILE_KEY: "javascript:alert(7)", "session.channel": HOSTILE_OUTPUT},
            ),
        )
        orphan = fill.turn("ignored", now - 300 * 10**9)
        for span in orphan:
            span.attributes.pop("session.id", None)
        fill.send(client, orphan)
        yield Filled(server, bulk, batch, erratic, orphan[0].trace_id.hex())


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server holding what ``make run`` shows a newcomer: the demo's day of sessions."""
    with run_server(tmp_path_factory.mktemp("demo") / "data") as server:
        Demo(server.url, seed=7, live=False, start_ns=time.time_ns() - 26 * 3600 * 10**9, user_id_salt="").run()
        yield server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; the test fails on any script error or refused resource (CSP included)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        # A page answered with 4xx on purpose logs "Failed to load resource"; responses are checked below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def response(answer: Response) -> None:
        if answer.status >= 400 and answer.request.resource_type != "document":
            problems.append(f"{answer.status} for {answer.url}")

    opened.on("console", console)
    opened.on("response", response)
    opened.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    opened.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}") or dialog.dismiss())
    yield opened
    context.close()
    assert problems == [], problems
