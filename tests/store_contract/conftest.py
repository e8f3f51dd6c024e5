"""Every storage engine, opened fresh in a temporary folder, with its writer, filled through the same path as
the server's ingest (decode, privacy-free prepare, the engine's own writer)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.otlp import BASE_NS, SpanSpec, request
from threadline.server.ingest.decode import decode_protobuf
from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.port import ChangeSet, Erased, SpanWriter, WriterOptions
from threadline.server.ingest.prepare import Preparer
from threadline.server.ingest.rollup import FoldOptions
from threadline.server.store.base import Store

ENGINES = ["sqlite", "clickhouse"]
IDLE_NS = 30 * 60 * 10**9


def open_engine(kind: str, folder: Path) -> Store:
    if kind == "sqlite":
        from threadline.server.store.sqlite.store import SqliteStore

        return SqliteStore(folder)
    from support.server import clickhouse_url
    from threadline.server.store.clickhouse.store import ClickHouseStore

    return ClickHouseStore(clickhouse_url(folder))


@dataclass
class Engine:
    """A store and its started writer; ``write`` and the erasures wait for the writer as the routes do."""

    kind: str
    store: Store
    writer: SpanWriter
    preparer: Preparer
    commits: list[ChangeSet]

    def send(self, spans: Sequence[SpanSpec], project_id: int = 1) -> ChangeSet:
        batch = decode_protobuf(request(*spans))
        return self.run(self.writer.write(project_id, self.preparer.prepare(batch.spans)))

    def run(self, work: Any) -> Any:
        return asyncio.run(_awaited(work))

    def attach(self, events: Sequence[LogEvent], project_id: int = 1) -> ChangeSet:
        result: ChangeSet = self.run(self.writer.attach_log_events(project_id, events))
        return result

    def erase_session(self, session_id: str, project_id: int = 1) -> Erased | None:
        result: Erased | None = self.run(self.writer.erase_session(project_id, session_id))
        return result

    def erase_user(self, *user_ids: str, project_id: int = 1) -> Erased:
        result: Erased = self.run(self.writer.erase_user(project_id, list(user_ids)))
        return result


async def _awaited(work: Any) -> Any:
    return await work


def make_engine(kind: str, folder: Path) -> Iterator[Engine]:
    store = open_engine(kind, folder)
    preparer = Preparer()
    commits: list[ChangeSet] = []
    writer = store.writer(
        preparer.prepare,
        WriterOptions(FoldOptions(IDLE_NS, preparer.prices.context_window)),
        on_commit=commits.extend,
    )
    writer.start()
    try:
        yield Engine(kind, store, writer, preparer, commits)
    finally:
        writer.stop()
        store.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, empty engine of each kind."""
    yield from make_engine(request.param, tmp_path / request.param)


def at(seconds: float) -> int:
    return BASE_NS + int(seconds * 10**9)
