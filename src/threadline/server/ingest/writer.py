"""The single writer (the SQLite engine's ``SpanWriter``): one thread owns the write connection and commits
many requests at once.

Requests queue their prepared spans; the writer takes everything queued (up to a batch limit), applies
it in one transaction (group commit), and only then resolves each request's future, so a request is
acknowledged only once its spans are durable. The queue is bounded by pending spans: past the bound,
``submit`` raises ``Overloaded`` and the HTTP edge answers 503 with Retry-After.
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
    IngestTransaction,
    OnCommit,
    Prepare,
    SpanItem,
    StoreWriteRefused,
    Transactional,
    WriterOptions,
)
from threadline.server.ingest.stitch import Stitcher

log = logging.getLogger("threadline.writer")
T = TypeVar("T")

STORAGE_RETRY_AFTER_S = 5
"""What a client is told to wait when the store refuses writes (a full disk rarely frees up at once)."""


class Writer:
    def __init__(
        self,
        store: Transactional,
        prepare: Prepare,
        options: WriterOptions | None = None,
        on_commit: OnCommit | None = None,
    ) -> None:
        options = options or WriterOptions()
        self._store = store
        self._stitcher = Stitcher(prepare, options.fold)
        self._jobs = JobQueue(options.max_pending_spans, options.max_batch_spans)
        self._on_commit = on_commit
        self._thread = threading.Thread(target=self._run, name="threadline-writer", daemon=True)
        self._commits = 0
        self._refusals = _RefusalLog()

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
        """Finish everything queued, then stop."""
        if self._thread.is_alive():
            self._jobs.stop()
            self._thread.join(timeout)

    def submit(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> Future[ChangeSet]:
        """Queue spans for the next group commit; raises ``Overloaded`` when the queue is full. ``weight``:
        the request's size in bytes."""
        return self._jobs.submit(project_id, items, weight)

    async def write(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> ChangeSet:
        return await asyncio.wrap_future(self.submit(project_id, items, weight))

    async def attach_log_events(self, project_id: int, events: Sequence[LogEvent]) -> ChangeSet:
        return await self._on_thread(lambda txn, stitcher: stitcher.attach_log_events(txn, project_id, events))

    async def erase_session(self, project_id: int, session_id: str) -> Erased | None:
        return await self._on_thread(lambda txn, stitcher: stitcher.erase_session(txn, project_id, session_id))

    async def erase_user(self, project_id: int, user_ids: Sequence[str]) -> Erased:
        def erase(txn: IngestTransaction, stitcher: Stitcher) -> Erased:
            erased = Erased()
            for user_id in dict.fromkeys(user_ids):
                erased.add(stitcher.erase_user(txn, project_id, user_id))
            return erased

        return await self._on_thread(erase)

    async def expire_sessions(self, project_id: int, session_ids: Sequence[str], before_ns: int) -> Erased:
        return await self._on_thread(
            lambda txn, stitcher: stitcher.expire_sessions(txn, project_id, session_ids, before_ns)
        )

    async def expire_orphan_traces(self, project_id: int, trace_ids: Sequence[bytes], before_ns: int) -> Erased:
        return await self._on_thread(
            lambda txn, stitcher: stitcher.expire_orphan_traces(txn, project_id, trace_ids, before_ns)
        )

    async def _on_thread(self, task: Callable[[IngestTransaction, Stitcher], T]) -> T:
        """Run ``task`` on the writer; cancelling the caller (a client gone, shutdown) lets a task already
        queued finish, so that what it changed is committed and reported whole."""
        return await asyncio.shield(asyncio.wrap_future(self.call(task)))

    def call(self, task: Callable[[IngestTransaction, Stitcher], T]) -> Future[T]:
        """Run ``task`` on the writer thread inside a transaction of its own."""
        return self._jobs.call(task)

    # --- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        self._jobs.serve(self._commit_claimed, self._run_task)

    def _commit_claimed(self, jobs: list[Job]) -> None:
        try:
            changes = self._apply(jobs)
        except StoreWriteRefused as refused:  # nothing was written; the clients retry after Retry-After
            self._stitcher.reset()
            self._refusals.warn(refused)
            for job in jobs:
                self._jobs.finish(job, error=_storage_unavailable(refused))
            return
        except Exception:
            self._stitcher.reset()
            if len(jobs) == 1:
                log.exception("could not store a batch of %d spans", len(jobs[0].items or ()))
                self._jobs.finish(jobs[0], error=RuntimeError("the server could not store these spans"))
                return
            for job in jobs:  # isolate the failing request; the others still commit
                self._commit_claimed([job])
            return
        if self._on_commit is not None:  # before the acknowledgements: a client that heard "stored" finds it fed
            try:
                self._on_commit(changes)
            except Exception:
                log.exception("a commit listener failed")
        for job, change in zip(jobs, changes, strict=True):
            self._jobs.finish(job, result=change)

    def _apply(self, jobs: list[Job]) -> list[ChangeSet]:
        with self._store.write() as txn:
            changes = self._stitcher.apply_all(txn, [(job.project_id, job.items or ()) for job in jobs])
        self._commits += 1
        return changes

    def _run_task(self, job: Job) -> None:
        assert job.task is not None
        if not self._jobs.claim([job]):
            return
        try:
            with self._store.write() as txn:
                result = job.task(txn, self._stitcher)
        except StoreWriteRefused as refused:
            self._stitcher.reset()
            job.future.set_exception(_storage_unavailable(refused))
            return
        except Exception as exc:
            self._stitcher.reset()
            job.future.set_exception(exc)
            return
        job.future.set_result(result)


class ReadOnlyWriter(Writer):
    """Stands in for the writer when the app only reads a database another server writes."""

    def __init__(self, store: Transactional) -> None:
        super().__init__(store, lambda spans: [])

    def start(self) -> None:
        return None

    def submit(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> Future[ChangeSet]:
        raise _read_only()

    def call(self, task: Callable[[IngestTransaction, Stitcher], T]) -> Future[T]:
        raise _read_only()


def _storage_unavailable(refused: StoreWriteRefused) -> StorageUnavailable:
    return StorageUnavailable(
        f"The server cannot store spans right now: {refused}. Retry after the Retry-After delay.",
        retry_after_s=STORAGE_RETRY_AFTER_S,
    )


class _RefusalLog:
    """Warns about refused writes once per minute, not once per batch (a full disk refuses every batch)."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._every_s = every_s
        self._last = -every_s
        self._since = 0

    def warn(self, refused: StoreWriteRefused) -> None:
        self._since += 1
        now = time.monotonic()
        if now - self._last >= self._every_s:
            log.warning("writes refused by the store (%d since the last warning): %s", self._since, refused)
            self._last, self._since = now, 0


def _read_only() -> ReadOnly:
    return ReadOnly(
        "This Threadline opened the database read-only; send spans and erasure requests to the server that writes it.",
    )
