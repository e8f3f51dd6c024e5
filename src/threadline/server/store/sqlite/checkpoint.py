"""WAL checkpoints on a connection of their own, off the writer's path.

SQLite's automatic checkpoint runs inside the committing transaction, on the writer thread. Here the
writer's automatic checkpoint is off and this thread copies the WAL back into the database whenever it
has grown past a threshold (a PASSIVE checkpoint never blocks the writer or the readers). SQLite does
that work with the GIL released, so it runs on another core while ingest continues.

The WAL stays small whatever the load: once everything in it is copied back, the next transaction
starts the log over and cuts the file to ``journal_size_limit`` (``db.WAL_SIZE_LIMIT``). Readers holding
old snapshots can keep a PASSIVE checkpoint from finishing; past ``hard_limit_bytes`` a TRUNCATE
checkpoint waits for them (briefly holding the writer too), so the file cannot grow without bound.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("threadline.checkpoint")

WAL_CHECKPOINT_BYTES = 16 * 1024 * 1024
"""Checkpoint once the WAL file holds this much."""
WAL_HARD_LIMIT_BYTES = 32 * 1024 * 1024
"""Past this, checkpoint and truncate the WAL even if that means waiting for readers."""


class Checkpointer:
    def __init__(
        self, path: Path, threshold_bytes: int = WAL_CHECKPOINT_BYTES, hard_limit_bytes: int = WAL_HARD_LIMIT_BYTES
    ) -> None:
        self._path = path
        self._wal = path.with_name(path.name + "-wal")
        self._threshold = threshold_bytes
        self._hard_limit = hard_limit_bytes
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="threadline-checkpoint", daemon=True)
        self.checkpoints = 0

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """Called after commits: wake up if the WAL may need a checkpoint."""
        self._wake.set()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(30)

    def _wal_size(self) -> int:
        try:
            return self._wal.stat().st_size
        except FileNotFoundError:
            return 0

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 1000")
        try:
            while not self._stop:
                self._wake.wait(1.0)
                self._wake.clear()
                size = self._wal_size()
                if size < self._threshold:
                    continue
                mode = "TRUNCATE" if size >= self._hard_limit else "PASSIVE"
                try:
                    conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                    self.checkpoints += 1
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint (%s) failed, will retry: %s", mode, exc)
                    self._wake.wait(1.0)
        finally:
            conn.close()
