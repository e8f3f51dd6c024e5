"""Feeding stores the same OTLP payloads and comparing what they answer."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.corpus import CORPUS, manifest
from threadline.server.ingest.decode import decode_json, decode_protobuf
from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.port import SpanItem, SpanWriter, WriterOptions
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.records import RawSpan
from threadline.server.store.base import SessionQuery, Store, UserQuery
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.store import ClickHouseStore

PREPARER = Preparer()


def corpus_bodies(folder: str) -> list[tuple[str, bytes]]:
    """(content type, body) of each trace request of a corpus folder, in the order sent."""
    found = []
    for entry in manifest(folder)["files"]:
        if entry["endpoint_path"] != "/v1/traces":
            continue
        body = (CORPUS / folder / entry["file"]).read_bytes()
        if entry.get("content_encoding") == "gzip":
            body = gzip.decompress(body)
        found.append((entry["content_type"], body))
    return found


def decode(content_type: str, body: bytes) -> list[RawSpan]:
    batch = decode_json(body) if "json" in content_type else decode_protobuf(body)
    return batch.spans


def prepare(spans: Sequence[RawSpan]) -> list[SpanItem]:
    return PREPARER.prepare(spans)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Fed:
    """A store and its started writer."""

    @property
    def conn(self) -> Connection:
        """The ClickHouse store's connection."""
        assert isinstance(self.store, ClickHouseStore)
        return self.store.conn

    def __init__(self, store: Store, options: WriterOptions | None = None) -> None:
        self.store = store
        self.writer: SpanWriter = store.writer(prepare, options or WriterOptions())
        self.writer.start()

    def write(self, items: Sequence[SpanItem], project_id: int = 1) -> Any:
        return run(self.writer.write(project_id, items))

    def write_body(self, content_type: str, body: bytes, project_id: int = 1) -> Any:
        return self.write(prepare(decode(content_type, body)), project_id)

    def attach(self, events: Sequence[LogEvent], project_id: int = 1) -> Any:
        return run(self.writer.attach_log_events(project_id, events))

    def close(self) -> None:
        self.writer.stop()
        self.store.close()


@contextmanager
def clickhouse(path: Path, options: WriterOptions | None = None) -> Iterator[Fed]:
    fed = Fed(ClickHouseStore(f"chdb://{path}"), options)
    try:
        yield fed
    finally:
        fed.close()


@contextmanager
def sqlite(path: Path) -> Iterator[Fed]:
    from threadline.server.store.sqlite.store import SqliteStore

    fed = Fed(SqliteStore(path))
    try:
        yield fed
    finally:
        fed.close()


def rounded(value: Any) -> Any:
    """``value`` with floats to 12 significant digits (sums in another order differ in the last bits), records
    as dicts, sequences as lists."""
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: rounded(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


def all_sessions(store: Store, query: SessionQuery, project_id: int = 1) -> list[Any]:
    """Every page of a session list."""
    found: list[Any] = []
    after = None
    while True:
        page = store.list_sessions(project_id, dataclasses.replace(query, after=after, limit=query.limit))
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        after = page.next_cursor


def all_users(store: Store, query: UserQuery, project_id: int = 1) -> list[Any]:
    found: list[Any] = []
    after = None
    while True:
        page = store.list_users(project_id, dataclasses.replace(query, after=after))
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        after = page.next_cursor


def snapshot(store: Store, project_id: int = 1) -> dict[str, Any]:
    """Everything a store answers about a project that does not depend on arrival order."""
    sessions = all_sessions(store, SessionQuery(limit=1000), project_id)
    ids = sorted(s.session_id for s in sessions)
    details = {sid: rounded(store.get_session(project_id, sid)) for sid in ids}
    traces: dict[str, Any] = {}
    for detail in details.values():
        for turn in detail["turns"]:
            for trace_hex in turn["trace_ids"]:
                trace_id = bytes.fromhex(trace_hex)
                info = store.trace(project_id, trace_id)
                spans = store.trace_spans(project_id, trace_id)
                ordered = sorted(spans, key=lambda r: (r.span.start_ns, r.span.span_id))
                traces[trace_hex] = (rounded(info), rounded(ordered))
    orphans: list[Any] = []
    after = None
    while True:
        page = store.list_orphan_traces(project_id, 1000, after)
        orphans.extend(page.items)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    users = sorted(all_users(store, UserQuery(limit=1000), project_id), key=lambda u: u.user_id)
    return {
        "sessions": details,
        "traces": traces,
        "orphans": rounded(sorted(orphans, key=lambda o: o.trace_id)),
        "stats": store.stats(project_id),
        "users": rounded(users),
        "models": store.models(project_id),
    }
