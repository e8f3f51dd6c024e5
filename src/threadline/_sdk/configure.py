"""The public ``configure``, ``flush`` and ``shutdown``."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter

from threadline._sdk import guard, runtime
from threadline._sdk.settings import resolve


@guard.guarded()
def configure(
    endpoint: str | None = None,
    api_key: str | None = None,
    service_name: str | None = None,
    capture_content: bool | None = None,
    user_id_salt: str | None = None,
    *,
    turn_timeout: float | None = None,
    traces_endpoint: str | None = None,
    max_queue_size: int | None = None,
    max_export_batch_size: int | None = None,
    schedule_delay: float | None = None,
    export_timeout: float | None = None,
    compression: str | None = None,
    shutdown_timeout: float | None = None,
    max_tracked_sessions: int | None = None,
    enabled: bool | None = None,
    tracer_provider: trace.TracerProvider | None = None,
    exporter: SpanExporter | None = None,
) -> None:
    """Set the SDK up. Every setting not given comes from its environment variable, else its default
    (the table in ``docs/sdk.md``).

    Joins ``tracer_provider``, else the global OpenTelemetry SDK ``TracerProvider`` if the application
    set one, else creates one and sets it as the global provider. ``exporter`` replaces the OTLP/HTTP
    exporter (to send elsewhere, or to capture spans). Calling it again replaces the previous setup.
    """
    overrides: dict[str, Any] = {
        "endpoint": endpoint,
        "api_key": api_key,
        "service_name": service_name,
        "capture_content": capture_content,
        "user_id_salt": user_id_salt,
        "turn_timeout": turn_timeout,
        "traces_endpoint": traces_endpoint,
        "max_queue_size": max_queue_size,
        "max_export_batch_size": max_export_batch_size,
        "schedule_delay": schedule_delay,
        "export_timeout": export_timeout,
        "compression": compression,
        "shutdown_timeout": shutdown_timeout,
        "max_tracked_sessions": max_tracked_sessions,
        "enabled": enabled,
    }
    settings = resolve({k: v for k, v in overrides.items() if v is not None})
    runtime.install(settings, tracer_provider=tracer_provider, exporter=exporter)


@guard.guarded(False)
def flush(timeout: float | None = None) -> bool:
    """Export every ended span now; blocks until the backend acknowledged them or ``timeout`` seconds
    (default ``shutdown_timeout``) passed. ``True`` when everything was delivered in time, and no span
    failed, was dropped or abandoned since the previous flush."""
    return runtime.flush(timeout)


@guard.guarded(False)
def shutdown(timeout: float | None = None) -> bool:
    """End open turns (with error status), export what is queued and stop, within ``timeout`` seconds
    (default ``shutdown_timeout``) all told: what is not exported by then is abandoned (``stats()``).

    Runs by itself at interpreter exit. Afterwards the API records nothing until ``configure()``.
    """
    return runtime.shutdown(timeout)
