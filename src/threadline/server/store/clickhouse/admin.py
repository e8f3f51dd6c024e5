"""Projects, API keys and shared settings in ClickHouse (the ``Admin`` side of the store).

Rows are versioned (``ReplacingMergeTree``) and read ``FINAL``. A key's revocation and its last use live in
tables of their own, so that a use recorded by one server cannot undo a revocation made by another.
"""

from __future__ import annotations

import time
from typing import Any

from threadline.server.store.base import ApiKey, Project
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.sql import literal, storable

_PROJECT_COLUMNS = (
    "id", "name", "created_ns", "content_policy", "content_max_chars", "redact_secrets", "redact_patterns",
    "retention_days",
)  # fmt: skip
_KEY_SELECT = (
    "SELECT k.id, k.project_id, k.name, k.scope, k.created_ns, r.revoked_ns, u.last_used_ns, k.secret_hash "
    "FROM (SELECT * FROM api_keys FINAL) AS k "
    "LEFT JOIN (SELECT id, min(revoked_ns) AS revoked_ns FROM api_key_revocations GROUP BY id) AS r ON r.id = k.id "
    "LEFT JOIN (SELECT id, max(last_used_ns) AS last_used_ns FROM api_key_uses GROUP BY id) AS u ON u.id = k.id"
)
_KEY_SETTINGS = {"join_use_nulls": 1}
TOUCH_INTERVAL_NS = 10 * 10**9
"""A key's use is written at most this often per server (every request uses a key)."""


def _project(row: tuple[Any, ...]) -> Project:
    id_, name, created_ns, policy, max_chars, redact, patterns, retention = row
    return Project(int(id_), name, created_ns, policy, max_chars, bool(redact), tuple(patterns), retention)


class Admin:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._touched: dict[str, int] = {}

    def _projects(self, where: str = "") -> list[Project]:
        rows = self.conn.query(f"SELECT {', '.join(_PROJECT_COLUMNS)} FROM projects FINAL {where} ORDER BY id")
        return [_project(r) for r in rows]

    def projects(self) -> list[Project]:
        return self._projects()

    def project(self, name: str) -> Project | None:
        if not storable(name):
            return None
        found = self._projects(f"WHERE name = {literal(name)}")
        return found[0] if found else None

    def project_by_id(self, project_id: int) -> Project | None:
        found = self._projects(f"WHERE id = {int(project_id)}")
        return found[0] if found else None

    def create_project(self, name: str, now_ns: int) -> Project:
        if self.project(name) is not None:
            raise ValueError(f"a project named {name!r} exists")
        rows = self.conn.query("SELECT max(id) FROM projects")
        project = Project(int(rows[0][0] or 0) + 1, name, now_ns)
        self._write(project, version=1)
        return project

    def update_project(self, project: Project) -> None:
        current = self.project_by_id(project.id)
        if current is None:
            return
        rows = self.conn.query(f"SELECT max(updated) FROM projects WHERE id = {int(project.id)}")
        changed = Project(
            current.id, current.name, current.created_ns, project.content_policy, project.content_max_chars,
            project.redact_secrets, project.redact_patterns, project.retention_days,
        )  # fmt: skip
        self._write(changed, version=int(rows[0][0] or 0) + 1)

    def _write(self, p: Project, version: int) -> None:
        self.conn.insert(
            "projects",
            [
                (
                    p.id,
                    p.name,
                    p.created_ns,
                    p.content_policy,
                    p.content_max_chars,
                    int(p.redact_secrets),
                    list(p.redact_patterns),
                    p.retention_days,
                    version,
                )
            ],
            (*_PROJECT_COLUMNS, "updated"),
        )

    def add_key(self, key: ApiKey, secret_hash: bytes) -> None:
        self.conn.insert(
            "api_keys",
            [(key.id, key.project_id, key.name, key.scope, secret_hash.hex(), key.created_ns)],
            ("id", "project_id", "name", "scope", "secret_hash", "created_ns"),
        )
        if key.revoked_ns is not None:
            self.conn.insert("api_key_revocations", [(key.id, key.revoked_ns)], ("id", "revoked_ns"))
        if key.last_used_ns is not None:
            self.conn.insert("api_key_uses", [(key.id, key.last_used_ns)], ("id", "last_used_ns"))

    def _keys(self, where: str) -> list[tuple[ApiKey, bytes]]:
        rows = self.conn.query(f"{_KEY_SELECT} {where} ORDER BY k.created_ns, k.id", _KEY_SETTINGS)
        found = []
        for row in rows:
            id_, project_id, name, scope, created_ns, revoked_ns, last_used_ns, secret = row
            key = ApiKey(id_, int(project_id), name, scope, created_ns, revoked_ns, last_used_ns)
            found.append((key, bytes.fromhex(secret)))
        return found

    def api_keys(self, project_id: int | None = None) -> list[ApiKey]:
        where = f"WHERE k.project_id = {int(project_id)}" if project_id is not None else ""
        return [key for key, _ in self._keys(where)]

    def key(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        if not storable(key_id):
            return None
        found = self._keys(f"WHERE k.id = {literal(key_id)}")
        return found[0] if found else None

    def revoke_key(self, key_id: str, now_ns: int) -> bool:
        found = self.key(key_id)
        if found is None or found[0].revoked_ns is not None:
            return False
        self.conn.insert("api_key_revocations", [(key_id, now_ns)], ("id", "revoked_ns"))
        return True

    def touch_key(self, key_id: str, now_ns: int) -> None:
        last = self._touched.get(key_id)
        if last is not None and 0 <= now_ns - last < TOUCH_INTERVAL_NS:
            return
        self.conn.insert("api_key_uses", [(key_id, now_ns)], ("id", "last_used_ns"))
        if len(self._touched) > 10_000:
            self._touched.clear()
        self._touched[key_id] = now_ns

    def idle_timeout_ms(self, project_id: int) -> int | None:
        rows = self.conn.query(
            f"SELECT value FROM settings FINAL WHERE project_id = {int(project_id)} AND name = 'idle_timeout_ms'"
        )
        return int(rows[0][0]) if rows else None

    def set_idle_timeout_ms(self, project_id: int, value: int) -> None:
        self.conn.insert(
            "settings",
            [(project_id, "idle_timeout_ms", str(int(value)), time.time_ns())],
            ("project_id", "name", "value", "updated"),
        )
