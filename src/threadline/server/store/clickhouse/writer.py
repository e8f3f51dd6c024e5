"""The ClickHouse engine's ``SpanWriter``: a bounded queue and one worker thread per server.

Requests queue their prepared spans; the worker takes what is queued (up to a batch's spans and bytes),
inserts and refolds it (``refold.Refolder``), and only then resolves each request, so a request is
acknowledged once its spans and the folds that include them are stored. Past ``max_pending_spans`` queued
spans, ``write`` raises ``Overloaded`` (503 + Retry-After). Erasure and retention run on the same thread,
between batches.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TypeVar

from threadline.server.errors import ReadOnly, StorageUnavailable
from threadline.server.ingest.job_queue import Job, JobQueue
from threadline.server.ingest.logs import LogEvent
from threadline.server.ingest.port import (
    ChangeSet,
    Erased,
    OnCommit,
    Prepare,
    SpanItem,
    StoreWriteRefused,
    WriterOptions,
)
from threadline.server.store.clickhouse.connection import Connection, refusals
from threadline.server.store.clickhouse.erase import Eraser
from threadline.server.store.clickhouse.refold import Refolder
from threadline.server.store.clickhouse.schema import Schema
from threadline.server.store.clickhouse.sql import literal, storable

log = logging.getLogger("threadline.writer")
T = TypeVar("T")
STORAGE_RETRY_AFTER_S = 5
RECHECK_S = 10.0
"""An erasure's rows are repaired again this long after it (``Eraser.repair``): time for the rounds of other
servers that read before its deletes to have written."""


class ClickHouseWriter:
    """Implements ``ingest.port.SpanWriter`` over a ClickHouse database shared with any number of servers."""

    def __init__(
        self,
        conn: Connection,
        schema: Schema,
        prepare: Prepare,
        options: WriterOptions,
        on_commit: OnCommit | None = None,
    ) -> None:
        self._conn = conn
        self._refolder = Refolder(conn, prepare, options.fold)
        self._eraser = Eraser(conn, schema, self._refolder)
        self._options = options
        self._on_commit = on_commit
        self._jobs = JobQueue(options.max_pending_spans, options.max_batch_spans)
        self._thread = threading.Thread(target=self._run, name="threadline-clickhouse-writer", daemon=True)
        self._commits = 0
        self._last_warning = -60.0
        self._timers: set[threading.Timer] = set()

    @property
    def pending_spans(self) -> int:
        return self._jobs.pending_spans

    @property
    def commits(self) -> int:
        return self._commits

    @property
    def busy_seconds(self) -> float:
        return self._jobs.busy_seconds

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        for timer in list(self._timers):
            timer.cancel()
        if self._thread.is_alive():
            self._jobs.stop()
            self._thread.join(timeout)

    # --- the port --------------------------------------------------------------------------------

    def submit(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> Future[ChangeSet]:
        """Queue spans for the next batch; raises ``Overloaded`` when the queue is full."""
        return self._jobs.submit(project_id, items, weight)

    def call(self, task: Callable[[], T]) -> Future[T]:
        """Run ``task`` on the writer thread, between batches."""
        return self._jobs.call(task)

    async def write(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> ChangeSet:
        return await asyncio.wrap_future(self.submit(project_id, items, weight))

    async def attach_log_events(self, project_id: int, events: Sequence[LogEvent]) -> ChangeSet:
        def task() -> ChangeSet:
            change = self._refolder.attach_log_events(project_id, events)
            self._notify([change])
            return change

        return await self._run_task(task)

    async def erase_session(self, project_id: int, session_id: str) -> Erased | None:
        if not storable(session_id):
            return None

        def task() -> Erased | None:
            found = self._eraser.live_sessions(project_id, f"session_id = {literal(session_id)}")
            return self._eraser.erase_sessions(project_id, found) if found else None

        return await self._run_task(task)

    async def erase_user(self, project_id: int, user_ids: Sequence[str]) -> Erased:
        users = [u for u in dict.fromkeys(user_ids) if storable(u)]
        return await self._run_task(lambda: self._eraser.erase_user(project_id, users))

    async def expire_sessions(self, project_id: int, session_ids: Sequence[str], before_ns: int) -> Erased:
        ids = [s for s in session_ids if storable(s)]
        return await self._run_task(lambda: self._eraser.expire_sessions(project_id, ids, before_ns))

    async def expire_orphan_traces(self, project_id: int, trace_ids: Sequence[bytes], before_ns: int) -> Erased:
        return await self._run_task(lambda: self._eraser.expire_orphan_traces(project_id, trace_ids, before_ns))

    async def _run_task(self, task: Callable[[], T]) -> T:
        """Run ``task`` on the writer; a caller cancelled meanwhile (a client gone) lets it finish whole."""
        return await asyncio.shield(asyncio.wrap_future(self.call(task)))

    # --- the worker thread ------------------------------------------------------------------------

    def _run(self) -> None:
        self._jobs.serve(self._commit_claimed, self._task)

    def _commit_claimed(self, jobs: list[Job]) -> None:
        try:
            with refusals(self._conn.target):
                changes = self._refolder.write_spans([(job.project_id, job.items or ()) for job in jobs])
        except StoreWriteRefused as refused:
            self._warn(refused)
            for job in jobs:
                self._jobs.finish(job, error=_unavailable(refused))
            return
        except Exception:
            if len(jobs) == 1:
                log.exception("could not store a batch of %d spans", len(jobs[0].items or ()))
                self._jobs.finish(jobs[0], error=RuntimeError("the server could not store these spans"))
                return
            for job in jobs:  # isolate the failing request; the others still go in
                self._commit_claimed([job])
            return
        self._commits += 1
        self._notify(changes)  # before the acknowledgements: a client that heard "stored" finds the change fed
        for job, change in zip(jobs, changes, strict=True):
            self._jobs.finish(job, result=change)

    def _task(self, job: Job) -> None:
        assert job.task is not None
        if not self._jobs.claim([job]):
            return
        try:
            with refusals(self._conn.target):
                result = job.task()
        except StoreWriteRefused as refused:
            job.future.set_exception(_unavailable(refused))
            return
        except Exception as exc:
            job.future.set_exception(exc)
            return
        self._commits += 1
        job.future.set_result(result)
        self._schedule_rechecks()

    def _schedule_rechecks(self) -> None:
        rechecks, self._eraser.rechecks = self._eraser.rechecks, []
        for project_id, sessions, traces in rechecks:
            self._recheck_later(project_id, sessions, traces)

    def _recheck_later(self, project_id: int, sessions: list[str], traces: list[bytes]) -> None:
        def repair() -> None:
            try:
                self._eraser.repair(project_id, sessions, traces)
            except Exception:
                log.warning(
                    "could not repair after an erasure (it is repaired again at the next erasure)", exc_info=True
                )

        def recheck() -> None:
            self._timers.discard(timer)
            self.call(repair)

        timer = threading.Timer(RECHECK_S, recheck)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _notify(self, changes: list[ChangeSet]) -> None:
        if self._on_commit is None:
            return
        try:
            self._on_commit(changes)
        except Exception:
            log.exception("a commit listener failed")

    def _warn(self, refused: StoreWriteRefused) -> None:
        now = time.monotonic()
        if now - self._last_warning >= 60:
            log.warning("writes refused by ClickHouse: %s", refused)
            self._last_warning = now


class ReadOnlyWriter:
    """Stands in for the writer of a store opened read-only: every write is refused with ``ReadOnly``."""

    pending_spans = 0
    commits = 0
    busy_seconds = 0.0

    def start(self) -> None:
        return None

    def stop(self, timeout: float = 30.0) -> None:
        return None

    async def write(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> ChangeSet:
        raise _read_only()

    async def attach_log_events(self, project_id: int, events: Sequence[LogEvent]) -> ChangeSet:
        raise _read_only()

    async def erase_session(self, project_id: int, session_id: str) -> Erased | None:
        raise _read_only()

    async def erase_user(self, project_id: int, user_ids: Sequence[str]) -> Erased:
        raise _read_only()

    async def expire_sessions(self, project_id: int, session_ids: Sequence[str], before_ns: int) -> Erased:
        raise _read_only()

    async def expire_orphan_traces(self, project_id: int, trace_ids: Sequence[bytes], before_ns: int) -> Erased:
        raise _read_only()


def _unavailable(refused: StoreWriteRefused) -> StorageUnavailable:
    return StorageUnavailable(
        f"The server cannot store spans right now: {refused}. Retry after the Retry-After delay.",
        retry_after_s=STORAGE_RETRY_AFTER_S,
    )


def _read_only() -> ReadOnly:
    return ReadOnly(
        "This Threadline opened the ClickHouse database read-only; send spans and erasure requests to a server "
        "that writes it."
    )
