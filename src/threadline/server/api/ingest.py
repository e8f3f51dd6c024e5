"""OTLP/HTTP routes: traces (two paths), logs and metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from threadline.server.api.deps import Runtime, runtime
from threadline.server.api.schemas import ErrorBody
from threadline.server.auth.access import project_of
from threadline.server.errors import ApiError
from threadline.server.ingest import handoff, logs, otlp
from threadline.server.ingest.decoding import prepare_request
from threadline.server.ingest.port import SpanItem
from threadline.server.ingest.privacy import Privacy, protect_log_events
from threadline.server.ingest.records import Limits

router = APIRouter(tags=["ingest"])
_STATUS_NOTE = "JSON requests get this body; protobuf requests get a google.rpc.Status with the same message."
_INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Undecodable body. " + _STATUS_NOTE},
    413: {"model": ErrorBody, "description": "Body over --max-body-bytes after decompression. " + _STATUS_NOTE},
    415: {"model": ErrorBody, "description": "Unknown Content-Type or Content-Encoding."},
    408: {"model": ErrorBody, "description": "The body arrived too slowly (--request-timeout). " + _STATUS_NOTE},
    503: {
        "model": ErrorBody,
        "description": "Overloaded (write queue or ingest memory full) or the store refused the write (disk full); "
        "retry after Retry-After. " + _STATUS_NOTE,
    },
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
    """Read (within the ingest budget), decode and prepare (in a worker process, else on a worker thread),
    write (acknowledged once committed). The budget's share is held until the spans are committed."""
    rt = runtime(request)
    is_json = otlp.answers_in_json(request)
    try:
        with rt.budget.hold() as hold:
            body = await otlp.read_request(request, rt.settings.max_body_bytes, hold, rt.settings.request_timeout_s)
            is_json = body.is_json
            project = project_of(request)
            limits = Limits.from_settings(rt.settings)
            if rt.decoders is not None:
                privacy = await to_thread.run_sync(rt.privacy, project, limiter=rt.decoding)
                packed = await rt.decoders.prepare(body.body, body.is_json, limits, privacy)
                del body  # the raw bytes are not needed while the spans wait for the writer
                prepared = await to_thread.run_sync(handoff.unpack, packed, limiter=rt.decoding)
            else:
                prepared = await to_thread.run_sync(
                    _prepare_here, rt, project, body.body, body.is_json, limits, limiter=rt.decoding
                )
                del body
            hold.take(_object_overhead(prepared.items))  # many small attributes take more memory than their wire size
            if prepared.items:
                await rt.writer.write(project, prepared.items, hold.bytes)
    except ApiError as error:
        return otlp.error_response(error, is_json)
    return otlp.traces_response(is_json, prepared.rejected, list(prepared.reasons))


def _prepare_here(rt: Runtime, project: int, body: bytes, is_json: bool, limits: Limits) -> handoff.Prepared:
    return prepare_request(rt.preparer, body, is_json, limits, rt.privacy(project))


ATTRIBUTE_OVERHEAD_BYTES = 120
"""What one decoded attribute costs in memory beyond its bytes on the wire (key and value objects, dict slot)."""


def _object_overhead(items: Sequence[SpanItem]) -> int:
    return ATTRIBUTE_OVERHEAD_BYTES * sum(len(span.attributes) for span, _ in items)


def _decode_log_events(body: otlp.OtlpRequest, limits: Limits, privacy: Callable[[], Privacy]) -> list[logs.LogEvent]:
    decoder = logs.decode_logs_json if body.is_json else logs.decode_logs_protobuf
    events = decoder(body.body, limits)
    if events:
        protect_log_events(events, privacy())
    return events


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
    project = project_of(request)
    is_json = otlp.answers_in_json(request)
    try:
        with rt.budget.hold() as hold:
            body = await otlp.read_request(request, rt.settings.max_body_bytes, hold, rt.settings.request_timeout_s)
            events = await to_thread.run_sync(
                _decode_log_events,
                body,
                Limits.from_settings(rt.settings),
                lambda: rt.privacy(project),
                limiter=rt.decoding,
            )
            if events:
                await rt.writer.attach_log_events(project, events)
    except ApiError as error:
        return otlp.error_response(error, is_json)
    return otlp.empty_response(body.is_json, "logs")


@router.post("/v1/metrics", summary="OTLP/HTTP metrics (accepted and discarded)", responses=_INGEST_ERRORS)
async def export_metrics(request: Request) -> Response:
    rt = runtime(request)
    is_json = otlp.answers_in_json(request)
    try:
        with rt.budget.hold() as hold:
            await otlp.read_request(request, rt.settings.max_body_bytes, hold, rt.settings.request_timeout_s)
    except ApiError as error:
        return otlp.error_response(error, is_json)
    return otlp.empty_response(is_json, "metrics")
