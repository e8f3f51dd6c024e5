"""The writers' queue, shared by both engines: requests' spans and other tasks, taken by one thread.

``submit`` queues a request's spans, bounded by the spans pending (past ``max_pending_spans``: ``Overloaded``,
which the HTTP edge answers 503 with Retry-After); ``call`` queues a task. The writer thread runs ``serve``,
which takes the first job queued and, when it holds spans, the span jobs behind it, up to a batch's spans
and bytes (a group commit); a task queued among them ends the batch and runs after it. A job whose caller
was cancelled while it queued is dropped (nothing of it was acknowledged). ``busy_seconds`` is the time the
thread spent on jobs rather than waiting for them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from threadline.server.errors import Overloaded
from threadline.server.ingest.port import ChangeSet, SpanItem

T = TypeVar("T")

MAX_BATCH_BYTES = 8 * 1024 * 1024
"""A batch takes no more requests once it holds this many of their bytes (for SQLite, this bounds what a
transaction adds to the WAL between two checkpoints)."""


@dataclass(slots=True)
class Job:
    project_id: int
    items: Sequence[SpanItem] | None
    """A request's spans; None for a task."""
    task: Callable[..., Any] | None
    future: Future[Any]
    weight: int = 0
    """The request's size in bytes."""


_STOP = object()


class JobQueue:
    def __init__(self, max_pending_spans: int, max_batch_spans: int) -> None:
        self._queue: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._max_pending = max_pending_spans
        self._max_batch = max_batch_spans
        self._pending = 0
        self._lock = threading.Lock()
        self.busy_seconds = 0.0

    @property
    def pending_spans(self) -> int:
        return self._pending

    def submit(self, project_id: int, items: Sequence[SpanItem], weight: int = 0) -> Future[ChangeSet]:
        """Queue a request's spans; raises ``Overloaded`` when the queue is full."""
        with self._lock:
            if self._pending and self._pending + len(items) > self._max_pending:
                raise Overloaded(
                    f"The write queue is full ({self._pending} spans waiting). Retry after the Retry-After delay.",
                    retry_after_s=1,
                )
            self._pending += len(items)
        future: Future[ChangeSet] = Future()
        self._queue.put(Job(project_id, items, None, future, weight))
        return future

    def call(self, task: Callable[..., T]) -> Future[T]:
        """Queue a task; the writer calls it (with what its ``run_task`` gives it) between batches."""
        future: Future[T] = Future()
        self._queue.put(Job(0, None, task, future))
        return future

    def stop(self) -> None:
        """Make ``serve`` return once what is queued before this is done."""
        self._queue.put(_STOP)

    def serve(self, run_batch: Callable[[list[Job]], None], run_task: Callable[[Job], None]) -> None:
        """The writer thread's loop: ``run_batch`` gets span jobs already claimed (see ``claim``), ``run_task``
        a task job not yet claimed. Returns after ``stop``."""
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            assert isinstance(first, Job)
            started = time.perf_counter()
            stopping = self._take(first, run_batch, run_task)
            self.busy_seconds += time.perf_counter() - started
            if stopping:
                return

    def _take(self, first: Job, run_batch: Callable[[list[Job]], None], run_task: Callable[[Job], None]) -> bool:
        """Run ``first`` and the span jobs queued behind it; True when a stop came among them."""
        if first.task is not None:
            run_task(first)
            return False
        jobs = [first]
        size, weight = len(first.items or ()), first.weight
        stopping = False
        task: Job | None = None
        while size < self._max_batch and weight < MAX_BATCH_BYTES:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                stopping = True
                break
            assert isinstance(nxt, Job)
            if nxt.task is not None:
                task = nxt
                break
            jobs.append(nxt)
            size += len(nxt.items or ())
            weight += nxt.weight
        claimed = self.claim(jobs)
        if claimed:
            run_batch(claimed)
        if task is not None:
            run_task(task)
        return stopping

    def claim(self, jobs: list[Job]) -> list[Job]:
        """The jobs still wanted, each marked running so that it can no longer be cancelled; the others are
        released."""
        claimed = []
        for job in jobs:
            if job.future.set_running_or_notify_cancel():
                claimed.append(job)
            else:
                self.release(job)
        return claimed

    def release(self, job: Job) -> None:
        """``job``'s spans are no longer pending."""
        with self._lock:
            self._pending -= len(job.items or ())

    def finish(self, job: Job, *, result: ChangeSet | None = None, error: Exception | None = None) -> None:
        """Release ``job`` and resolve its request."""
        self.release(job)
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)
