"""Fuzz the ingest edge of a real server: thousands of mutated OTLP bodies over HTTP on every ingest path.

The seeds are real requests: every body of the captured corpus (protobuf and JSON, from five client
libraries) and hand-built ones with GenAI attributes. Each request takes a seed and mutates it, one way
drawn at random: bytes flipped, cut, duplicated or spliced with another seed; JSON values replaced with
hostile ones anywhere in the tree (huge and negative integers, floats past int64, strings where objects
belong, deep nesting, long strings, NUL and lone surrogates); protobuf fields re-encoded with wrong wire
types; the body compressed, wrongly compressed, or labelled with another content type or encoding. The run
fails on any 5xx other than 503 (which exporters retry) and on any dropped connection, prints the counts
per status code, and then checks that the server still answers and its counts are consistent.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import zlib
from collections import Counter
from typing import Any

import httpx

from support import corpus
from support.otlp import PROTOBUF, SpanSpec, new_trace_id, request
from support.server import RunningServer

SEED = 20_261_130
REQUESTS = 8000
BUDGET_S = 20.0
"""The run stops drawing past this, having sent at least ``MIN_REQUESTS``."""
MIN_REQUESTS = 2000
PATHS = ("/v1/traces", "/api/public/otel/v1/traces", "/v1/logs", "/v1/metrics")
HOSTILE: list[Any] = [
    2**63, 2**64 + 5, -(2**63) - 1, -1, 10**30, 1.5e300, -0.0, 1e-320, "", "\x00", "\ud800", "💥" * 50,
    "x" * 70_000, [], {}, [[[[[]]]]], {"a": {"b": {"c": None}}}, None, True, "NaN", "Infinity", "-1",
    "18446744073709551616", "0x10", "1e400",
]  # fmt: skip


def seeds() -> list[tuple[bytes, bool]]:
    """(body, is JSON) of every captured request, and a few built here with GenAI attributes."""
    found = []
    for folder in corpus.FOLDERS:
        for captured in corpus.trace_requests(folder):
            body = captured.body
            if captured.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            found.append((body, captured.headers["Content-Type"].startswith("application/json")))
    trace = new_trace_id()
    root = SpanSpec(trace, name="turn", attributes={"session.id": "s-fuzz", "input.value": "hello"})
    llm = SpanSpec(trace, parent_span_id=root.span_id, name="chat gpt-4o",
                   attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                               "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3})  # fmt: skip
    found.append((request(root, llm), False))
    return found


DEEP = "@@deep-{}@@"
"""A placeholder for a very deep AnyValue, written as text after encoding (too deep for ``json.dumps``)."""


def deep_text(depth: int) -> str:
    return '{"kvlistValue":{"values":[{"key":"k","value":' * depth + '{"stringValue":"bottom"}' + "}]}}" * depth


def mutate_json(rng: random.Random, doc: Any) -> Any:
    """A few values anywhere in the tree replaced with hostile ones (or very deep AnyValues)."""
    nodes: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                nodes.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                nodes.append((node, index))
                walk(node[index])

    walk(doc)
    for _ in range(rng.randint(1, 4)):
        if not nodes:
            break
        parent, key = rng.choice(nodes)
        parent[key] = DEEP.format(rng.choice((40, 300, 2000))) if rng.random() < 0.1 else rng.choice(HOSTILE)
    return doc


def mutate_bytes(rng: random.Random, body: bytes, other: bytes) -> bytes:
    data = bytearray(body)
    kind = rng.randrange(5)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        data = data[: rng.randrange(len(data) + 1)]
    elif kind == 2 and data:
        start = rng.randrange(len(data))
        data[start:start] = data[start : start + rng.randint(1, 64)] * rng.randint(1, 50)
    elif kind == 3:
        cut = rng.randrange(len(data) + 1)
        data = data[:cut] + other[rng.randrange(len(other) + 1) :]
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(data)


def draw(rng: random.Random, pool: list[tuple[bytes, bool]]) -> tuple[str, bytes, dict[str, str]]:
    """One fuzzed request: path, body and headers."""
    body, is_json = rng.choice(pool)
    if is_json and rng.random() < 0.5:
        text = json.dumps(mutate_json(rng, json.loads(body)), ensure_ascii=rng.random() < 0.5)
        for depth in (40, 300, 2000):
            text = text.replace(json.dumps(DEEP.format(depth)), deep_text(depth))
        body = text.encode("utf-8", "surrogatepass")
    elif rng.random() < 0.8:
        body = mutate_bytes(rng, body, rng.choice(pool)[0])
    headers = {"Content-Type": "application/json" if is_json else PROTOBUF["Content-Type"]}
    if rng.random() < 0.1:
        headers["Content-Type"] = rng.choice(("text/plain", "application/protobuf", "application/json; charset=x", ""))
    roll = rng.random()
    if roll < 0.15:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    elif roll < 0.2:
        body, headers["Content-Encoding"] = zlib.compress(body), "deflate"
    elif roll < 0.25:
        headers["Content-Encoding"] = rng.choice(("gzip", "deflate", "br", "identity, gzip"))  # a lie
    return rng.choice(PATHS), body, headers


def test_mutated_otlp_bodies_never_answer_5xx_or_drop_the_connection(server: RunningServer, summary: list[str]) -> None:
    rng = random.Random(SEED)
    pool = seeds()
    counts: Counter[int] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    sent = 0
    with server.client() as client:
        while sent < REQUESTS and (sent < MIN_REQUESTS or time.monotonic() - started < BUDGET_S):
            path, body, headers = draw(rng, pool)
            sent += 1
            try:
                answer = client.post(path, content=body, headers=headers)
            except httpx.TransportError as exc:
                failures.append(f"{path} {headers}: connection dropped ({exc!r})")
                continue
            counts[answer.status_code] += 1
            if answer.status_code >= 500 and answer.status_code != 503:
                failures.append(f"{path} {headers}: {answer.status_code} {answer.text[:200]}")
        stats = client.get("/api/v1/stats")
        listing = client.get("/api/v1/sessions", params={"limit": 500})
    seconds = time.monotonic() - started
    summary.append(
        f"ingest: {sent} requests in {seconds:.1f}s: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    )
    assert failures == [], failures[:5]
    assert counts[200] > sent // 4, counts  # most mutations still carry spans the server keeps
    assert stats.status_code == 200
    assert listing.status_code == 200
    assert stats.json()["span_count"] > 0
