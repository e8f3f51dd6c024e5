"""Clients that send their headers or body a trickle at a time are cut off; nobody else waits for them."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from faults.server import serve


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.settimeout(10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing, if it closed within ``seconds`` (None: still open)."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_headers_that_never_finish_are_cut_off(tmp_path: Path) -> None:
    with (
        serve(tmp_path / "data", "--request-timeout", "1s") as child,
        connect(child.url) as slow,
        connect(child.url) as idle,  # sends nothing at all
    ):
        slow.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
        assert httpx.get(f"{child.url}/healthz", timeout=5).status_code == 200  # others are served meanwhile
        assert closed_within(slow, 5) == b""
        assert closed_within(idle, 5) == b""


def test_a_body_that_stops_arriving_gets_408(tmp_path: Path) -> None:
    with serve(tmp_path / "data", "--request-timeout", "1s") as child:
        with connect(child.url) as slow:
            head = b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            head += b"Content-Length: 1000\r\n"
            slow.sendall(head + b'\r\n{"resou')
            answer = closed_within(slow, 5)
        assert answer is not None
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"request_timeout" in answer
        assert httpx.get(f"{child.url}/api/v1/stats", timeout=5).json()["span_count"] == 0
