"""The ClickHouse engine: ``ClickHouseStore`` implements ``store.base.Store`` over a ClickHouse database (a
server over HTTP, or chdb in process) that any number of Threadline servers write at once."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.server.ingest.port import OnCommit, Prepare, SpanWriter, WriterOptions
from threadline.server.store.base import ApiKey, Project, Rules, SessionQuery, StoreUnavailable, UserQuery, Window
from threadline.server.store.clickhouse import analytics, reads, schema, users
from threadline.server.store.clickhouse.admin import Admin
from threadline.server.store.clickhouse.connection import Connection, acquire, release
from threadline.server.store.clickhouse.writer import ClickHouseWriter, ReadOnlyWriter
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

CLUSTER_SETTINGS = {
    "distributed_foreground_insert": 1,
    "insert_quorum": "auto",
    "insert_quorum_parallel": 0,
    "select_sequential_consistency": 1,
    "optimize_skip_unused_shards": 1,
}
"""Cluster mode: an insert returns once a majority of replicas hold it, and reads see every insert that
returned (what the exactness argument needs across replicas); a look-up by trace or session asks only the
shard that holds it."""


class ClickHouseStore:
    """``url``: ``chdb://PATH`` or ``http(s)://user:password@host:port/database``. ``cluster``: the name of a
    ClickHouse cluster to create replicated, sharded tables on. ``read_only``: only read a database that
    another server writes (the schema must be current)."""

    def __init__(self, url: str, *, cluster: str | None = None, read_only: bool = False) -> None:
        self.read_only = read_only
        self.conn: Connection = acquire(url, CLUSTER_SETTINGS if cluster else None)
        try:
            self.schema = schema.Schema(self.conn.target.database, cluster)
            if read_only:
                schema.check(self.conn)
            else:
                schema.migrate(self.conn, self.schema)
        except StoreUnavailable:
            release(self.conn)
            raise
        except Exception as exc:
            release(self.conn)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise StoreUnavailable(f"cannot use ClickHouse at {self.conn.target.shown}: {first}") from exc
        self._admin = Admin(self.conn)
        self._closed = False

    def writer(self, prepare: Prepare, options: WriterOptions, on_commit: OnCommit | None = None) -> SpanWriter:
        """This server's writer (not started): inserts, then refolds from what the database holds."""
        if self.read_only:
            return ReadOnlyWriter()
        return ClickHouseWriter(self.conn, self.schema, prepare, options, on_commit)

    # --- sessions, traces, spans ------------------------------------------------------------------

    def list_sessions(self, project_id: int, query: SessionQuery) -> Page[SessionSummary]:
        return reads.list_sessions(self.conn, project_id, query)

    def get_session(self, project_id: int, session_id: str) -> SessionDetail | None:
        return reads.get_session(self.conn, project_id, session_id)

    def get_sessions(self, project_id: int, session_ids: Sequence[str]) -> list[SessionSummary]:
        return reads.get_sessions(self.conn, project_id, session_ids)

    def trace(self, project_id: int, trace_id: bytes) -> TraceInfo | None:
        return reads.trace(self.conn, project_id, trace_id)

    def trace_spans(self, project_id: int, trace_id: bytes) -> list[SpanRecord]:
        return reads.trace_spans(self.conn, project_id, trace_id)

    def list_orphan_traces(self, project_id: int, limit: int, after: str | None = None) -> Page[OrphanTrace]:
        return reads.list_orphan_traces(self.conn, project_id, limit, after)

    def stats(self, project_id: int) -> Stats:
        return reads.stats(self.conn, project_id)

    def models(self, project_id: int) -> list[str]:
        return reads.models(self.conn, project_id)

    def sessions_going_idle(self, project_id: int, from_ns: int, to_ns: int) -> list[str]:
        return reads.sessions_going_idle(self.conn, project_id, from_ns, to_ns)

    def sessions_quiet_since(self, project_id: int, before_ns: int, limit: int) -> list[str]:
        return reads.sessions_quiet_since(self.conn, project_id, before_ns, limit)

    def orphan_traces_before(self, project_id: int, before_ns: int, limit: int) -> list[bytes]:
        return reads.orphan_traces_before(self.conn, project_id, before_ns, limit)

    # --- users and analytics ----------------------------------------------------------------------

    def list_users(self, project_id: int, query: UserQuery) -> Page[UserSummary]:
        return users.list_users(self.conn, project_id, query)

    def get_user(self, project_id: int, user_id: str) -> UserSummary | None:
        return users.get_user(self.conn, project_id, user_id)

    def session_analytics(self, project_id: int, window: Window, rules: Rules) -> SessionAnalytics:
        return analytics.session_analytics(self.conn, project_id, window, rules)

    def journey_progress(self, project_id: int, window: Window) -> list[JourneyProgress]:
        return analytics.journey_progress(self.conn, project_id, window)

    # --- settings, projects and keys --------------------------------------------------------------

    def idle_timeout_ms(self, project_id: int) -> int | None:
        return self._admin.idle_timeout_ms(project_id)

    def set_idle_timeout_ms(self, project_id: int, value: int) -> None:
        self._writable()
        self._admin.set_idle_timeout_ms(project_id, value)

    def projects(self) -> list[Project]:
        return self._admin.projects()

    def project(self, name: str) -> Project | None:
        return self._admin.project(name)

    def project_by_id(self, project_id: int) -> Project | None:
        return self._admin.project_by_id(project_id)

    def create_project(self, name: str, now_ns: int) -> Project:
        self._writable()
        return self._admin.create_project(name, now_ns)

    def update_project(self, project: Project) -> None:
        self._writable()
        self._admin.update_project(project)

    def add_key(self, key: ApiKey, secret_hash: bytes) -> None:
        self._writable()
        self._admin.add_key(key, secret_hash)

    def api_keys(self, project_id: int | None = None) -> list[ApiKey]:
        return self._admin.api_keys(project_id)

    def key(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        return self._admin.key(key_id)

    def revoke_key(self, key_id: str, now_ns: int) -> bool:
        self._writable()
        return self._admin.revoke_key(key_id, now_ns)

    def touch_key(self, key_id: str, now_ns: int) -> None:
        if not self.read_only:
            self._admin.touch_key(key_id, now_ns)

    def _writable(self) -> None:
        if self.read_only:
            raise RuntimeError("this store was opened read-only")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self.conn)
