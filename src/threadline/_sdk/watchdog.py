"""Turn timeouts: one daemon thread ends turns that outlive their deadline.

Registering a turn is a heap push under a lock; the thread only wakes when the earliest deadline
changes. Ended turns leave stale entries that are skipped, and compacted when they pile up. With a
manual clock (tests) no thread runs: ``check()`` is called when the clock moves.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Protocol


class Expirable(Protocol):
    @property
    def ended(self) -> bool: ...

    def expire(self) -> None: ...


_COMPACT_MIN = 256


class Watchdog:
    def __init__(self, monotonic: Callable[[], float], *, threaded: bool = True) -> None:
        self._monotonic = monotonic
        self._threaded = threaded
        self._heap: list[tuple[float, int, Expirable]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, item: Expirable, timeout: float) -> None:
        """Expire ``item`` after ``timeout`` seconds unless it has ended by then."""
        deadline = self._monotonic() + timeout
        with self._cond:
            if self._stopped:
                return
            heap = self._heap
            earliest = not heap or deadline < heap[0][0]
            heapq.heappush(heap, (deadline, next(self._seq), item))
            if len(heap) >= _COMPACT_MIN and len(heap) % _COMPACT_MIN == 0:
                self._compact()
            if self._threaded:
                if self._thread is None:
                    self._start()
                elif earliest:
                    self._cond.notify()

    def _compact(self) -> None:
        live = [entry for entry in self._heap if not entry[2].ended]
        if len(live) < len(self._heap):
            heapq.heapify(live)
            self._heap = live

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="threadline-turn-timeouts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                wait = self._heap[0][0] - self._monotonic() if self._heap else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
            self.check()

    def check(self) -> int:
        """Expire every item whose deadline has passed; returns how many were expired."""
        due: list[Expirable] = []
        now = self._monotonic()
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                item = heapq.heappop(self._heap)[2]
                if not item.ended:
                    due.append(item)
        for item in due:
            item.expire()
        return len(due)

    def stop(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def reset_after_fork(self) -> None:
        """The parent's thread does not exist in a forked child: start afresh, lazily."""
        self._cond = threading.Condition(threading.Lock())
        self._heap = []
        self._thread = None
