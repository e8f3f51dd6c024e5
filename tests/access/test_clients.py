"""Real clients sending with keys into two projects: Langfuse's SDK (Basic, its two keys), the
OpenTelemetry SDK (OTEL_EXPORTER_OTLP_HEADERS) and Threadline's SDK (its api_key); each project's
reads see only its own sessions, and a client with a wrong key stores nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from access.conftest import Secured, make_key

APPS = Path(__file__).resolve().parent / "apps"
pytestmark = pytest.mark.slow


def run(app: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGFUSE_", "THREADLINE_"))}
    return subprocess.run([sys.executable, *(["-c", app] if "\n" in app else [str(APPS / app)]), *args],
                          env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120)  # fmt: skip


SDK_APP = """
import sys, threadline
threadline.configure(endpoint=sys.argv[1], api_key=sys.argv[2])
with threadline.session(session_id=sys.argv[3], user_id="sdk-user"):
    with threadline.turn(input="hello") as turn:
        turn.output("hi")
assert threadline.flush(10), "not delivered"
threadline.shutdown()
"""


def sessions_seen(secured: Secured, key: str) -> set[str]:
    answer = httpx.get(f"{secured.url}/api/v1/sessions", headers={"Authorization": f"Bearer {key}"})
    return {s["session_id"] for s in answer.json()["sessions"]}


def test_clients_send_with_keys_into_two_projects(secured: Secured) -> None:
    a_ingest = make_key(secured.server, "default", "ingest", "langfuse")
    b_ingest = make_key(secured.server, "other", "ingest", "otel")
    done = run("langfuse_keys.py", a_ingest[:19], a_ingest, secured.url, "lf-session")
    assert done.returncode == 0, done.stderr
    headers = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": secured.url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {b_ingest}",
    }
    done = run("otel_headers.py", "otel-session", env=headers)
    assert done.returncode == 0, done.stderr
    done = run(SDK_APP, secured.url, b_ingest, "sdk-session")
    assert done.returncode == 0, done.stderr

    mine, theirs = sessions_seen(secured, secured.keys["full"]), sessions_seen(secured, secured.keys["other"])
    assert "lf-session" in mine
    assert {"otel-session", "sdk-session"} <= theirs
    assert not mine & {"otel-session", "sdk-session"}
    assert "lf-session" not in theirs
    detail = httpx.get(
        f"{secured.url}/api/v1/sessions/lf-session", headers={"Authorization": f"Bearer {secured.keys['full']}"}
    ).json()
    assert [t["input"] for t in detail["turns"]] == ["Hello?", "Where is my parcel?"]


def test_a_client_with_a_wrong_key_stores_nothing(secured: Secured) -> None:
    before = httpx.get(
        f"{secured.url}/api/v1/stats", headers={"Authorization": f"Bearer {secured.keys['full']}"}
    ).json()
    done = run(SDK_APP.replace('assert threadline.flush(10), "not delivered"', "threadline.flush(10)"),
               secured.url, "tl_0123456789abcdef_" + "B" * 32, "never-stored")  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = httpx.get(f"{secured.url}/api/v1/stats", headers={"Authorization": f"Bearer {secured.keys['full']}"}).json()
    assert after == before
