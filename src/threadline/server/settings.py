"""Server settings as one table: each field carries its default and help; flag and environment variable
names derive from the field name.

The CLI builds the ``serve`` options from ``SETTINGS``, and the test suite checks that
``docs/configuration.md`` documents every one.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STORES = ("sqlite", "clickhouse")


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "Address to listen on (loopback by default)."},
    )
    port: int = field(
        default=4318,
        metadata={"help": "Port for ingest and API (4318 is the OTLP/HTTP port)."},
    )
    data_dir: Path = field(
        default=Path("./threadline-data"),
        metadata={"help": "Folder holding the embedded database."},
    )
    store: str = field(
        default="sqlite",
        metadata={
            "help": "Storage engine: sqlite (embedded, in --data-dir) or clickhouse (--clickhouse-url; any number "
            "of servers may share it)."
        },
    )
    clickhouse_url: str = field(
        default="",
        metadata={
            "help": "With --store clickhouse: http(s)://user:password@host:8123/database for a ClickHouse server, "
            "or chdb://PATH to run the engine in this process (one server only). Prefer the environment "
            "variable: a password in a flag shows in the process list."
        },
    )
    clickhouse_cluster: str = field(
        default="",
        metadata={
            "help": "With --store clickhouse: the ClickHouse cluster to create replicated, distributed tables on "
            "(docs/scaling.md); none: single-node tables."
        },
    )
    idle_timeout: str = field(
        default="30m",
        metadata={"help": "A session with no new span for this long is ended (90s, 30m, 2h)."},
    )
    max_body_bytes: int = field(
        default=32 * 1024 * 1024,
        metadata={"help": "Largest OTLP request body accepted, after decompression (larger: 413)."},
    )
    max_ingest_bytes: int = field(
        default=48 * 1024 * 1024,
        metadata={
            "help": "Request bodies held at once, from the first byte read until their spans are committed; "
            "past it ingest answers 503 with Retry-After before reading more (bounds memory under any flood)."
        },
    )
    max_spans_per_request: int = field(
        default=10_000,
        metadata={"help": "Spans kept from one request; the rest are refused in partial_success."},
    )
    max_attributes_per_span: int = field(
        default=1_000,
        metadata={"help": "Attributes kept per span (and per event); the count of the others is kept as a marker."},
    )
    max_value_chars: int = field(
        default=1_048_576,
        metadata={"help": "Longest attribute value kept whole; longer ones are cut and marked as truncated."},
    )
    max_value_depth: int = field(
        default=32,
        metadata={"help": "Deepest nesting of arrays and maps kept in a value; deeper parts become a marker."},
    )
    request_timeout: str = field(
        default="30s",
        metadata={
            "help": "A client must send a request's headers, and each part of its body, within this time "
            "(slow connections are closed)."
        },
    )
    max_pending_spans: int = field(
        default=50_000,
        metadata={"help": "Spans waiting for the writer before ingest answers 503."},
    )
    max_batch_spans: int = field(
        default=20_000,
        metadata={"help": "Most spans committed in one group commit."},
    )
    ingest_workers: int = field(
        default=0,
        metadata={
            "help": "Processes that decode, protect and prepare trace requests, leaving the server's own process to "
            "write and read; 0 (default): decode on threads; -1: one less than the cores. Worth it when decoding "
            "dominates (JSON or compressed bodies, many redaction patterns); each costs about 100 MB."
        },
    )
    session_intelligence: bool = field(
        default=True,
        metadata={
            "help": "Fold lifecycle, last action, journeys and context pressure at ingest "
            "(--no-session-intelligence keeps only the sessions' rollups)."
        },
    )
    user_id_salt: str = field(
        default="",
        metadata={
            "help": "The salt the application's SDK hashes user ids with (its THREADLINE_USER_ID_SALT), so that "
            "the API finds a user by the id as the application knows it."
        },
    )
    auth: bool = field(
        default=False,
        metadata={
            "help": "Require an API key on every route but /healthz (THREADLINE_AUTH=on). Create keys with "
            "`threadline keys create`."
        },
    )
    insecure_no_auth: bool = field(
        default=False,
        metadata={
            "help": "Serve a non-loopback --host without --auth anyway: anyone who reaches the port reads and "
            "erases everything."
        },
    )
    allowed_hosts: str = field(
        default="",
        metadata={
            "help": "Host names requests may be addressed to, comma-separated (others get 421, which defeats DNS "
            "rebinding); default: loopback names without --auth, any name with it."
        },
    )
    secret_key: str = field(
        default="",
        metadata={
            "help": "Secret that keys the hashes of API keys and signs web sessions; default: generated once in "
            "--data-dir/secret.key. Servers that share a store must share it."
        },
    )
    hash_user_ids: bool = field(
        default=False,
        metadata={"help": "Hash user ids that arrive in clear with user_id_salt, as the SDK does."},
    )
    tls_cert: str = field(
        default="",
        metadata={"help": "Certificate file (PEM) to serve HTTPS; needs --tls-key."},
    )
    tls_key: str = field(
        default="",
        metadata={"help": "Private key file (PEM) of --tls-cert."},
    )
    forwarded_allow_ips: str = field(
        default="",
        metadata={
            "help": "Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated "
            "addresses, or *); none by default."
        },
    )
    cors_origins: str = field(
        default="",
        metadata={"help": "Origins whose pages may call the API from a browser (comma-separated); none by default."},
    )
    public_metrics: bool = field(
        default=False,
        metadata={"help": "Serve /metrics without a key when --auth is on."},
    )
    demo: bool = field(
        default=False,
        metadata={"help": "Send realistic demo traffic through the SDK, so there is something to see."},
    )

    @property
    def ingest_worker_count(self) -> int:
        """``ingest_workers`` with -1 resolved for this machine."""
        if self.ingest_workers >= 0:
            return self.ingest_workers
        return max(1, (os.cpu_count() or 1) - 1)

    @property
    def idle_timeout_ns(self) -> int:
        return parse_duration(self.idle_timeout) * 1_000_000

    @property
    def request_timeout_s(self) -> float:
        return parse_duration(self.request_timeout) / 1000

    @property
    def allowed_host_names(self) -> tuple[str, ...]:
        return _names(self.allowed_hosts)

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return _names(self.cors_origins)

    def store_problem(self) -> str | None:
        """What is wrong with the storage settings, in one line; None when they are usable."""
        if self.store not in STORES:
            return f"--store {self.store!r} is not a storage engine: use {' or '.join(STORES)}"
        if self.store == "clickhouse" and not self.clickhouse_url:
            return "--store clickhouse needs --clickhouse-url (http://host:8123/database, or chdb://PATH)"
        if self.store == "sqlite" and (self.clickhouse_url or self.clickhouse_cluster):
            return "--clickhouse-url and --clickhouse-cluster need --store clickhouse"
        return None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "THREADLINE_" + self.name.upper()


_TYPES: dict[str, type] = {"str": str, "int": int, "Path": Path, "bool": bool}
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.default, _TYPES[str(f.type)], f.metadata["help"]) for f in dataclasses.fields(Settings)
)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1000}


def parse_duration(text: str) -> int:
    """``90s``, ``30m``, ``2h``, ``500ms`` (a bare number is seconds) as milliseconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration; use a number with ms, s, m, h or d (e.g. 30m)")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])
