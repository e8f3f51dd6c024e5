"""The ClickHouse schema: numbered migrations (``migrations/NNNN_name.sql``) applied at open and recorded in
``threadline_migrations``, rendered for one server or for a cluster.

Cluster mode (``cluster="name"``) renders each ``CREATE TABLE`` as a ``Replicated…MergeTree`` table
``<name>_local ON CLUSTER`` plus a ``Distributed`` table ``<name>`` over it, sharded by the statement's
``-- shard key:`` comment; queries and inserts use ``<name>`` either way, deletes the local tables.
Statements are idempotent (``IF NOT EXISTS``): servers opening one database at once may both apply them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from threadline.server.store.base import StoreUnavailable
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.sql import literal
from threadline.server.store.migrations import Migration, shipped

MIGRATIONS_TABLE = "threadline_migrations"
_CREATE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (?P<name>\w+)\s*\((?P<columns>.*)\)\s*ENGINE\s*=\s*(?P<engine>\w+)"
    r"(?:\((?P<args>[^)]*)\))?(?P<rest>.*)$",
    re.DOTALL,
)
_SHARD_KEY = re.compile(r"^--\s*shard key:\s*(?P<key>.+?)\s*$", re.MULTILINE)
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def migrations() -> list[Migration]:
    """Every migration shipped with the package, in order (numbered 1..n)."""
    return shipped("threadline.server.store.clickhouse")


@dataclass(frozen=True, slots=True)
class Schema:
    """How statements name tables on one server (``cluster`` None) or on a cluster."""

    database: str
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.cluster is not None and not _CLUSTER_NAME.match(self.cluster):
            raise StoreUnavailable(f"bad ClickHouse cluster name {self.cluster!r}")

    def deletable(self, table: str) -> str:
        """What ``DELETE FROM`` names: the table, or its local tables on every node of the cluster."""
        return table if self.cluster is None else f"{table}_local ON CLUSTER '{self.cluster}'"

    def render(self, script: str) -> list[str]:
        """A migration's statements as this schema runs them."""
        rendered: list[str] = []
        for statement in statements(script):
            match = _CREATE.match(_without_comments(statement))
            if self.cluster is None or match is None:
                rendered.append(_without_comments(statement))
                continue
            key = _SHARD_KEY.search(statement)
            if key is None:
                raise RuntimeError(f"no '-- shard key:' for table {match['name']}")
            rendered.extend(self._clustered(match, key["key"]))
        return rendered

    def _clustered(self, match: re.Match[str], shard_key: str) -> list[str]:
        name, cluster = match["name"], self.cluster
        path = f"'/clickhouse/tables/{{shard}}/{{database}}/{name}_local', '{{replica}}'"
        args = f"{path}, {match['args']}" if match["args"] else path
        local = (
            f"CREATE TABLE IF NOT EXISTS {name}_local ON CLUSTER '{cluster}' ({match['columns']}) "
            f"ENGINE = Replicated{match['engine']}({args}){match['rest']}"
        )
        distributed = (
            f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER '{cluster}' AS {name}_local "
            f"ENGINE = Distributed('{cluster}', '{self.database}', '{name}_local', {shard_key})"
        )
        return [local, distributed]

    def migrations_table(self) -> list[str]:
        """What runs before the migrations: on a cluster, the database on every node (the connection made it
        on the node it reached only), then the table of applied migrations."""
        database = [] if self.cluster is None else [
            f"CREATE DATABASE IF NOT EXISTS {self.database} ON CLUSTER '{self.cluster}'"
        ]  # fmt: skip
        return database + self.render(
            f"-- shard key: version\nCREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String, "
            "applied_ns Int64) ENGINE = ReplacingMergeTree ORDER BY version;"
        )


def statements(script: str) -> list[str]:
    """The statements of a script (``;`` ends one at the end of a line), comments kept."""
    found, buffer = [], []
    for line in script.splitlines():
        buffer.append(line)
        if line.rstrip().endswith(";") and not line.lstrip().startswith("--"):
            text = "\n".join(buffer).strip().rstrip(";").strip()
            if _without_comments(text):
                found.append(text)
            buffer = []
    if _without_comments("\n".join(buffer)):
        found.append("\n".join(buffer).strip())
    return found


def _without_comments(statement: str) -> str:
    lines = [re.sub(r"\s+--\s.*$", "", line) for line in statement.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(line for line in lines if line.strip()).strip()


def applied(conn: Connection) -> int:
    """The highest migration applied (0: none, or no Threadline schema here)."""
    rows = conn.query(f"SELECT max(version) FROM {MIGRATIONS_TABLE}")
    return int(rows[0][0] or 0) if rows else 0


def migrate(conn: Connection, schema: Schema) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    for statement in schema.migrations_table():
        conn.command(statement)
    current = applied(conn)
    latest = migrations()
    if current > len(latest):
        raise StoreUnavailable(
            f"the ClickHouse database is at schema version {current}, newer than this Threadline ({len(latest)})"
        )
    done = []
    for migration in latest[current:]:
        for statement in schema.render(migration.sql):
            conn.command(statement)
        conn.command(
            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_ns) VALUES "
            f"({migration.version}, {literal(migration.name)}, {time.time_ns()})"
        )
        done.append(migration.name)
    return done


def check(conn: Connection) -> None:
    """For a read-only store: the schema must be there and current."""
    try:
        version = applied(conn)
    except Exception as exc:
        raise StoreUnavailable("no Threadline schema in this ClickHouse database; start a writing server once") from exc
    if version != len(migrations()):
        raise StoreUnavailable(f"the ClickHouse schema is at version {version}; start a writing server once to migrate")
