"""SQLite connections and numbered migrations.

The database lives in one file; WAL mode lets the single writer commit while readers (the API's
threads, the CLI in another process) read a consistent snapshot. ``PRAGMA user_version`` records the
last migration applied; migrations are the ``NNNN_name.sql`` files next to this module, applied in
order at start-up, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from threadline.server.store.base import StoreUnavailable
from threadline.server.store.migrations import Migration, shipped

DB_FILENAME = "threadline.db"
WAL_SIZE_LIMIT = 8 * 1024 * 1024
"""Bytes of WAL file kept after the log starts over; the checkpointer keeps the log itself small."""


def migrations() -> list[Migration]:
    """Every migration shipped with the package, in order (numbered 1..n)."""
    return shipped("threadline.server.store.sqlite")


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    applied = []
    current = schema_version(conn)
    latest = migrations()
    if current > len(latest):
        raise StoreUnavailable(
            f"the database is at schema version {current}, newer than this Threadline "
            f"({len(latest)}); upgrade Threadline or point --data-dir elsewhere"
        )
    for migration in latest[current:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.name)
    return applied


def _statements(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not buffer.strip().startswith("--"):
        statements.append(buffer.strip())
    return statements


def database_path(data_dir: Path) -> Path:
    """The database file in ``data_dir``, as an absolute path (``~`` expanded; relative to the working
    directory)."""
    return Path(data_dir).expanduser().absolute() / DB_FILENAME


def connect_writer(path: Path) -> sqlite3.Connection:
    """The one read-write connection (owned by the writer thread after start-up)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA wal_autocheckpoint = 4000")
    # When a checkpoint lets the WAL start over, its file is cut back to this size (see checkpoint.py).
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    return conn


def connect_admin(path: Path) -> sqlite3.Connection:
    """A read-write connection for projects and keys, beside the ingest writer (SQLite serializes them)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection; safe from other processes while the server runs."""
    if not path.exists():
        raise FileNotFoundError(f"no Threadline database at {path}")
    conn = sqlite3.connect(
        f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA cache_size = -8192")  # 8 MiB: there is one reader per API thread
    conn.execute("PRAGMA query_only = ON")
    return conn
