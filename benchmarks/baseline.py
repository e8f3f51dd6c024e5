"""The ingest baseline: Arize Phoenix (the target is >= 10x its rate), measured in the same run.

Phoenix is installed on first use into ``benchmarks/.venv-phoenix`` (its own virtual environment, so
its dependencies never mix with Threadline's) and started with a fresh working directory. Phoenix
acknowledges an OTLP request before storing it, so its rate is measured end to end like Threadline's:
from the first request until its REST API lists every span.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from harness import free_port, send_all, wait_until_up

VENV = Path(__file__).resolve().parent / ".venv-phoenix"
PHOENIX = "arize-phoenix>=8"


def _ensure_phoenix() -> Path:
    executable = VENV / "bin" / "phoenix"
    if not executable.exists():
        print(f"installing {PHOENIX} into {VENV} (once; takes a few minutes)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", PHOENIX], check=True)
    return executable


def _phoenix_span_count(port: int) -> int:
    count, cursor = 0, None
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while True:
        path = "/v1/projects/default/spans?limit=1000" + (f"&cursor={cursor}" if cursor else "")
        conn.request("GET", path)
        response = conn.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            return count
        count += len(body.get("data", []))
        cursor = body.get("next_cursor")
        if not cursor:
            return count


def baseline_ingest_rate(name: str, bodies: Sequence[bytes], senders: int, timeout_s: float = 900) -> float | None:
    """Spans per second the baseline stores, end to end; None if it could not be measured."""
    if name != "phoenix":
        return None
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    total = 0
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        total += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    executable = _ensure_phoenix()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-") as work:
        env = {
            **os.environ,
            "PHOENIX_WORKING_DIR": work,
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_TELEMETRY_ENABLED": "false",
        }
        process = subprocess.Popen(
            [str(executable), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until_up(port, "/healthz", timeout=180)
            deadline = time.monotonic() + timeout_s

            def all_stored() -> bool:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the baseline did not store {total} spans within {timeout_s}s")
                time.sleep(0.25)
                return _phoenix_span_count(port) >= total

            result = send_all(port, bodies, senders, done=all_stored)
        finally:
            process.terminate()
            process.wait(60)
    print(f"baseline stored {total} spans in {result.seconds:.1f}s")
    return total / result.seconds
