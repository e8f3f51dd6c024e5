"""Turn timeouts: one daemon thread ends turns that outlive their deadline.

Nothing is registered per turn: each open turn carries its own ``deadline`` (monotonic seconds) and
the thread scans the open turns when the earliest deadline it knows of falls due. Starting a turn
costs one comparison (and a wake-up only when its deadline is earlier than the thread's next one).
With a manual clock (tests) no thread runs: ``check()`` is called when the clock moves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from threadline._sdk import guard

_IDLE_WAIT = 60.0
"""Longest sleep of the thread when it knows of no deadline (a turn may have been added meanwhile)."""


class Expirable(Protocol):
    deadline: float | None

    @property
    def ended(self) -> bool: ...

    def expire(self) -> None: ...


class Watchdog:
    def __init__(
        self, monotonic: Callable[[], float], items: Callable[[], Iterable[Expirable]], *, threaded: bool = True
    ) -> None:
        self._monotonic = monotonic
        self._items = items
        self._threaded = threaded
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._next_wake = float("inf")
        self._stopped = False

    def watch(self, deadline: float) -> None:
        """An open item now has ``deadline``: make sure the thread wakes up in time for it."""
        if not self._threaded or self._stopped:
            return
        if self._thread is None:
            with self._cond:
                if self._thread is None and not self._stopped:
                    self._next_wake = deadline
                    self._thread = threading.Thread(target=self._run, name="threadline-turn-timeouts", daemon=True)
                    self._thread.start()
                    return
        if deadline < self._next_wake:
            with self._cond:
                self._next_wake = min(self._next_wake, deadline)
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                wait = min(self._next_wake - self._monotonic(), _IDLE_WAIT)
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._next_wake = float("inf")
            try:
                self.check()
            except Exception as exc:  # the thread must outlive any bug
                guard.internal_error("Watchdog.check", exc)

    def check(self) -> int:
        """Expire every open item whose deadline has passed; returns how many were expired."""
        now = self._monotonic()
        due: list[Expirable] = []
        earliest = float("inf")
        for item in list(self._items()):
            deadline = item.deadline
            if deadline is None or item.ended:
                continue
            if deadline <= now:
                due.append(item)
            else:
                earliest = min(earliest, deadline)
        if earliest < float("inf"):
            with self._cond:
                self._next_wake = min(self._next_wake, earliest)
        for item in due:
            item.expire()
        return len(due)

    def stop(self, timeout: float = 1.0) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def reset_after_fork(self) -> None:
        """The parent's thread does not exist in a forked child: start afresh, lazily."""
        self._cond = threading.Condition(threading.Lock())
        self._thread = None
        self._next_wake = float("inf")
