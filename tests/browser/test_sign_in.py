"""With --auth, in a real browser: pages ask to sign in, a read key shows its project's sessions only, the
cookie is HttpOnly and SameSite=Strict, erasing takes a full key, revoking a key signs its browser out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from support.scenario import Session
from support.server import RunningServer, run_server
from threadline.server.auth import admin

SECRET = "browser-secret"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    with run_server(Path(tmp_path_factory.mktemp("signin")) / "data", auth=True, secret_key=SECRET) as server:
        store = server.runtime.store
        admin.create_project(store, "other", time.time_ns())
        keys = {
            role: admin.create_key(store, SECRET.encode(), project, role, scope, time.time_ns()).key  # type: ignore[arg-type]
            for role, project, scope in (
                ("read", "default", "read"), ("full", "default", "full"), ("ingest", "default", "ingest"),
                ("other", "other", "full"), ("doomed", "default", "read"),
            )
        }  # fmt: skip
        with server.client() as client:
            for key, session_id in ((keys["full"], "s-ours"), (keys["other"], "s-theirs")):
                client.headers["Authorization"] = f"Bearer {key}"
                Session(session_id, user_id="ann").turn(time.time() - 1_800_000_000 - 60).send(client)
        yield server, keys


def sign_in(page: Page, url: str, key: str, path: str = "/") -> None:
    page.goto(url + path)
    expect(page).to_have_url(f"{url}/login?next={path.replace('/', '%2F')}")
    page.get_by_role("textbox", name="API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_a_read_key_signs_in_and_sees_its_project_only(
    page: Page, secured: tuple[RunningServer, dict[str, str]]
) -> None:
    server, keys = secured
    sign_in(page, server.url, keys["read"])
    expect(page).to_have_url(server.url + "/")
    expect(page.get_by_role("link", name="s-ours")).to_be_visible()
    expect(page.get_by_text("s-theirs")).to_have_count(0)
    expect(page.locator(".signed-in")).to_contain_text("project default")
    cookie = next(c for c in page.context.cookies() if c["name"] == "threadline_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert keys["read"] not in cookie["value"]  # the key itself never reaches the browser
    assert page.goto(server.url + "/sessions/s-theirs").status == 404  # another project's: not there
    page.goto(server.url + "/sessions/s-ours")
    expect(page.get_by_role("button", name="Erase…")).to_be_hidden()  # a read key may not erase
    page.get_by_role("button", name="Sign out").first.click()
    page.goto(server.url + "/")
    expect(page).to_have_url(f"{server.url}/login?next=%2F")


def test_a_wrong_or_ingest_only_key_is_refused_with_a_reason(
    page: Page, secured: tuple[RunningServer, dict[str, str]]
) -> None:
    server, keys = secured
    sign_in(page, server.url, "tl_0123456789abcdef_" + "x" * 32)
    expect(page.get_by_role("alert")).to_have_text("That key was not accepted.")
    page.get_by_role("textbox", name="API key").fill(keys["ingest"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That key may only ingest, not read.")


def test_revoking_the_key_signs_the_browser_out(page: Page, secured: tuple[RunningServer, dict[str, str]]) -> None:
    server, keys = secured
    sign_in(page, server.url, keys["doomed"], "/analytics")
    expect(page).to_have_url(server.url + "/analytics")
    admin.revoke_key(server.runtime.store, keys["doomed"][:19], time.time_ns())
    assert server.runtime.authenticator is not None
    server.runtime.authenticator.forget()  # as the API's revoke does; otherwise within 5 s
    page.goto(server.url + "/analytics")
    expect(page).to_have_url(f"{server.url}/login?next=%2Fanalytics")


def test_a_full_key_erases_from_the_page(page: Page, secured: tuple[RunningServer, dict[str, str]]) -> None:
    server, keys = secured
    with server.client() as client:
        client.headers["Authorization"] = f"Bearer {keys['full']}"
        Session("s-to-erase", user_id="bob").turn(time.time() - 1_800_000_000 - 30).send(client)
    sign_in(page, server.url, keys["full"], "/sessions/s-to-erase")
    page.get_by_role("button", name="Erase…").click()
    page.get_by_role("dialog").get_by_role("button", name="Erase").click()  # a same-origin DELETE, by cookie
    expect(page).to_have_url(server.url + "/")
    with server.client() as client:
        client.headers["Authorization"] = f"Bearer {keys['full']}"
        assert client.get("/api/v1/sessions/s-to-erase").status_code == 404
