"""Every way an OTLP request can go wrong gets the status and message the OTLP spec prescribes."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from pathlib import Path

import httpx
import orjson
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from support.otlp import PROTOBUF, SpanSpec, new_span_id, new_trace_id, request, turn
from support.server import RunningServer, run_server

JSON = {"Content-Type": "application/json"}


def _json_request(trace_id: str, span_id: str) -> bytes:
    span = {"traceId": trace_id, "spanId": span_id, "name": "s", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def test_protobuf_success_is_an_empty_export_response(server: RunningServer) -> None:
    with server.client() as client:
        response = client.post("/v1/traces", content=request(*turn("s-1", start_s=0)), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse()
    parsed.ParseFromString(response.content)
    assert not parsed.HasField("partial_success")


def test_json_success_is_an_empty_object(server: RunningServer) -> None:
    with server.client() as client:
        response = client.post("/v1/traces", content=_json_request("ab" * 16, "cd" * 8), headers=JSON)
    assert response.status_code == 200
    assert response.json() == {}


def test_langfuse_path_accepts_the_same_payloads(server: RunningServer) -> None:
    with server.client() as client:
        response = client.post("/api/public/otel/v1/traces", content=request(*turn("s-1", start_s=0)), headers=PROTOBUF)
        assert response.status_code == 200
        assert client.get("/api/v1/stats").json()["span_count"] == 2


def test_spans_with_bad_ids_are_refused_one_by_one(server: RunningServer) -> None:
    good = turn("s-1", start_s=0)
    bad_span = SpanSpec(new_trace_id(), span_id=b"\x01\x02\x03", name="bad span id")
    bad_trace = SpanSpec(b"\x00" * 16, name="zero trace id")
    with server.client() as client:
        response = client.post("/v1/traces", content=request(*good, bad_span, bad_trace), headers=PROTOBUF)
        stats = client.get("/api/v1/stats").json()
    assert response.status_code == 200
    parsed = ExportTraceServiceResponse()
    parsed.ParseFromString(response.content)
    assert parsed.partial_success.rejected_spans == 2
    assert "span id" in parsed.partial_success.error_message
    assert "trace id" in parsed.partial_success.error_message
    assert stats["span_count"] == 2  # the good ones are kept


def test_json_partial_success_counts_malformed_hex_ids(server: RunningServer) -> None:
    body = orjson.loads(_json_request("ab" * 16, "cd" * 8))
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "spanId": "not-hex!"})
    with server.client() as client:
        response = client.post("/v1/traces", content=orjson.dumps(body), headers=JSON)
        assert response.status_code == 200
        assert response.json() == {
            "partialSuccess": {
                "rejectedSpans": "1",
                "errorMessage": "span with a missing or malformed span id (must be 8 non-zero bytes)",
            }
        }
        assert client.get("/api/v1/stats").json()["span_count"] == 1


def test_json_hex_ids_are_decoded_as_hex(server: RunningServer) -> None:
    trace_hex, span_hex = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    with server.client() as client:
        assert client.post("/v1/traces", content=_json_request(trace_hex, span_hex), headers=JSON).status_code == 200
        trace = client.get(f"/api/v1/traces/{trace_hex}").json()
    assert trace["spans"][0]["span_id"] == span_hex


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (PROTOBUF, b"\xff\xff\xff\xff not protobuf"),
        ({**PROTOBUF, "Content-Encoding": "gzip"}, b"this is not gzip"),
        ({**PROTOBUF, "Content-Encoding": "gzip"}, gzip.compress(request(*turn("s", start_s=0)))[:-12]),
    ],
    ids=["garbage", "not-gzip", "truncated-gzip"],
)
def test_undecodable_protobuf_is_400_with_a_status_message(
    server: RunningServer, headers: dict[str, str], body: bytes
) -> None:
    with server.client() as client:
        response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == 400
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    assert status.code == 3  # INVALID_ARGUMENT
    assert "could not be decompressed" in status.message or "not a valid OTLP" in status.message


def test_undecodable_json_is_400_with_the_error_shape(server: RunningServer) -> None:
    with server.client() as client:
        response = client.post("/v1/traces", content=b"{not json", headers=JSON)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "undecodable_body"
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize(
    ("content_type", "encoding"),
    [("text/plain", None), ("", None), (PROTOBUF["Content-Type"], "br")],
    ids=["text-plain", "missing", "brotli"],
)
def test_unknown_content_type_or_encoding_is_415(
    server: RunningServer, content_type: str, encoding: str | None
) -> None:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    with server.client() as client:
        response = client.post("/v1/traces", content=b"x", headers=headers)
    assert response.status_code == 415
    body = response.json() if content_type != PROTOBUF["Content-Type"] else None
    if body is not None:
        assert body["error"]["code"] == "unsupported_media_type"
        assert "application/x-protobuf" in body["error"]["message"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_accepted(server: RunningServer, encoding: str) -> None:
    raw = request(*turn("s-1", start_s=0))
    if encoding == "gzip":
        body = gzip.compress(raw)
    elif encoding == "deflate":
        body = zlib.compress(raw)
    else:
        compressor = zlib.compressobj(wbits=-15)
        body = compressor.compress(raw) + compressor.flush()
    header = "gzip" if encoding == "gzip" else "deflate"
    with server.client() as client:
        response = client.post("/v1/traces", content=body, headers={**PROTOBUF, "Content-Encoding": header})
        assert response.status_code == 200
        assert client.get("/api/v1/stats").json()["span_count"] == 2


def test_bodies_over_the_limit_are_413_even_when_compressed(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\x00" * 5_000_000)  # ~5 KB on the wire, 5 MB inflated
    assert len(bomb) < 64_000
    with run_server(tmp_path / "data", max_body_bytes=64_000) as srv, srv.client() as client:
        inflated = client.post("/v1/traces", content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"})
        plain = client.post("/v1/traces", content=b"\x00" * 70_000, headers=JSON)
        small = client.post("/v1/traces", content=request(*turn("s-1", start_s=0)), headers=PROTOBUF)
    assert inflated.status_code == 413
    status = status_pb2.Status()
    status.ParseFromString(inflated.content)
    assert "larger than 64000 bytes" in status.message
    assert plain.status_code == 413
    assert plain.json()["error"]["code"] == "payload_too_large"
    assert small.status_code == 200


def test_full_write_queue_is_503_with_retry_after_and_loses_nothing(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", max_pending_spans=4) as srv, srv.client() as client:
        gate = threading.Event()
        srv.runtime.writer.call(lambda txn, stitcher: gate.wait(20))  # hold the writer
        first = request(*turn("s-1", start_s=0), *turn("s-1", start_s=10))  # 4 spans
        results: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: results.append(client.post("/v1/traces", content=first, headers=PROTOBUF))
        )
        sender.start()
        deadline = time.monotonic() + 10
        while srv.runtime.writer.pending_spans < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        second = request(*turn("s-2", start_s=0))
        refused = client.post("/v1/traces", content=second, headers=PROTOBUF)
        refused_json = client.post("/v1/traces", content=_json_request("ab" * 16, "cd" * 8), headers=JSON)
        gate.set()
        sender.join(20)
        retried = client.post("/v1/traces", content=second, headers=PROTOBUF)
        stats = client.get("/api/v1/stats").json()
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert refused_json.status_code == 503
    assert refused_json.json()["error"]["code"] == "overloaded"
    assert results[0].status_code == 200
    assert retried.status_code == 200
    assert stats["span_count"] == 6
    assert stats["session_count"] == 2


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
def test_other_signals_are_answered_not_404(server: RunningServer, path: str) -> None:
    with server.client() as client:
        response = client.post(path, content=b"", headers=PROTOBUF)
        as_json = client.post(path, content=b"{}", headers=JSON)
    assert response.status_code == 200
    assert as_json.status_code == 200
    assert as_json.json() == {}


def test_each_span_is_acknowledged_only_once_committed(server: RunningServer) -> None:
    """A 200 means durable and queryable: stats count the spans the moment the response arrives."""
    with server.client() as client:
        for n in range(20):
            spans = turn(f"s-{n}", start_s=n)
            assert client.post("/v1/traces", content=request(*spans), headers=PROTOBUF).status_code == 200
            assert client.get("/api/v1/stats").json()["span_count"] == 2 * (n + 1)
    assert new_span_id() != new_span_id()
