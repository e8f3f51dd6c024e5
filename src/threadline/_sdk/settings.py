"""SDK settings as one table: name, default, environment variables (first set wins) and help.

``configure(**overrides)`` resolves each setting from its keyword argument, else its environment
variables, else its default. ``docs/sdk.md`` documents every row (a test checks it).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_log = logging.getLogger("threadline")


def _setting(default: Any, help: str, *env: str) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True, slots=True)
class Settings:
    endpoint: str = _setting(
        "http://127.0.0.1:4318",
        "Base URL of Threadline (or any OTLP/HTTP backend); spans are posted to `{endpoint}/v1/traces`.",
        "THREADLINE_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    )
    traces_endpoint: str = _setting(
        "",
        "Full URL for spans, used as is instead of `{endpoint}/v1/traces`.",
        "THREADLINE_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    )
    api_key: str = _setting("", "API key, sent as `Authorization: Bearer KEY`.", "THREADLINE_API_KEY")
    service_name: str = _setting(
        "unknown_service",
        "`service.name` of the TracerProvider the SDK creates (unused when it joins an existing one).",
        "THREADLINE_SERVICE_NAME",
        "OTEL_SERVICE_NAME",
    )
    capture_content: bool = _setting(
        True,
        "Send prompt, answer, tool argument and result text. Off: no such text leaves the process, "
        "from the SDK's spans or from other instrumentation's spans exported through it.",
        "THREADLINE_CAPTURE_CONTENT",
    )
    user_id_salt: str = _setting(
        "",
        "Secret key of the HMAC-SHA256 that hashes user ids before they leave the process. Set it in production.",
        "THREADLINE_USER_ID_SALT",
    )
    turn_timeout: float = _setting(
        1200.0,
        "Seconds after which a turn not ended is ended with error status and exported; 0 disables.",
        "THREADLINE_TURN_TIMEOUT",
    )
    max_queue_size: int = _setting(
        2048,
        "Ended spans waiting for export. When full, each new span pushes the oldest one out: dropped and "
        "counted (`threadline.stats().spans_dropped`), never blocking the application.",
        "THREADLINE_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_QUEUE_SIZE",
    )
    max_export_batch_size: int = _setting(
        512,
        "Most spans in one export request.",
        "THREADLINE_MAX_EXPORT_BATCH_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    )
    schedule_delay: float = _setting(
        0.5, "Seconds between two exports when the queue is not full.", "THREADLINE_SCHEDULE_DELAY"
    )
    export_timeout: float = _setting(
        10.0,
        "Seconds one export may take, retries included (429/502/503/504 and connection errors, honouring "
        "`Retry-After`).",
        "THREADLINE_EXPORT_TIMEOUT",
    )
    compression: str = _setting(
        "gzip", "Request body compression: `gzip`, `deflate` or `none`.", "THREADLINE_COMPRESSION"
    )
    shutdown_timeout: float = _setting(
        5.0,
        "Deadline in seconds for `shutdown()` and for the one at interpreter exit, retries included: what "
        "is not exported by then is abandoned (`threadline.stats().spans_abandoned`).",
        "THREADLINE_SHUTDOWN_TIMEOUT",
    )
    max_tracked_sessions: int = _setting(
        10_000,
        "Sessions whose turn counters the process remembers (least recently used are forgotten).",
        "THREADLINE_MAX_TRACKED_SESSIONS",
    )
    enabled: bool = _setting(
        True,
        "Off: the API keeps working but records and sends nothing.",
        "THREADLINE_ENABLED",
    )

    @property
    def traces_url(self) -> str:
        return self.traces_endpoint or self.endpoint.rstrip("/") + "/v1/traces"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table."""

    name: str
    default: Any
    type: type
    env: tuple[str, ...]
    help: str


_TYPES: dict[str, type] = {"str": str, "bool": bool, "int": int, "float": float}
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.default, _TYPES[str(f.type)], f.metadata["env"], f.metadata["help"])
    for f in dataclasses.fields(Settings)
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse(setting: Setting, raw: Any) -> Any:
    """A value of the setting's type; raises ``ValueError`` with a helpful message."""
    kind = setting.type
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"{setting.name}={raw!r}: use true or false")
    if kind is int or kind is float:
        if isinstance(raw, bool):
            raise ValueError(f"{setting.name}={raw!r}: expected a number")
        try:
            return kind(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{setting.name}={raw!r}: expected a number") from None
    if raw is None:
        raise ValueError(f"{setting.name}: expected text, got None")
    return str(raw)


def resolve(overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from keyword arguments, then environment variables, then defaults.

    A bad value is logged and replaced by the default: configuration never raises into the host.
    An explicit ``endpoint`` beats a ``traces_endpoint`` that only comes from the environment.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    unknown = set(overrides) - {s.name for s in SETTINGS}
    if unknown:
        _log.warning("threadline.configure: unknown settings ignored: %s", ", ".join(sorted(unknown)))
    for setting in SETTINGS:
        raw, source = _raw_value(setting, overrides, environ)
        if source is None:
            continue
        try:
            values[setting.name] = parse(setting, raw)
        except ValueError as exc:
            _log.warning("threadline: %s (from %s); using the default %r", exc, source, setting.default)
    if "endpoint" in overrides and "traces_endpoint" not in overrides:
        values["traces_endpoint"] = ""
    settings = Settings(**values)
    if settings.max_export_batch_size > settings.max_queue_size:
        settings = settings.replace(max_export_batch_size=settings.max_queue_size)
    return settings


def _raw_value(setting: Setting, overrides: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Any, str | None]:
    if overrides.get(setting.name) is not None:
        return overrides[setting.name], "configure()"
    for name in setting.env:
        value = environ.get(name)
        if value not in (None, ""):
            return value, name
    return None, None


def markdown_table() -> str:
    """The settings table as Markdown (``docs/sdk.md`` embeds it verbatim)."""
    lines = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        env = ", ".join(f"`{name}`" for name in s.env)
        default = f"`{s.default!r}`" if s.type is not str else f"`{s.default}`" if s.default else "(empty)"
        lines.append(f"| `{s.name}` | {env} | {default} | {s.help} |")
    return "\n".join(lines)
