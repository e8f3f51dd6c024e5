"""Retention: each project's sessions and orphan traces older than its ``retention_days`` are removed.

A background task runs a round every ``interval_s``. A round reads every project's setting afresh, finds
the sessions quiet since the cutoff (and the orphan traces started before it) on a reader connection,
and erases them in small batches, each a writer task of its own (the same erasure as ``DELETE``: rollups,
users and counters stay exact), with a short pause between batches so that ingest
is never held up for long. The writer checks each candidate again inside its transaction: a session that
got a span since it was read stays. A span that arrives for a session after it was removed starts the
session again, as for any session the store does not know.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from threadline.server.ingest.port import Erased, SpanWriter
from threadline.server.live import LiveUpdates
from threadline.server.store.base import Project, Store

log = logging.getLogger("threadline.retention")

DAY_NS = 86_400 * 10**9
INTERVAL_S = 60.0
"""Time between two rounds."""
BATCH_SIZE = 200
"""Sessions (or orphan traces) removed in one writer transaction."""
PAUSE_S = 0.05
"""Pause between two batches, so that queued ingest goes first."""


@dataclass(slots=True)
class Removed:
    """What a round removed from one project."""

    sessions: int = 0
    orphan_traces: int = 0
    traces: int = 0
    spans: int = 0

    def __bool__(self) -> bool:
        return bool(self.sessions or self.traces)


@dataclass(frozen=True, slots=True)
class Batches:
    """How a round removes: at most ``size`` items per writer transaction, ``pause_s`` between two."""

    size: int = BATCH_SIZE
    pause_s: float = PAUSE_S


async def enforce_retention(
    store: Store,
    writer: SpanWriter,
    live: LiveUpdates,
    clock: Callable[[], int],
    interval_s: float = INTERVAL_S,
    batches: Batches = Batches(),
) -> None:
    """Forever: a retention round, then ``interval_s`` of rest. A failed round is logged; the next retries."""
    while True:
        try:
            await retention_round(store, writer, live, clock, batches)
        except Exception:
            log.exception("the retention round failed; the next one retries in %g s", interval_s)
        await asyncio.sleep(interval_s)


async def retention_round(
    store: Store, writer: SpanWriter, live: LiveUpdates, clock: Callable[[], int], batches: Batches = Batches()
) -> dict[int, Removed]:
    """Remove what each project's retention no longer covers; what went, by project (with a retention)."""
    removed: dict[int, Removed] = {}
    for project in await asyncio.to_thread(store.projects):
        before_ns = cutoff_ns(project, clock())
        if before_ns is None:
            continue
        removed[project.id] = gone = Removed()
        await _expire_sessions(store, writer, live, project.id, before_ns, batches, gone)
        await _expire_orphan_traces(store, writer, project.id, before_ns, batches, gone)
        level = logging.INFO if gone else logging.DEBUG
        log.log(
            level,
            "retention (%d days) removed %d sessions and %d orphan traces (%d traces, %d spans) from project %r",
            project.retention_days, gone.sessions, gone.orphan_traces, gone.traces, gone.spans, project.name,
        )  # fmt: skip
    return removed


def cutoff_ns(project: Project, now_ns: int) -> int | None:
    """What was last active before this is removed; None: the project keeps everything."""
    days = project.retention_days
    if days is None or days <= 0:
        return None
    return max(now_ns - days * DAY_NS, 0)


async def _expire_sessions(
    store: Store,
    writer: SpanWriter,
    live: LiveUpdates,
    project_id: int,
    before_ns: int,
    batches: Batches,
    gone: Removed,
) -> None:
    while ids := await asyncio.to_thread(store.sessions_quiet_since, project_id, before_ns, batches.size):
        erased = await writer.expire_sessions(project_id, ids, before_ns)
        live.deleted(project_id, erased.sessions)
        _count(gone, erased)
        gone.sessions += len(erased.sessions)
        if not await _more(ids, erased, batches):
            return


async def _expire_orphan_traces(
    store: Store, writer: SpanWriter, project_id: int, before_ns: int, batches: Batches, gone: Removed
) -> None:
    while ids := await asyncio.to_thread(store.orphan_traces_before, project_id, before_ns, batches.size):
        erased = await writer.expire_orphan_traces(project_id, ids, before_ns)
        _count(gone, erased)
        gone.orphan_traces += len(erased.trace_ids)
        if not await _more(ids, erased, batches):
            return


async def _more(ids: Sequence[object], erased: Erased, batches: Batches) -> bool:
    """Whether another batch may follow (this one was full and removed something); pauses if so."""
    if len(ids) < batches.size or not (erased.trace_ids or erased.sessions):
        return False
    await asyncio.sleep(batches.pause_s)
    return True


def _count(gone: Removed, erased: Erased) -> None:
    gone.traces += len(erased.trace_ids)
    gone.spans += erased.spans
