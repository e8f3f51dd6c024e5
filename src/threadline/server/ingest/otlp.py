"""The OTLP/HTTP edge: content types, encodings, size limits and the statuses clients expect.

    POST /v1/traces, /api/public/otel/v1/traces   protobuf or JSON, identity / gzip / deflate
    POST /v1/logs                                  GenAI events kept beside their spans
    POST /v1/metrics                               accepted and discarded

Responses use the request's content type: an (empty) ``Export*ServiceResponse`` on success, with
``partial_success`` when some spans were refused; a ``google.rpc.Status`` for errors on protobuf
requests, the JSON error shape otherwise. The body limit applies to the decompressed size and is
checked while decompressing.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.requests import Request
from starlette.responses import Response

from threadline.server.errors import ApiError, BadRequest, PayloadTooLarge, RequestTimeout, UnsupportedMediaType
from threadline.server.ingest.budget import Hold

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_PROTOBUF_ALIASES = frozenset({PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"})
_GRPC_STATUS_CODES = {
    400: 3,
    401: 16,
    403: 7,
    408: 4,
    413: 8,
    415: 3,
    429: 8,
    503: 14,
}  # INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE


@dataclass(frozen=True, slots=True)
class OtlpRequest:
    body: bytes
    is_json: bool


def answers_in_json(request: Request) -> bool:
    """Errors go back as protobuf ``Status`` only to protobuf requests; anything else gets JSON."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type not in _PROTOBUF_ALIASES


def content_kind(request: Request) -> bool:
    """True for JSON, False for protobuf; 415 for anything else."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in _PROTOBUF_ALIASES:
        return False
    if media_type == JSON:
        return True
    raise UnsupportedMediaType(
        f"Content-Type {media_type or '(none)'!r} is not supported. Send OTLP as {PROTOBUF} or {JSON}.",
        detail={"supported": [PROTOBUF, JSON]},
    )


async def read_request(request: Request, max_bytes: int, hold: Hold, timeout_s: float) -> OtlpRequest:
    """The request body, decompressed, never more than ``max_bytes`` of it in memory.

    Every byte kept is taken from ``hold`` (the ingest budget: 503 when it is spent, before reading on);
    each part of the body must arrive within ``timeout_s`` (408 otherwise).
    """
    is_json = content_kind(request)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r} is not supported. Send the body uncompressed, gzip or deflate.",
            detail={"supported": ["identity", "gzip", "deflate"]},
        )
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit():
        if int(declared) > max_bytes and encoding in ("", "identity"):
            raise _too_large(max_bytes)
        hold.expect(int(declared))  # sheds load before reading anything
    chunks = _timed(request.stream(), timeout_s)
    if encoding in ("", "identity"):
        body = await _read_capped(chunks, max_bytes, hold)
    else:
        body = await _inflate(chunks, encoding, max_bytes, hold)
    return OtlpRequest(body, is_json)


async def _timed(chunks: AsyncIterator[bytes], timeout_s: float) -> AsyncIterator[bytes]:
    """The body's parts, each of which must arrive within ``timeout_s``."""
    iterator = chunks.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), timeout_s)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeout(
                f"The request body stopped arriving (nothing for {timeout_s:g}s). Send it without pauses.",
                detail={"timeout_s": timeout_s},
            ) from None
        yield chunk


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than {max_bytes} bytes (after decompression). "
        "Send fewer spans per request (e.g. a smaller max_export_batch_size) or raise --max-body-bytes.",
        detail={"max_bytes": max_bytes},
    )


async def _read_capped(chunks: AsyncIterator[bytes], max_bytes: int, hold: Hold) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        hold.take(len(chunk))
        parts.append(chunk)
    return b"".join(parts)


async def _inflate(chunks: AsyncIterator[bytes], encoding: str, max_bytes: int, hold: Hold) -> bytes:
    wbits = 31 if encoding in ("gzip", "x-gzip") else 15
    inflater = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    size = 0
    received = 0
    first = True
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > max_bytes:
                raise _too_large(max_bytes)
            if first and wbits == 15 and chunk and not _looks_like_zlib(chunk):
                inflater = zlib.decompressobj(-15)  # raw deflate, sent by some clients as "deflate"
            first = False
            data = chunk
            while data:
                out = inflater.decompress(data, max_bytes + 1 - size)
                size += len(out)
                if size > max_bytes:
                    raise _too_large(max_bytes)
                hold.take(len(out))
                parts.append(out)
                data = inflater.unconsumed_tail
                if inflater.eof and inflater.unused_data:  # concatenated gzip members
                    data = inflater.unused_data
                    inflater = zlib.decompressobj(wbits)
        if not inflater.eof and received:
            raise zlib.error("truncated stream")
    except zlib.error as exc:
        raise BadRequest(
            f"The body could not be decompressed as {encoding} ({exc}). "
            "Check that Content-Encoding matches how the body was compressed.",
            code="undecodable_body",
        ) from None
    return b"".join(parts)


def _looks_like_zlib(chunk: bytes) -> bool:
    return len(chunk) >= 2 and (chunk[0] & 0x0F) == 8 and ((chunk[0] << 8) | chunk[1]) % 31 == 0


# --- responses -----------------------------------------------------------------------------------


def traces_response(is_json: bool, rejected: int = 0, reasons: list[str] | None = None) -> Response:
    message = "; ".join(reasons or []) or "some spans were refused"
    if is_json:
        doc: dict[str, object] = {}
        if rejected:
            doc["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return Response(orjson.dumps(doc), media_type=JSON)
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return Response(response.SerializeToString(), media_type=PROTOBUF)


def empty_response(is_json: bool, signal: str) -> Response:
    if is_json:
        return Response(b"{}", media_type=JSON)
    message = ExportLogsServiceResponse() if signal == "logs" else ExportMetricsServiceResponse()
    return Response(message.SerializeToString(), media_type=PROTOBUF)


def error_response(error: ApiError, is_json: bool) -> Response:
    """OTLP errors: ``google.rpc.Status`` for protobuf requests, the JSON error shape otherwise."""
    headers = error.headers()
    if isinstance(error, RequestTimeout):  # the rest of a stalled body would follow on this connection
        headers["Connection"] = "close"
    if is_json:
        return Response(orjson.dumps(error.body()), status_code=error.status_code, media_type=JSON, headers=headers)
    status = status_pb2.Status(code=_GRPC_STATUS_CODES.get(error.status_code, 2), message=error.message)
    return Response(status.SerializeToString(), status_code=error.status_code, media_type=PROTOBUF, headers=headers)
