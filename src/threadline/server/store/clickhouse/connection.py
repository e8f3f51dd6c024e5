"""One interface over the two ways to reach ClickHouse: ``http(s)://user:password@host:port/database`` (a
server, through clickhouse-connect) and ``chdb://PATH[?database=NAME][&config-file=FILE]`` (the engine in this
process, through chdb, configured by ``FILE`` when given).

chdb runs one engine per process: every store opened on the same path shares one ``Connection`` (counted,
closed with the last store), and its calls are serialized by a lock. Errors come out as the contract's:
``StoreUnavailable`` when opening fails, ``StoreWriteRefused`` when a write cannot be taken for now.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from threadline.server.ingest.port import StoreWriteRefused
from threadline.server.store.base import StoreUnavailable

REFUSAL_CODES = frozenset(
    {
        3, 74, 75, 76, 159, 160, 164, 202, 203, 209, 210, 225, 236, 241, 242, 243, 252, 279, 285, 286, 319, 394,
        425, 439, 999, 1000,
    }
)  # fmt: skip
"""Server error codes that mean "not now" (memory, disk, too many parts, replicas, timeouts, network): the
write may succeed later. Any other error is a fault in the query and is raised as it is."""
_CODE = re.compile(r"Code: (\d+)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL points: a chdb path, or a server and database."""

    url: str
    chdb_path: str | None
    database: str
    chdb_config: str | None = None
    """A chdb engine's configuration file (ClickHouse's XML or YAML: clusters, macros, limits)."""

    @property
    def shown(self) -> str:
        """The URL without its password (for messages)."""
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", self.url)


def parse(url: str) -> Target:
    if url.startswith("chdb://"):
        path, _, query = url[len("chdb://") :].partition("?")
        if not path:
            raise StoreUnavailable("chdb:// needs a directory: chdb:///var/lib/threadline or chdb://relative/dir")
        options = parse_qs(query)
        database = options.get("database", ["default"])[-1]
        config = options.get("config-file", [None])[-1]
        if set(options) - {"database", "config-file"} or not _NAME.match(database):
            raise StoreUnavailable(
                f"unsupported chdb URL {url!r}: use chdb://PATH, with ?database=NAME and ?config-file=FILE if needed"
            )
        return Target(url, path, database, config)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreUnavailable(
            f"unsupported ClickHouse URL {url!r}: use http(s)://user:password@host:8123/db or chdb://PATH"
        )
    database = unquote(parts.path.strip("/")) or "default"
    if not _NAME.match(database):
        raise StoreUnavailable(f"bad ClickHouse database name {database!r} in the URL")
    return Target(url, None, database)


class Connection:
    """``command``, ``query`` and ``insert`` on one client; shared by every store on the same target."""

    def __init__(self, target: Target, settings: Mapping[str, Any] | None = None) -> None:
        self.target = target
        self.settings = dict(settings or {})
        self._lock: AbstractContextManager[Any] = _engine_lock(target.chdb_path) if target.chdb_path else nullcontext()
        self._users = 0
        self._types: dict[str, dict[str, str]] = {}
        try:
            self._client = self._open()
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"cannot open ClickHouse at {target.shown}: {_first_line(exc)}") from exc

    def _open(self) -> Any:
        import clickhouse_connect

        if self.target.chdb_path is not None:
            config = self.target.chdb_config
            client = clickhouse_connect.get_client(
                interface="chdb",
                path=self.target.chdb_path,
                chdb_options={"config-file": config} if config else None,
            )
            if self.target.database != "default":
                client.command(f"CREATE DATABASE IF NOT EXISTS {self.target.database}")
                client.database = self.target.database
            return client
        parts = urlsplit(self.target.url)
        client = clickhouse_connect.get_client(
            interface=parts.scheme,
            host=parts.hostname,
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            autogenerate_session_id=False,  # queries from many threads at once
        )
        database = self.target.database
        found = client.query(f"SELECT count() FROM system.databases WHERE name = '{database}'").result_rows
        if not found or not found[0][0]:  # created only when missing: a user may lack the right to create
            client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.database = database
        return client

    @property
    def is_chdb(self) -> bool:
        return self.target.chdb_path is not None

    def command(self, sql: str, settings: Mapping[str, Any] | None = None) -> None:
        with self._lock:
            self._client.command(sql, settings=self._with(settings))

    def query(self, sql: str, settings: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            rows: list[tuple[Any, ...]] = self._client.query(sql, settings=self._with(settings)).result_rows
        return rows

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """Insert synchronously: when this returns, the rows are stored and visible to every later query."""
        if not rows:
            return
        with self._lock:
            types = self._column_types(table)
            self._client.insert(
                table,
                rows,
                column_names=list(columns),
                column_type_names=[types[c] for c in columns],
                settings=self._with({"async_insert": 0, **(settings or {})}),
            )

    def _column_types(self, table: str) -> dict[str, str]:
        """A table's column types, asked once (an insert would otherwise ask before each insert)."""
        types = self._types.get(table)
        if types is None:
            rows = self._client.query(f"DESCRIBE TABLE {table}").result_rows
            types = self._types[table] = {row[0]: row[1] for row in rows}
        return types

    def write(self, sql: str, settings: Mapping[str, Any] | None = None) -> None:
        """A statement that changes data (a delete), with refusals mapped to ``StoreWriteRefused``."""
        with refusals(self.target):
            self.command(sql, settings)

    def _with(self, settings: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if not settings and not self.settings:
            return None
        return {**self.settings, **(settings or {})}

    def close(self) -> None:
        with self._lock:
            self._client.close()


class refusals:
    """Maps "cannot write for now" errors to ``StoreWriteRefused`` (nothing else)."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, StoreWriteRefused):
            return
        if is_refusal(exc):
            raise StoreWriteRefused(f"ClickHouse at {self.target.shown}: {_first_line(exc)}") from exc


def is_refusal(exc: BaseException) -> bool:
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, ProgrammingError

    if isinstance(exc, OperationalError | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(exc, DatabaseError | ProgrammingError | RuntimeError):
        match = _CODE.search(str(exc))
        return match is not None and int(match.group(1)) in REFUSAL_CODES
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


_shared: dict[tuple[str, str], Connection] = {}
_shared_lock = threading.Lock()
_engine_locks: dict[str, threading.RLock] = {}


def _engine_lock(path: str) -> threading.RLock:
    """One lock per chdb engine: its clients (one per database) take turns."""
    with _shared_lock:
        return _engine_locks.setdefault(path, threading.RLock())


def acquire(url: str, settings: Mapping[str, Any] | None = None) -> Connection:
    """The connection for ``url``: a new one, or the one already open on the same chdb path and database."""
    target = parse(url)
    if target.chdb_path is None:
        connection = Connection(target, settings)
        connection._users = 1
        return connection
    key = (target.chdb_path, target.database)
    with _shared_lock:
        shared = _shared.get(key)
    if shared is None:
        shared = Connection(target, settings)  # opened outside the lock: opening an engine takes a while
    with _shared_lock:
        kept = _shared.setdefault(key, shared)
        kept._users += 1
    if kept is not shared:  # another thread opened it meanwhile
        shared.close()
    return kept


def release(connection: Connection) -> None:
    """Done with a connection: closed when its last user releases it."""
    with _shared_lock:
        connection._users -= 1
        if connection._users > 0:
            return
        if connection.target.chdb_path is not None:
            _shared.pop((connection.target.chdb_path, connection.target.database), None)
    connection.close()
