"""Live updates: which sessions changed, fanned out to every subscriber of their project.

The writer thread reports committed changes with ``changed`` (thread-safe); each subscriber holds a
coalescing set of pending changes, so a burst of commits becomes one event per session. A subscriber sees
its own project's sessions only. A watcher task reports sessions whose idle timeout has just passed (their
status changed with no new span).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

log = logging.getLogger("threadline.live")

CHANGED = "session"
DELETED = "deleted"


Change = tuple[int, str]
"""(project id, session id)"""


class Subscription:
    def __init__(self, owner: LiveUpdates, project_id: int) -> None:
        self._owner = owner
        self.project_id = project_id
        self._pending: dict[str, str] = {}
        self._wake = asyncio.Event()
        self.closed = False

    def _push(self, session_ids: Iterable[str], kind: str) -> None:
        for session_id in session_ids:
            self._pending[session_id] = kind
        self._wake.set()

    async def next(self, timeout: float) -> dict[str, str]:
        """Pending changes (session id -> ``session`` / ``deleted``); empty after ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        pending, self._pending = self._pending, {}
        return pending

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._owner._subscribers.discard(self)


class LiveUpdates:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, project_id: int) -> Subscription:
        subscription = Subscription(self, project_id)
        self._subscribers.add(subscription)
        return subscription

    def close(self) -> None:
        """End every subscription (the server is shutting down)."""
        for subscription in list(self._subscribers):
            subscription.close()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def changed(self, sessions: Iterable[Change]) -> None:
        """Report changed sessions; callable from any thread."""
        self._dispatch(list(sessions), CHANGED)

    def deleted(self, project_id: int, session_ids: Iterable[str]) -> None:
        self._dispatch([(project_id, s) for s in session_ids], DELETED)

    def _dispatch(self, sessions: list[Change], kind: str) -> None:
        if not sessions or not self._subscribers or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._publish, sessions, kind)

    def _publish(self, sessions: list[Change], kind: str) -> None:
        for subscription in list(self._subscribers):
            mine = [session_id for project_id, session_id in sessions if project_id == subscription.project_id]
            if mine:
                subscription._push(mine, kind)


async def watch_idle_sessions(
    live: LiveUpdates,
    going_idle: Callable[[int, int], list[Change]],
    clock: Callable[[], int],
    idle_timeout_ns: int,
    interval_s: float,
) -> None:
    """Forever: report sessions whose last activity has just become older than the idle timeout."""
    checked = clock() - idle_timeout_ns
    while True:
        await asyncio.sleep(interval_s)
        cutoff = clock() - idle_timeout_ns
        if cutoff <= checked or not live.subscriber_count:
            checked = max(checked, cutoff)
            continue
        try:
            ended = await asyncio.to_thread(going_idle, checked, cutoff)
        except Exception:
            log.exception("could not look for sessions that went idle")
            continue
        checked = cutoff
        live.changed(ended)
