"""Projects and API keys in SQLite (the ``Admin`` side of the store)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from threadline.server.store.base import ApiKey, Project

_PROJECT_COLUMNS = (
    "id, name, created_ns, content_policy, content_max_chars, redact_secrets, redact_patterns, retention_days"
)
_KEY_COLUMNS = "id, project_id, name, scope, created_ns, revoked_ns, last_used_ns"


def _project(row: tuple[Any, ...]) -> Project:
    id_, name, created_ns, policy, max_chars, redact, patterns, retention = row
    return Project(id_, name, created_ns, policy, max_chars, bool(redact), tuple(orjson.loads(patterns)), retention)


def projects(conn: sqlite3.Connection) -> list[Project]:
    return [_project(r) for r in conn.execute(f"SELECT {_PROJECT_COLUMNS} FROM projects ORDER BY id")]


def project(conn: sqlite3.Connection, where: str, value: object) -> Project | None:
    row = conn.execute(f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE {where} = ?", (value,)).fetchone()
    return _project(row) if row else None


def create_project(conn: sqlite3.Connection, name: str, now_ns: int) -> Project:
    try:
        cursor = conn.execute("INSERT INTO projects (name, created_ns) VALUES (?, ?)", (name, now_ns))
    except sqlite3.IntegrityError:
        raise ValueError(f"a project named {name!r} exists") from None
    project_id = int(cursor.lastrowid or 0)
    conn.execute("INSERT INTO project_counters (project_id) VALUES (?)", (project_id,))
    found = project(conn, "id", project_id)
    assert found is not None
    return found


def update_project(conn: sqlite3.Connection, changed: Project) -> None:
    conn.execute(
        "UPDATE projects SET content_policy = ?, content_max_chars = ?, redact_secrets = ?, redact_patterns = ?, "
        "retention_days = ? WHERE id = ?",
        (
            changed.content_policy,
            changed.content_max_chars,
            int(changed.redact_secrets),
            orjson.dumps(list(changed.redact_patterns)).decode(),
            changed.retention_days,
            changed.id,
        ),
    )


def add_key(conn: sqlite3.Connection, key: ApiKey, secret_hash: bytes) -> None:
    conn.execute(
        f"INSERT INTO api_keys ({_KEY_COLUMNS}, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (key.id, key.project_id, key.name, key.scope, key.created_ns, key.revoked_ns, key.last_used_ns, secret_hash),
    )


def keys(conn: sqlite3.Connection, project_id: int | None) -> list[ApiKey]:
    where, params = ("WHERE project_id = ?", (project_id,)) if project_id is not None else ("", ())
    rows = conn.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys {where} ORDER BY created_ns, id", params)
    return [ApiKey(*row) for row in rows]


def key(conn: sqlite3.Connection, key_id: str) -> tuple[ApiKey, bytes] | None:
    row = conn.execute(f"SELECT {_KEY_COLUMNS}, secret_hash FROM api_keys WHERE id = ?", (key_id,)).fetchone()
    return (ApiKey(*row[:-1]), bytes(row[-1])) if row else None


def revoke_key(conn: sqlite3.Connection, key_id: str, now_ns: int) -> bool:
    cursor = conn.execute("UPDATE api_keys SET revoked_ns = ? WHERE id = ? AND revoked_ns IS NULL", (now_ns, key_id))
    return cursor.rowcount > 0


def touch_key(conn: sqlite3.Connection, key_id: str, now_ns: int) -> None:
    conn.execute("UPDATE api_keys SET last_used_ns = ? WHERE id = ?", (now_ns, key_id))
