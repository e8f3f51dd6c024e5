"""Who can reach the server: a non-loopback address needs --auth, Host names are checked (DNS
rebinding), HTTPS with --tls-cert, forwarded headers only from named proxies, cookies that fit."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from access.conftest import SECRET, Secured, make_key
from faults.server import serve
from support.process import free_port
from support.server import run_server


def threadline(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "threadline.server.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_non_loopback_address_without_auth_is_refused_in_one_line(tmp_path: Path) -> None:
    refused = threadline("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path))
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "refusing to serve 0.0.0.0 without authentication" in lines[0]
    assert "threadline keys create" in lines[0]
    assert "--insecure-no-auth" in lines[0]


@pytest.mark.parametrize("extra", [["--auth"], ["--insecure-no-auth"]])
def test_a_non_loopback_address_starts_with_auth_or_knowingly_without(tmp_path: Path, extra: list[str]) -> None:
    with serve(tmp_path / "data", "--host", "0.0.0.0", *extra) as child:
        assert httpx.get(f"{child.url}/healthz").status_code == 200
        expected = 401 if extra == ["--auth"] else 200
        assert httpx.get(f"{child.url}/api/v1/stats").status_code == expected


def test_loopback_without_auth_answers_only_to_loopback_names(tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as server, server.client() as client:
        for name in ("127.0.0.1", "localhost", "[::1]"):
            assert client.get("/api/v1/stats", headers={"Host": f"{name}:4318"}).status_code == 200
        rebound = client.get("/api/v1/stats", headers={"Host": "attacker.example:4318"})
        assert rebound.status_code == 421
        assert rebound.json()["error"]["code"] == "misdirected_request"
        assert client.get("/", headers={"Host": "attacker.example"}).status_code == 421


def test_allowed_hosts_are_exactly_those_configured(tmp_path: Path) -> None:
    with (
        run_server(tmp_path / "data", allowed_hosts="threadline.internal, obs.example") as server,
        server.client() as client,
    ):
        assert client.get("/healthz", headers={"Host": "obs.example"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "127.0.0.1"}).status_code == 421


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_with_a_certificate_and_secure_cookies(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    with serve(tmp_path / "data", "--auth", "--tls-cert", str(cert), "--tls-key", str(key)) as child:
        url = child.url.replace("http://", "https://")
        with httpx.Client(base_url=url, verify=ssl.create_default_context(cafile=str(cert))) as client:
            assert client.get("/healthz").status_code == 200
            made = threadline("keys", "create", "--project", "default", "--data-dir", str(tmp_path / "data"))
            api_key = made.stdout.strip().splitlines()[-1]
            signed = client.post("/login", data={"key": api_key, "next": "/"}, headers={"Origin": url})
            assert signed.status_code == 303
            cookie = signed.headers["set-cookie"]
            assert "Secure" in cookie
            assert "HttpOnly" in cookie
            assert "SameSite=strict" in cookie


def test_forwarded_headers_are_believed_only_from_named_proxies(tmp_path: Path) -> None:
    def cookie_through_proxy(trusted: str) -> str:
        with run_server(tmp_path / trusted, auth=True, secret_key=SECRET, forwarded_allow_ips=trusted) as server:
            key = make_key(server, "default", "read")
            with server.client() as client:
                answer = client.post(
                    "/login",
                    data={"key": key, "next": "/"},
                    headers={
                        "X-Forwarded-Proto": "https",
                        "Origin": "https://127.0.0.1:" + server.url.rsplit(":", 1)[1],
                    },
                )
            return answer.headers.get("set-cookie", "")

    assert "Secure" in cookie_through_proxy("127.0.0.1")  # the proxy on this machine is believed: HTTPS
    assert cookie_through_proxy("10.9.9.9") == ""  # not believed: the Origin (https) is not this http server's


def test_the_demo_sends_with_a_key_of_its_own_when_auth_is_on(tmp_path: Path) -> None:
    with serve(tmp_path / "data", "--auth", "--demo") as child:  # the secret: data/secret.key, as the CLI reads
        made = threadline("keys", "create", "--project", "default", "--read-only", "--data-dir", str(tmp_path / "data"))
        reader = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and count < 10:
            count = httpx.get(f"{child.url}/api/v1/stats", headers=reader).json()["session_count"]
            time.sleep(0.3)
        assert count >= 10
    listed = threadline("keys", "list", "--data-dir", str(tmp_path / "data"))
    assert re.search(r"demo\s.*full", listed.stdout)


def test_sign_in_cookies_and_cross_origin_changes(secured: Secured) -> None:
    with httpx.Client(base_url=secured.url, follow_redirects=False) as browser:
        assert browser.get("/").status_code == 303
        refused = browser.post("/login", data={"key": secured.keys["full"], "next": "/"},
                               headers={"Origin": "https://attacker.example"})  # fmt: skip
        assert refused.status_code == 403
        signed = browser.post("/login", data={"key": secured.keys["full"], "next": "//evil.example/"},
                              headers={"Origin": secured.url})  # fmt: skip
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"  # never sent to another site after signing in
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback
        assert browser.get("/").status_code == 200
        cross = browser.delete("/api/v1/sessions/nope", headers={"Origin": "https://attacker.example"})
        assert cross.status_code == 403
        same = browser.delete("/api/v1/sessions/nope", headers={"Origin": secured.url})
        assert same.status_code == 404  # through the session cookie, from the server's own page
        ingest_only = browser.post("/login", data={"key": secured.keys["ingest"]}, headers={"Origin": secured.url})
        assert ingest_only.status_code == 401
        assert browser.post("/logout", headers={"Origin": secured.url}).status_code == 303
