"""The server never traces its own requests: an app that embeds it and exports to it would loop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from support.otlp import PROTOBUF, request, turn
    from support.server import run_server

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    with run_server(Path(sys.argv[1])) as server, server.client() as client:
        assert client.post("/v1/traces", content=request(*turn("s", start_s=0)), headers=PROTOBUF).status_code == 200
        assert client.get("/api/v1/sessions").status_code == 200
    print(len(exporter.get_finished_spans()))
    """
)


def test_no_span_is_made_for_the_servers_own_requests(tmp_path: Path) -> None:
    tests = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(tests)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
