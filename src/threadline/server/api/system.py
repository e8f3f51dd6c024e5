"""GET /api/v1/stats, /healthz, /metrics and /openapi.json."""

from __future__ import annotations

import dataclasses
import threading
import time
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, PlainTextResponse

from threadline.server.api import params
from threadline.server.api.deps import ProjectId, Runtime, runtime
from threadline.server.api.schemas import Health
from threadline.server.api.schemas import Stats as StatsBody
from threadline.server.auth.access import Access, requires
from threadline.server.store.records import Stats

router = APIRouter(tags=["system"])


@router.get(
    "/api/v1/stats",
    response_model=StatsBody,
    dependencies=[Depends(requires(Access.READ)), Depends(params.known_parameters)],
)
async def stats(rt: Annotated[Runtime, Depends(runtime)], project: ProjectId) -> dict[str, Any]:
    """Exact, current counts: everything acknowledged with 200 is counted."""
    return dataclasses.asdict(await run_in_threadpool(rt.store.stats, project))


@router.get("/openapi.json", include_in_schema=False, dependencies=[Depends(requires(Access.READ))])
async def openapi_document(request: Request) -> JSONResponse:
    """The OpenAPI document (what /docs renders), behind the same access checks as the API."""
    return JSONResponse(request.app.openapi())


@router.get("/healthz", response_model=Health, dependencies=[Depends(requires(Access.OPEN))])
async def healthz(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    return {"status": "ok", "version": version("threadline"), "pending_spans": rt.writer.pending_spans}


def _metrics_access(request: Request) -> None:
    """A full key, unless the server was started with --public-metrics (the whole server's figures)."""
    if not runtime(request).settings.public_metrics:
        requires(Access.WRITE)(request)


_metrics_access.access = Access.WRITE  # type: ignore[attr-defined]  # for the route table: WRITE or OPEN


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(_metrics_access)])
async def metrics(rt: Annotated[Runtime, Depends(runtime)]) -> str:
    """Prometheus text format: every project's stored counts, the writer and the ingest budget."""
    projects = await run_in_threadpool(rt.store.projects)
    counts = [
        (project.name, dataclasses.asdict(await run_in_threadpool(rt.store.stats, project.id))) for project in projects
    ]
    lines = []
    for name in dataclasses.fields(Stats):
        metric = f"threadline_{name.name.removesuffix('_count')}s_stored"
        lines.append(f"# TYPE {metric} gauge")
        lines += [f'{metric}{{project="{_label(project)}"}} {values[name.name]}' for project, values in counts]
    lines += [
        "# TYPE threadline_writer_pending_spans gauge",
        f"threadline_writer_pending_spans {rt.writer.pending_spans}",
        "# TYPE threadline_writer_commits_total counter",
        f"threadline_writer_commits_total {rt.writer.commits}",
        "# TYPE threadline_writer_busy_seconds_total counter",
        f"threadline_writer_busy_seconds_total {rt.writer.busy_seconds:.6f}",
        "# TYPE threadline_thread_cpu_seconds_total counter",
        *(
            f'threadline_thread_cpu_seconds_total{{thread="{_label(name)}"}} {seconds:.6f}'
            for name, seconds in sorted(thread_cpu_seconds().items())
        ),
        "# TYPE threadline_ingest_held_bytes gauge",
        f"threadline_ingest_held_bytes {rt.budget.held_bytes}",
        "# TYPE threadline_ingest_refused_total counter",
        f"threadline_ingest_refused_total {rt.budget.refused}",
    ]
    return "\n".join(lines) + "\n"


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds used by each of this process's live Python threads, by name (threads sharing a name:
    summed; a thread gone meanwhile: left out)."""
    used: dict[str, float] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except OSError:
            continue
        used[thread.name] = used.get(thread.name, 0.0) + seconds
    return used


def _label(value: str) -> str:
    """A Prometheus label value: backslashes, quotes and line breaks escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
