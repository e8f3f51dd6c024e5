"""Each project's privacy as ingest applies it: looked up in the store, kept a few seconds.

A change made with ``threadline projects set`` or the API applies to spans that arrive within
``TTL_NS`` (at once on the server that made it: ``forget``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from threadline.server.ingest.privacy import Privacy
from threadline.server.settings import Settings
from threadline.server.store.base import Admin

TTL_NS = 5 * 10**9


class Policies:
    """``Privacy`` per project id; safe to call from the decoding threads."""

    def __init__(self, store: Admin, settings: Settings, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._known: dict[int, tuple[int, Privacy]] = {}
        self._lock = threading.Lock()

    def of(self, project_id: int) -> Privacy:
        """The privacy spans of ``project_id`` go through (a project since removed: the server's defaults)."""
        now = self._clock()
        found = self._known.get(project_id)
        if found is not None and now - found[0] < TTL_NS:
            return found[1]
        project = self._store.project_by_id(project_id)
        privacy = (
            Privacy.of(project, self._settings)
            if project is not None
            else Privacy(hash_user_ids=self._settings.hash_user_ids, user_id_salt=self._settings.user_id_salt)
        )
        with self._lock:
            self._known[project_id] = (now, privacy)
        return privacy

    def forget(self, project_id: int | None = None) -> None:
        """Look ``project_id`` (every project: None) up again on its next span."""
        with self._lock:
            if project_id is None:
                self._known.clear()
            else:
                self._known.pop(project_id, None)
