"""Traffic for the fault tests: OTLP requests whose every span is known, senders that record what the
server acknowledged, and the checks that what was acknowledged is stored exactly once."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from support.otlp import PROTOBUF, SpanSpec, request

SPANS_PER_SESSION = 4


@dataclass(frozen=True)
class Sent:
    """One request body and what it holds: sessions, each with its span count and token totals."""

    body: bytes
    sessions: dict[str, tuple[int, int, int]]

    @property
    def spans(self) -> int:
        return sum(count for count, _, _ in self.sessions.values())


_ids = itertools.count(1)


def build(tag: str, sessions: int, padding: int = 400) -> Sent:
    """``sessions`` one-turn sessions of ``SPANS_PER_SESSION`` spans (ids unique across the test run)."""
    specs: list[SpanSpec] = []
    totals: dict[str, tuple[int, int, int]] = {}
    for _ in range(sessions):
        number = next(_ids)
        session_id = f"{tag}-{number}"
        trace_id = number.to_bytes(16, "big")
        root = SpanSpec(trace_id, span_id=(number << 8).to_bytes(8, "big"), name="turn",
                        attributes={"session.id": session_id, "input.value": "x" * padding})  # fmt: skip
        specs.append(root)
        tokens_in = tokens_out = 0
        for k in range(1, SPANS_PER_SESSION):
            specs.append(
                SpanSpec(
                    trace_id,
                    span_id=((number << 8) + k).to_bytes(8, "big"),
                    parent_span_id=root.span_id,
                    name="chat gpt-4o-mini",
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 100 + k,
                        "gen_ai.usage.output_tokens": 10 + k,
                    },
                )
            )
            tokens_in += 100 + k
            tokens_out += 10 + k
        totals[session_id] = (SPANS_PER_SESSION, tokens_in, tokens_out)
    return Sent(request(*specs), totals)


@dataclass
class Ledger:
    """What the server acknowledged (200), refused (by status) and what failed in transit."""

    acked: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, sent: Sent, status: int | None) -> None:
        with self.lock:
            if status is None:
                self.transport_errors += 1
                return
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.acked.update(sent.sessions)


def post(client: httpx.Client, sent: Sent) -> int | None:
    try:
        return client.post("/v1/traces", content=sent.body, headers=PROTOBUF).status_code
    except httpx.TransportError:
        return None


def flood(url: str, ledger: Ledger, senders: int, seconds: float, make: Iterator[Sent]) -> None:
    """``senders`` threads posting the next request of ``make`` as fast as the server answers."""
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    sent = next(make)
                ledger.record(sent, post(client, sent))

    threads = [threading.Thread(target=run) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def assert_stored_exactly_once(url: str, acked: dict[str, tuple[int, int, int]]) -> None:
    """Every acknowledged session is there once, with the spans and tokens it was sent (a recount)."""
    with httpx.Client(base_url=url, timeout=60) as client:
        for session_id, (spans, tokens_in, tokens_out) in acked.items():
            found = client.get(f"/api/v1/sessions/{session_id}")
            assert found.status_code == 200, (session_id, found.text)
            session = found.json()
            assert (session["span_count"], session["input_tokens"], session["output_tokens"]) == (
                spans,
                tokens_in,
                tokens_out,
            ), session_id
            assert session["turn_count"] == 1
