"""A restart of the server while an application exports to it: the OpenTelemetry SDK's exporter, with its
default settings, retries through the gap, and every span reaches the store."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from faults.server import serve
from support.process import free_port

APP = """
import sys, time
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sys.argv[1] + "/v1/traces")))
tracer = provider.get_tracer("restart-test")
count, until = 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:
    with tracer.start_as_current_span("turn", attributes={"session.id": f"s-{count // 10}"}):
        count += 1
    time.sleep(0.005)
provider.force_flush(30_000)
provider.shutdown()
print(count)
"""


def test_a_restart_loses_no_span_with_the_exporters_defaults(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve(tmp_path / "data", port=port) as first:
        app = subprocess.Popen([sys.executable, "-c", APP, url, "8"], stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        code, errors = first.stop()  # a rolling restart: stop, then start the new version
        assert code == 0, errors
    with serve(tmp_path / "data", port=port):
        sent = int(app.communicate(timeout=60)[0])
        stored = httpx.get(f"{url}/api/v1/stats").json()["span_count"]
    assert app.returncode == 0
    assert sent > 500
    assert stored == sent
