"""The writers' queue: batches, tasks between them, cancelled requests, the bound, stopping."""

from __future__ import annotations

from typing import Any

import pytest

from threadline.server.errors import Overloaded
from threadline.server.ingest.job_queue import Job, JobQueue


def spans(n: int) -> list[Any]:
    return [object()] * n


def drain(jobs: JobQueue) -> list[tuple[str, Any]]:
    """What ``serve`` runs, in order: ("batch", project ids) and ("task", its result); stops at the end."""
    ran: list[tuple[str, Any]] = []

    def run_batch(batch: list[Job]) -> None:
        ran.append(("batch", [job.project_id for job in batch]))
        for job in batch:
            jobs.finish(job, result=None)

    def run_task(job: Job) -> None:
        assert job.task is not None
        if jobs.claim([job]):
            ran.append(("task", job.task()))
            job.future.set_result(None)

    jobs.stop()
    jobs.serve(run_batch, run_task)
    return ran


def test_queued_requests_are_one_batch_and_a_task_ends_it() -> None:
    jobs = JobQueue(max_pending_spans=100, max_batch_spans=10)
    for project in (1, 2, 3):
        jobs.submit(project, spans(2))
    jobs.call(lambda: "erased")
    jobs.submit(4, spans(2))
    assert drain(jobs) == [("batch", [1, 2, 3]), ("task", "erased"), ("batch", [4])]
    assert jobs.pending_spans == 0
    assert jobs.busy_seconds > 0


def test_a_batch_stops_growing_at_its_spans() -> None:
    jobs = JobQueue(max_pending_spans=100, max_batch_spans=4)
    for project in range(5):
        jobs.submit(project, spans(2))
    assert drain(jobs) == [("batch", [0, 1]), ("batch", [2, 3]), ("batch", [4])]


def test_a_cancelled_request_is_dropped_and_released() -> None:
    jobs = JobQueue(max_pending_spans=100, max_batch_spans=10)
    jobs.submit(1, spans(3))
    jobs.submit(2, spans(3)).cancel()
    jobs.call(lambda: "kept")
    jobs.call(lambda: "dropped").cancel()
    assert drain(jobs) == [("batch", [1]), ("task", "kept")]
    assert jobs.pending_spans == 0


def test_past_the_bound_a_request_is_refused_but_one_always_goes_in() -> None:
    jobs = JobQueue(max_pending_spans=4, max_batch_spans=10)
    jobs.submit(1, spans(10))  # an empty queue takes a request of any size
    with pytest.raises(Overloaded, match="Retry after"):
        jobs.submit(2, spans(1))
    assert jobs.pending_spans == 10


def test_what_was_queued_before_a_stop_is_done() -> None:
    jobs = JobQueue(max_pending_spans=100, max_batch_spans=10)
    jobs.submit(1, spans(1))
    jobs.submit(2, spans(1))
    assert drain(jobs) == [("batch", [1, 2])]
