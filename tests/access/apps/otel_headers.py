"""The OpenTelemetry SDK exporting with a key in OTEL_EXPORTER_OTLP_HEADERS, as any exporter can."""

from __future__ import annotations

import sys

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

session_id = sys.argv[1]
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint and headers from OTEL_*
tracer = provider.get_tracer("otel-headers")
for number in (1, 2):
    with tracer.start_as_current_span("turn", attributes={"session.id": session_id, "input.value": f"q{number}"}):
        pass
assert provider.force_flush(30_000)
provider.shutdown()
