"""GET /api/v1/stats, /healthz and /metrics."""

from __future__ import annotations

import dataclasses
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse

from threadline.server.api import params
from threadline.server.api.deps import DEFAULT_PROJECT, Runtime, runtime
from threadline.server.api.schemas import Health, Stats

router = APIRouter(tags=["system"])


@router.get("/api/v1/stats", response_model=Stats, dependencies=[Depends(params.known_parameters)])
async def stats(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    """Exact, current counts: everything acknowledged with 200 is counted."""
    return dataclasses.asdict(await run_in_threadpool(rt.store.stats, DEFAULT_PROJECT))


@router.get("/healthz", response_model=Health)
async def healthz(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    return {"status": "ok", "version": version("threadline"), "pending_spans": rt.writer.pending_spans}


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(rt: Annotated[Runtime, Depends(runtime)]) -> str:
    """Prometheus text format."""
    counts = await run_in_threadpool(rt.store.stats, DEFAULT_PROJECT)
    lines = []
    for name, value in dataclasses.asdict(counts).items():
        metric = f"threadline_{name.removesuffix('_count')}s_stored"
        lines += [f"# TYPE {metric} gauge", f'{metric}{{project="default"}} {value}']
    lines += [
        "# TYPE threadline_writer_pending_spans gauge",
        f"threadline_writer_pending_spans {rt.writer.pending_spans}",
        "# TYPE threadline_writer_commits_total counter",
        f"threadline_writer_commits_total {rt.writer.commits}",
        "# TYPE threadline_ingest_held_bytes gauge",
        f"threadline_ingest_held_bytes {rt.budget.held_bytes}",
        "# TYPE threadline_ingest_refused_total counter",
        f"threadline_ingest_refused_total {rt.budget.refused}",
    ]
    return "\n".join(lines) + "\n"
