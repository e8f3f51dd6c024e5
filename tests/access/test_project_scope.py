"""What a key reaches beyond lists: analytics, the live stream and exports are its project's own; the database
holds no key, only its HMAC; /metrics is open only with --public-metrics; no cross-origin reads unless
--cors-origins names the origin."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import httpx
from click.testing import CliRunner

from access.conftest import SECRET, Secured, make_key
from support.otlp import PROTOBUF, request
from support.scenario import Session
from support.server import run_server
from threadline.server.cli.main import main as cli


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_analytics_are_the_projects_own(secured: Secured) -> None:
    for role in ("full", "other"):
        answer = httpx.get(f"{secured.url}/api/v1/analytics/sessions", headers=bearer(secured.keys[role]))
        assert answer.status_code == 200
        assert answer.json()["session_count"] == 1


def test_an_export_holds_the_projects_sessions_only(secured: Secured, tmp_path: Path) -> None:
    out = tmp_path / "sessions.jsonl"
    runner = CliRunner(env={"THREADLINE_API_KEY": secured.keys["other"]})
    done = runner.invoke(cli, ["export", "--format", "jsonl", "--output", str(out), "--url", secured.url])
    assert done.exit_code == 0, done.output
    assert [json.loads(line)["session_id"] for line in out.read_text().splitlines()] == ["s-theirs"]


def test_the_stream_tells_a_key_of_its_projects_changes_only(secured: Secured) -> None:
    seen: queue.Queue[str] = queue.Queue()
    connected, stop = threading.Event(), threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=secured.url, timeout=30, headers=bearer(secured.keys["other"])) as client,
            client.stream("GET", "/api/v1/stream") as response,
        ):
            for line in response.iter_lines():
                if line == ": connected":
                    connected.set()
                elif line.startswith("data: "):
                    seen.put(json.loads(line[6:])["session_id"])
                if stop.is_set():
                    return

    threading.Thread(target=listen, daemon=True).start()
    assert connected.wait(10)
    for key, session_id in ((secured.keys["full"], "s-elsewhere"), (secured.keys["other"], "s-here")):
        spans = Session(session_id, user_id="cy").turn(100).spans
        assert httpx.post(
            f"{secured.url}/v1/traces", content=request(*spans), headers=PROTOBUF | bearer(key)
        ).is_success
    assert seen.get(timeout=10) == "s-here"  # the other project's session came first, and was not told
    stop.set()


def test_the_database_holds_the_keys_hmac_never_the_key(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", auth=True, secret_key=SECRET) as server:
        key = make_key(server, "default", "full")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("threadline.db*"))
    secret_part = key.rsplit("_", 1)[1]
    assert key.encode() not in stored
    assert secret_part.encode() not in stored
    assert key[:19].encode() in stored  # the public id is kept, to find the key


def test_metrics_need_a_key_unless_public(secured: Secured, tmp_path: Path) -> None:
    assert httpx.get(f"{secured.url}/metrics").status_code == 401
    assert httpx.get(f"{secured.url}/metrics", headers=bearer(secured.keys["full"])).status_code == 200
    with run_server(tmp_path / "data", auth=True, secret_key=SECRET, public_metrics=True) as server:
        answer = httpx.get(f"{server.url}/metrics")
        assert answer.status_code == 200
        assert "threadline_" in answer.text


def test_no_cross_origin_reads_unless_the_origin_is_named(secured: Secured, tmp_path: Path) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    assert (
        "access-control-allow-origin" not in httpx.options(f"{secured.url}/api/v1/sessions", headers=preflight).headers
    )
    with run_server(tmp_path / "data", auth=True, secret_key=SECRET, cors_origins="https://app.example") as server:
        allowed = httpx.options(f"{server.url}/api/v1/sessions", headers=preflight)
        assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
        other = httpx.options(f"{server.url}/api/v1/sessions", headers=preflight | {"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
