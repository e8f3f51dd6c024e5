"""The embedded backend: one SQLite file, one writer connection, a read-only connection per thread."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from threadline.server.ingest.port import OnCommit, Prepare, SpanWriter, WriterOptions
from threadline.server.ingest.writer import ReadOnlyWriter, Writer
from threadline.server.store.base import (
    ApiKey,
    Project,
    Rules,
    SessionQuery,
    StoreUnavailable,
    UserQuery,
    Window,
)
from threadline.server.store.records import (
    JourneyProgress,
    OrphanTrace,
    Page,
    SessionAnalytics,
    SessionDetail,
    SessionSummary,
    SpanRecord,
    Stats,
    TraceInfo,
    UserSummary,
)
from threadline.server.store.sqlite import admin, analytics, db, opening, reads, texts, users
from threadline.server.store.sqlite.checkpoint import Checkpointer
from threadline.server.store.sqlite.ingest import SqliteIngest

log = logging.getLogger("threadline.store")


class SqliteStore:
    """Implements ``Store``. ``read_only=True`` opens an existing file without writing to it."""

    def __init__(self, data_dir: Path, *, read_only: bool = False) -> None:
        self.path = db.database_path(data_dir)
        self.read_only = read_only
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._checkpointer: Checkpointer | None = None
        self._admin_conn: sqlite3.Connection | None = None
        self._admin_lock = threading.Lock()
        self._keys = {"session": 0, "trace": 0}
        self._resource_ids: dict[bytes, int] = {}
        self._texts = texts.TextWriter()
        try:
            self._open_reader() if read_only else self._open_writer()
        except Exception as exc:
            self._abandon()
            raise opening.unavailable(self.path, exc) from exc

    def _open_reader(self) -> None:
        if not self.path.is_file():
            raise StoreUnavailable(f"no Threadline database at {self.path}")
        version = db.schema_version(self._reader())
        if version != len(db.migrations()):
            raise StoreUnavailable(f"{self.path} is at schema version {version}; start the server once to migrate it")

    def _open_writer(self) -> None:
        self._writer = db.connect_writer(self.path)
        db.migrate(self._writer)
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpointer thread does it
        self._checkpointer = Checkpointer(self.path)
        self._checkpointer.start()
        self._load_keys()
        self._texts.start(self._writer)

    def _load_keys(self) -> None:
        assert self._writer is not None
        for name, table in (("session", "sessions"), ("trace", "traces")):
            self._keys[name] = int(self._writer.execute(f"SELECT ifnull(max(pk), 0) FROM {table}").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[SqliteIngest]:
        """One write transaction; commits on success, rolls back (and resyncs) on error.

        Raises ``StoreWriteRefused`` when SQLite cannot write for now (disk full, I/O error, locked).
        """
        conn = self._writer
        if conn is None:
            raise RuntimeError("this store was opened read-only")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                txn = SqliteIngest(conn, self._keys, self._resource_ids, self._texts)
                yield txn
                txn.finish()
                conn.execute("COMMIT")
            except BaseException:
                self._roll_back(conn)
                raise
        except sqlite3.Error as exc:
            refused = opening.write_refusal(self.path, exc)
            if refused is None:
                raise
            raise refused from exc
        if self._checkpointer is not None:
            self._checkpointer.poke()

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """Undo the open transaction and forget what the failed one handed out (keys, resource ids, texts)."""
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("rollback failed; the next transaction starts afresh", exc_info=True)
        self._resource_ids.clear()
        self._load_keys()
        self._texts.forget(conn)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect_reader(self.path)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def writer(self, prepare: Prepare, options: WriterOptions, on_commit: OnCommit | None = None) -> SpanWriter:
        """The single writer (``ingest/writer.py``), folding through this store's transactions."""
        if self.read_only:
            return ReadOnlyWriter(self)
        return Writer(self, prepare, options, on_commit)

    def list_sessions(self, project_id: int, query: SessionQuery) -> Page[SessionSummary]:
        return reads.list_sessions(self._reader(), project_id, query)

    def get_session(self, project_id: int, session_id: str) -> SessionDetail | None:
        return reads.get_session(self._reader(), project_id, session_id)

    def get_sessions(self, project_id: int, session_ids: Sequence[str]) -> list[SessionSummary]:
        return reads.get_sessions(self._reader(), project_id, session_ids)

    def trace(self, project_id: int, trace_id: bytes) -> TraceInfo | None:
        return reads.trace(self._reader(), project_id, trace_id)

    def trace_spans(self, project_id: int, trace_id: bytes) -> list[SpanRecord]:
        return reads.trace_spans(self._reader(), project_id, trace_id)

    def list_orphan_traces(self, project_id: int, limit: int, after: str | None = None) -> Page[OrphanTrace]:
        return reads.list_orphan_traces(self._reader(), project_id, limit, after)

    def idle_timeout_ms(self, project_id: int) -> int | None:
        row = self._reader().execute("SELECT idle_timeout_ms FROM projects WHERE id = ?", (project_id,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def set_idle_timeout_ms(self, project_id: int, value: int) -> None:
        with self.write() as txn:
            txn.set_idle_timeout_ms(project_id, value)

    def stats(self, project_id: int) -> Stats:
        return reads.stats(self._reader(), project_id)

    def list_users(self, project_id: int, query: UserQuery) -> Page[UserSummary]:
        return users.list_users(self._reader(), project_id, query)

    def get_user(self, project_id: int, user_id: str) -> UserSummary | None:
        return users.get_user(self._reader(), project_id, user_id)

    def session_analytics(self, project_id: int, window: Window, rules: Rules) -> SessionAnalytics:
        return analytics.session_analytics(self._reader(), project_id, window, rules)

    def journey_progress(self, project_id: int, window: Window) -> list[JourneyProgress]:
        return analytics.journey_progress(self._reader(), project_id, window)

    def models(self, project_id: int) -> list[str]:
        return reads.models(self._reader(), project_id)

    def sessions_going_idle(self, project_id: int, from_ns: int, to_ns: int) -> list[str]:
        return reads.sessions_going_idle(self._reader(), project_id, from_ns, to_ns)

    def sessions_quiet_since(self, project_id: int, before_ns: int, limit: int) -> list[str]:
        return reads.sessions_quiet_since(self._reader(), project_id, before_ns, limit)

    def orphan_traces_before(self, project_id: int, before_ns: int, limit: int) -> list[bytes]:
        return reads.orphan_traces_before(self._reader(), project_id, before_ns, limit)

    def _abandon(self) -> None:
        """Close whatever a failed start-up opened, without the tidying that ``close`` does."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.close()

    # --- projects and keys (reads on the reader connections; writes on a connection of their own) ------

    def projects(self) -> list[Project]:
        return admin.projects(self._reader())

    def project(self, name: str) -> Project | None:
        return admin.project(self._reader(), "name", name)

    def project_by_id(self, project_id: int) -> Project | None:
        return admin.project(self._reader(), "id", project_id)

    def create_project(self, name: str, now_ns: int) -> Project:
        with self._admin() as conn:
            return admin.create_project(conn, name, now_ns)

    def update_project(self, project: Project) -> None:
        with self._admin() as conn:
            admin.update_project(conn, project)

    def add_key(self, key: ApiKey, secret_hash: bytes) -> None:
        with self._admin() as conn:
            admin.add_key(conn, key, secret_hash)

    def api_keys(self, project_id: int | None = None) -> list[ApiKey]:
        return admin.keys(self._reader(), project_id)

    def key(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        return admin.key(self._reader(), key_id)

    def revoke_key(self, key_id: str, now_ns: int) -> bool:
        with self._admin() as conn:
            return admin.revoke_key(conn, key_id, now_ns)

    def touch_key(self, key_id: str, now_ns: int) -> None:
        with self._admin() as conn:
            admin.touch_key(conn, key_id, now_ns)

    @contextmanager
    def _admin(self) -> Iterator[sqlite3.Connection]:
        """A transaction on the admin connection (opened on first use; never the ingest writer's)."""
        if self.read_only:
            raise RuntimeError("this store was opened read-only")
        with self._admin_lock:
            if self._admin_conn is None:
                self._admin_conn = db.connect_admin(self.path)
            conn = self._admin_conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        if self._admin_conn is not None:
            self._admin_conn.close()
            self._admin_conn = None
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._writer is not None:
            try:  # tidying only: everything committed is already durable in the WAL
                self._writer.execute("PRAGMA optimize")
                self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("could not checkpoint the WAL on shutdown (%s); it is replayed at the next start", exc)
            self._writer.close()
            self._writer = None
