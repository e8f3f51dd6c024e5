"""OTLP/HTTP routes: traces (two paths), logs and metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from threadline.server.api.deps import DEFAULT_PROJECT, runtime
from threadline.server.api.schemas import ErrorBody
from threadline.server.errors import ApiError
from threadline.server.ingest import decode, logs, otlp

router = APIRouter(tags=["ingest"])
_STATUS_NOTE = "JSON requests get this body; protobuf requests get a google.rpc.Status with the same message."
_INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Undecodable body. " + _STATUS_NOTE},
    413: {"model": ErrorBody, "description": "Body over --max-body-bytes after decompression. " + _STATUS_NOTE},
    415: {"model": ErrorBody, "description": "Unknown Content-Type or Content-Encoding."},
    503: {"model": ErrorBody, "description": "Write queue full; retry after Retry-After. " + _STATUS_NOTE},
}
_OTLP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            otlp.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            otlp.JSON: {"schema": {"type": "object", "description": "OTLP/JSON ExportTraceServiceRequest"}},
        },
    }
}


async def _export_traces(request: Request) -> Response:
    rt = runtime(request)
    is_json = otlp.answers_in_json(request)
    try:
        body = await otlp.read_request(request, rt.settings.max_body_bytes)
        batch = decode.decode_json(body.body) if body.is_json else decode.decode_protobuf(body.body)
        items = rt.preparer.prepare(batch.spans)
        if items:
            await rt.writer.write(DEFAULT_PROJECT, items)
    except ApiError as error:
        return otlp.error_response(error, is_json)
    return otlp.traces_response(body.is_json, batch.rejected, batch.reasons)


@router.post("/v1/traces", openapi_extra=_OTLP_BODY, summary="OTLP/HTTP trace export", responses=_INGEST_ERRORS)
async def export_traces(request: Request) -> Response:
    return await _export_traces(request)


@router.post(
    "/api/public/otel/v1/traces",
    openapi_extra=_OTLP_BODY,
    summary="OTLP/HTTP trace export (Langfuse-compatible path)",
)
async def export_traces_langfuse(request: Request) -> Response:
    return await _export_traces(request)


@router.post("/v1/logs", summary="OTLP/HTTP logs: GenAI events are attached to their spans", responses=_INGEST_ERRORS)
async def export_logs(request: Request) -> Response:
    rt = runtime(request)
    is_json = otlp.answers_in_json(request)
    try:
        body = await otlp.read_request(request, rt.settings.max_body_bytes)
        events = logs.decode_logs_json(body.body) if body.is_json else logs.decode_logs_protobuf(body.body)
        if events:
            await asyncio.wrap_future(
                rt.writer.call(lambda txn, stitcher: stitcher.attach_log_events(txn, DEFAULT_PROJECT, events))
            )
    except ApiError as error:
        return otlp.error_response(error, is_json)
    return otlp.empty_response(body.is_json, "logs")


@router.post("/v1/metrics", summary="OTLP/HTTP metrics (accepted and discarded)", responses=_INGEST_ERRORS)
async def export_metrics(request: Request) -> Response:
    is_json = otlp.answers_in_json(request)
    try:
        await otlp.read_request(request, runtime(request).settings.max_body_bytes)
    except ApiError as error:
        return otlp.error_response(error, is_json)
    return otlp.empty_response(is_json, "metrics")
